"""How one liquidation step executes (spec/07-liquidation.md, LIQ-2 and LIQ-4..LIQ-8).

The exit threshold, the ratio-preserving bankruptcy quote and the impact bound that limit a
step's price, the policy that sizes it, the walk of the book, the largest acceptable prefix of
the fills and the fee within the surplus. :mod:`liqspec.engine.liquidation` runs the steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import attrs

from liqspec.base.conventions import Ratio, div_ceil, div_floor, last_true, smax, smin
from liqspec.engine.breakers import get_band
from liqspec.engine.insurance import get_fund_available
from liqspec.engine.records import LiquidationSized
from liqspec.engine.risk import get_risk_volatility
from liqspec.engine.state import (
    AccountState,
    Book,
    Level,
    State,
    close_part,
    get_rules,
    get_unit,
    with_position,
)
from liqspec.model.accounts import Leg, MarginUnit, Position
from liqspec.model.margin import (
    get_equity,
    get_maintenance_margin,
    get_maintenance_requirement,
    get_tier_index,
    get_unrealized_pnl,
)
from liqspec.model.markets import (
    ChunkRounding,
    ContractKind,
    FeeRule,
    LiquidationParams,
    Market,
    Policy,
    TierTarget,
    get_value,
)

__all__ = [
    "Fills",
    "bound_price",
    "consume_book",
    "get_acceptable_prefix",
    "get_bankruptcy_quote",
    "get_chunk",
    "get_closed_account",
    "get_covered_prefix",
    "get_executed_value",
    "get_exit_threshold",
    "get_fee_rates",
    "get_fillable_limit",
    "get_fillable_price",
    "get_first_lots",
    "get_impact_limit",
    "get_implied_fund_rate",
    "get_liquidation_fee",
    "get_liquidator_rate",
    "get_nominal_fee",
    "get_optimal_sizing",
    "get_risk_weight",
    "get_slack",
    "get_step_cost",
    "get_step_risk",
    "get_target_size",
    "is_acceptable",
    "walk_book",
]

Fills = tuple[tuple[int, int], ...]
"""Fills of a step: (price in ticks, lots), best price first."""


# --- the exit threshold and acceptable steps ------------------------------------------------


def get_exit_threshold(unit: MarginUnit) -> int:
    """Return the equity that ends a liquidation: sum of MM x (1 + buffer), rounded up (LIQ-2)."""
    return sum(_get_exit_part(leg) for leg in unit.legs)


def _get_exit_part(leg: Leg) -> int:
    """Return one leg's part of the exit threshold: its MM x (1 + buffer), rounded up (LIQ-2)."""
    maintenance = get_maintenance_margin(leg.market, leg.position, leg.mark)
    return maintenance + leg.market.liquidation.buffer.apply_up(maintenance)


def is_acceptable(before: MarginUnit, after: MarginUnit) -> bool:
    """LIQ-6: equity/MM does not fall: E_after x MM_before >= E_before x MM_after."""
    return get_slack(get_equity(before), get_maintenance_requirement(before), after) >= 0


def get_slack(equity_before: int, maintenance_before: int, after: MarginUnit) -> int:
    """Return LIQ-6's slack E_after x MM_before - E_before x MM_after (>= 0: acceptable).

    The before-unit enters by its equity and maintenance requirement, computed once per step.
    """
    equity_after, maintenance_after = get_equity(after), get_maintenance_requirement(after)
    return equity_after * maintenance_before - equity_before * maintenance_after


def get_closed_account(
    state: State, account: AccountState, index: int, fills: Fills
) -> AccountState:
    """Return the account after closing leg ``index`` through ``fills`` (price, lots)."""
    position = account.positions[index]
    market = state.markets[position.market].market
    realized, left = _close_through(market, position, fills)
    return with_position(account, position.market, left, account.balance + realized)


def _close_through(market: Market, position: Position, fills: Fills) -> tuple[int, Position | None]:
    """Close ``position`` through ``fills`` in order: the realized PnL and what remains."""
    realized = 0
    remaining: Position | None = position  # None once every lot is closed
    for price, size in fills:
        assert remaining is not None  # noqa: S101 - fills never exceed the position
        gained, remaining = close_part(market, remaining, size, price)
        realized += gained
    return realized, remaining


def get_bankruptcy_quote(state: State, account: AccountState, index: int, size: int) -> int | None:
    """Return the worst grid price at which closing ``size`` lots keeps equity/MM (LIQ-6).

    The ratio-preserving bankruptcy quote: for the whole last position it is the bankruptcy
    price. ``None`` when no grid price is acceptable. On a linear contract the slack
    ``E' x MM - E x MM'`` is linear in the fill price (E' moves with d x price x K, MM' does
    not depend on it), so the quote is the rounded root of the line through the two ends. On
    an inverse one the closed value V(q) - V(q - d) need not be monotone: CONV-14's walk.
    """
    position = account.positions[index]
    market = state.markets[position.market].market
    before = get_unit(state, account)
    equity, maintenance = get_equity(before), get_maintenance_requirement(before)

    def slack(price: int) -> int:
        after = get_unit(state, get_closed_account(state, account, index, ((price, size),)))
        return get_slack(equity, maintenance, after)

    def acceptable(price: int) -> bool:
        return slack(price) >= 0

    selling = position.side > 0
    best, worst = (market.max_price, 1) if selling else (1, market.max_price)
    at_best = slack(best)
    if at_best < 0:
        return None
    at_worst = slack(worst)
    if at_worst >= 0:
        return worst
    if market.contract is ContractKind.INVERSE:
        return last_true(acceptable, best, worst)
    root = worst + Fraction(-at_worst * (best - worst), at_best - at_worst)
    return math.ceil(root) if selling else math.floor(root)


def get_impact_limit(market: Market, mark: int, selling: bool) -> int:
    """LIQ-7: the impact bound of the market, within the price domain."""
    price = bound_price(mark, market.liquidation.impact_bound, selling=selling)
    return min(max(price, 1), market.max_price)


def bound_price(mark: int, bound: Ratio, *, selling: bool) -> int:
    """Return ceil(mark x (1 - bound)) for a sell, floor(mark x (1 + bound)) for a buy (LIQ-7).

    Rounded inward, so the limit never lets a fill move price further than the bound.

    >>> five = Ratio.of(1, 20)
    >>> bound_price(1001, five, selling=True), bound_price(1001, five, selling=False)
    (951, 1051)
    """
    if selling:
        return div_ceil(mark * (bound.den - bound.num), bound.den)
    return div_floor(mark * (bound.den + bound.num), bound.den)


# --- how much ----------------------------------------------------------------------------------


def _smallest(holds: Callable[[int], bool], size: int) -> int:
    """Return the least q in 1..size with ``holds(q)``, or ``size`` if there is none."""
    if not holds(size):
        return size
    return last_true(holds, size, 0)  # 0 is never probed: the search stops at 1


def get_target_size(
    state: State,
    account: AccountState,
    index: int,
    impact: int,
    sizing: LiquidationSized | None = None,
) -> int:
    """Return the lots one step aims to close: policy, then floor, cap and dust (LIQ-4, LIQ-5).

    Under ``optimal``, ``sizing`` is the step's decision when the caller already has it.
    """
    position = account.positions[index]
    entry = state.markets[position.market]
    market, params = entry.market, entry.market.liquidation
    size = position.size
    if params.policy is Policy.HEALTH:
        target = _smallest(_get_restores(state, account, index, impact), size)
    elif params.policy is Policy.OPTIMAL:
        target = (sizing or get_optimal_sizing(state, account, index, impact)).chosen
    elif params.policy is Policy.TIER_STEP:
        target = _get_tier_step(market, size, entry.mark, params.tier_target)
    else:
        target = max(1, get_chunk(params.chunk, size, params.chunk_rounding))
    if params.min_step_notional:  # that much, rounded down to a lot, or all (LIQ-5, dYdX)
        floor = _smallest(
            lambda lots: get_value(market, lots + 1, entry.mark) > params.min_step_notional, size
        )
        target = max(target, floor)
    if params.max_step_notional:
        capped = _smallest(
            lambda lots: get_value(market, lots + 1, entry.mark) > params.max_step_notional, size
        )
        target = min(target, capped)
    if get_value(market, size - target, entry.mark) < params.dust_notional:
        target = size
    return target


def _get_tier_step(market: Market, size: int, mark: int, goal: TierTarget) -> int:
    """LIQ-4 ``tier-step``: the fewest lots that bring the notional below a tier's floor.

    ``next``: below the current tier's floor, the whole position in the first tier.
    ``first`` (OKX): into the first tier, the whole position in the first two.
    """
    tier = get_tier_index(market, get_value(market, size, mark))
    if goal is TierTarget.FIRST:
        lowest, partial = 1, tier >= 2  # the tier whose floor to go below; else the whole
    else:
        lowest, partial = tier, tier >= 1
    if not partial:
        return size
    floor = market.tiers[lowest].floor

    def below(lots: int) -> bool:
        return get_value(market, size - lots, mark) < floor

    return _smallest(below, size)


def get_chunk(share: Ratio, size: int, rounding: ChunkRounding) -> int:
    """LIQ-4: ``share`` of ``size`` lots, rounded up or down to a lot as the market says.

    >>> half = Ratio.of(1, 2)
    >>> get_chunk(half, 7, ChunkRounding.UP), get_chunk(half, 7, ChunkRounding.DOWN)
    (4, 3)
    """
    if rounding is ChunkRounding.DOWN:
        return div_floor(size * share.num, share.den)
    return share.apply_up(size)


def _expected_fills(
    book: Book, selling: bool, impact: int, lots: int, band: tuple[int, int] | None
) -> Fills:
    """LIQ-4: the book's fills for ``lots`` within the impact bound, the rest at the bound."""
    fills = walk_book(book, selling, impact, lots, band)
    missing = lots - sum(size for _, size in fills)
    return (*fills, (impact, missing)) if missing else fills


def _get_restores(
    state: State, account: AccountState, index: int, impact: int
) -> Callable[[int], bool]:
    """Return LIQ-4's test of ``lots``: closed at the expected fills, net of the fee, E >= T.

    The other legs' PnL and exit parts do not depend on ``lots``: they are summed once.
    """
    position = account.positions[index]
    entry = state.markets[position.market]
    others = [leg for j, leg in enumerate(get_unit(state, account).legs) if j != index]
    base_equity = account.balance + sum(
        get_unrealized_pnl(leg.market, leg.position, leg.mark) for leg in others
    )
    base_exit = sum(_get_exit_part(leg) for leg in others)
    selling, band = position.side > 0, get_band(entry)
    _, liquidator, fund = get_fee_rates(state, account, index)

    def restores(lots: int) -> bool:
        fills = _expected_fills(entry.book, selling, impact, lots, band)
        realized, left = _close_through(entry.market, position, fills)
        equity, threshold = base_equity + realized, base_exit
        if left is not None:  # the rest of the leg, margined as get_unit would (RISK-6)
            rest = Leg(get_rules(state, account, left), left, entry.mark)
            equity += get_unrealized_pnl(rest.market, left, entry.mark)
            threshold += _get_exit_part(rest)
        value = get_executed_value(entry.market, position.size, fills)
        paid = get_nominal_fee(liquidator, value) + get_nominal_fee(fund, value)
        return equity - paid >= threshold

    return restores


# --- the optimal policy (LIQ-11) ----------------------------------------------------------------


def get_optimal_sizing(
    state: State, account: AccountState, index: int, impact: int
) -> LiquidationSized:
    """LIQ-11: the least-cost target in [health target, q]: impact cost plus price risk.

    The cost of closing ``d`` lots now is the shortfall of their expected fills against the
    mark, plus ``w x V(q - d, mark)^2`` for the lots left exposed until the next step. The
    candidates are the health target, the end of every run of the expected fills from there
    on, and each such run's rounded vertex; the least cost wins, ties the fewest lots.
    """
    position = account.positions[index]
    entry = state.markets[position.market]
    market, size = entry.market, position.size
    minimum = _smallest(_get_restores(state, account, index, impact), size)
    estimate, source = get_risk_volatility(entry, state.time)
    volatility = estimate or 0
    weight = get_risk_weight(market, volatility)
    fills = _expected_fills(entry.book, position.side > 0, impact, size, get_band(entry))
    direction = int(position.side) * (1 if market.contract is ContractKind.LINEAR else -1)

    def impact_cost(lots: int) -> int:
        at_mark = get_executed_value(market, size, ((entry.mark, lots),))
        return direction * (at_mark - get_executed_value(market, size, get_first_lots(fills, lots)))

    def risk(lots: int) -> Fraction:
        return get_step_risk(weight, get_value(market, size - lots, entry.mark))

    per_lot = Fraction(get_value(market, size, entry.mark), size)
    curvature = weight * per_lot * per_lot
    candidates = {minimum}
    start = 0
    for _, lots in fills:
        end = start + lots
        low = max(start, minimum)
        if low <= end:
            candidates.add(end)
            slope = Fraction(impact_cost(end) - impact_cost(start), lots)
            if curvature:
                vertex = size - slope / (2 * curvature)
                candidates |= {
                    d for d in (math.floor(vertex), math.ceil(vertex)) if low <= d <= end
                }
        start = end
    considered = tuple((d, impact_cost(d), risk(d)) for d in sorted(candidates))
    chosen = min(considered, key=lambda c: (get_step_cost(c[1], c[2]), c[0]))[0]
    return LiquidationSized(
        account.id, market.symbol, volatility, source, market.liquidation.cooldown, minimum,
        considered, chosen,
    )  # fmt: skip


def get_risk_weight(market: Market, volatility: int) -> Fraction:
    """LIQ-11: w = risk_aversion x settle_quantum x (volatility / 10^6)^2 x cooldown.

    Per squared quantum of value left exposed, so that the risk term is in quantums.
    """
    params = market.liquidation
    aversion = Fraction(params.risk_aversion.num, params.risk_aversion.den)
    quantum = Fraction(market.settle_quantum.num, market.settle_quantum.den)
    return aversion * quantum * Fraction(volatility, 10**6) ** 2 * params.cooldown


def get_step_risk(weight: Fraction, exposed: int) -> Fraction:
    """LIQ-11: the price risk of ``exposed`` quantums of value held for one horizon.

    >>> get_step_risk(Fraction(1, 1000), 200)
    Fraction(40, 1)
    """
    return weight * exposed * exposed


def get_step_cost(impact: int, risk: Fraction) -> Fraction:
    """LIQ-11: the expected cost of a target: its impact cost plus the risk left.

    >>> get_step_cost(-3, Fraction(7, 2))
    Fraction(1, 2)
    """
    return impact + risk


# --- the book -----------------------------------------------------------------------------------


def walk_book(
    book: Book, selling: bool, limit: int, target: int, band: tuple[int, int] | None
) -> Fills:
    """LIQ-7: take levels best first while within ``limit``, up to ``target`` lots.

    Levels outside the price band, on either side, are passed over (BRK-2).
    """
    fills, remaining = [], target
    for level in book.bids if selling else book.asks:
        if remaining == 0 or (level.price < limit if selling else level.price > limit):
            break
        if band is not None and not band[0] <= level.price <= band[1]:
            continue
        take = min(level.size, remaining)
        fills.append((level.price, take))
        remaining -= take
    return tuple(fills)


def get_first_lots(fills: Fills, lots: int) -> Fills:
    """Return the first ``lots`` lots of ``fills``, in order."""
    taken, left = [], lots
    for price, size in fills:
        if left == 0:
            break
        taken.append((price, min(size, left)))
        left -= min(size, left)
    return tuple(taken)


def consume_book(book: Book, selling: bool, fills: Fills) -> Book:
    """Remove the filled lots from the book (STATE-2)."""
    taken = dict(fills)
    levels = []
    for level in book.bids if selling else book.asks:
        left = level.size - taken.get(level.price, 0)
        if left > 0:
            levels.append(Level(level.price, left))
    return attrs.evolve(book, **{"bids" if selling else "asks": tuple(levels)})


def get_executed_value(market: Market, size: int, fills: Fills) -> int:
    """Return the value of the lots that ``fills`` close from a position of ``size`` (LIQ-8)."""
    value, held = 0, size
    for price, lots in fills:
        value += get_value(market, held, price) - get_value(market, held - lots, price)
        held -= lots
    return value


def get_acceptable_prefix(state: State, account: AccountState, index: int, fills: Fills) -> Fills:
    """LIQ-6: keep the largest prefix of ``fills`` that keeps equity/MM; exact check."""
    before = get_unit(state, account)

    def acceptable(lots: int) -> bool:
        closed = get_closed_account(state, account, index, get_first_lots(fills, lots))
        return is_acceptable(before, get_unit(state, closed))

    total = sum(size for _, size in fills)
    if total == 0 or acceptable(total):
        return fills
    return get_first_lots(fills, last_true(acceptable, 0, total))  # (): no lot acceptable


def get_fillable_price(state: State, account: AccountState, index: int) -> Fraction:
    """LIQ-13: dYdX's fillable price of leg ``index``, exact, in ticks (a linear market).

    The mark moved against the leg by ABR x SMMR x the leg's MM over its size, where
    ABR = BA x (1 - E / MM) of the unit, clamped to [0, 1].
    """
    unit = get_unit(state, account)
    leg = unit.legs[index]
    params = state.markets[leg.market.symbol].market.liquidation
    equity, maintenance = get_equity(unit), get_maintenance_requirement(unit)
    ratio = Fraction(equity, maintenance) if maintenance else Fraction(1)
    adjustment = _fraction(params.bankruptcy_adjustment) * (1 - ratio)
    adjustment = min(Fraction(1), max(Fraction(0), adjustment))
    spread = adjustment * _fraction(params.spread_to_maintenance)
    spread *= get_maintenance_margin(leg.market, leg.position, leg.mark)
    per_tick = leg.position.size * leg.market.value_factor  # quantums per tick of the leg
    return leg.mark - leg.position.side * spread / per_tick


def get_fillable_limit(state: State, account: AccountState, index: int) -> int:
    """LIQ-13: the fillable price on the grid: up for a sell, down for a buy, in the domain."""
    exact = get_fillable_price(state, account, index)
    selling = account.positions[index].side > 0
    ticks = math.ceil(exact) if selling else math.floor(exact)
    max_price = state.markets[account.positions[index].market].market.max_price
    return min(max_price, max(1, ticks))


def get_covered_prefix(state: State, account: AccountState, index: int, fills: Fills) -> Fills:
    """LIQ-13: keep the largest prefix of ``fills`` whose shortfall the fund can cover.

    The shortfall is ``max(0, -surplus)`` (LIQ-8): what the fills left below the bankruptcy
    quote; the fund covers up to its balance, above its drawdown floor, and the cap (INS-2, INS-8).
    """
    before = get_unit(state, account)
    equity, maintenance = get_equity(before), get_maintenance_requirement(before)
    market = state.markets[account.positions[index].market].market
    available, _ = get_fund_available(state, market)

    def covered(lots: int) -> bool:
        closed = get_closed_account(state, account, index, get_first_lots(fills, lots))
        after = get_unit(state, closed)
        surplus = get_equity(after) - div_ceil(
            equity * get_maintenance_requirement(after), maintenance
        )
        return surplus + available >= 0

    total = sum(size for _, size in fills)
    if total == 0 or covered(total):
        return fills
    return get_first_lots(fills, last_true(covered, 0, total))


IMPLIED_FUND_SHARE = Fraction(19, 20)
"""LIQ-12: the part of the implied room an ``implied`` fund rate takes (Drift's 95%)."""


def get_liquidator_rate(params: LiquidationParams, elapsed: int) -> Fraction:
    """LIQ-12: the liquidator's fee rate after ``elapsed`` clock units in liquidation.

    The base rate until the grace ends; from then the base plus the step per unit of the
    whole time elapsed, at most the maximum (Drift's ramp).

    >>> params = LiquidationParams(liquidator_fee=Ratio(1, 50), liquidator_fee_step=Ratio(
    ...     1, 10**6), liquidator_fee_grace=1500, liquidator_fee_max=Ratio(1, 20))
    >>> [str(get_liquidator_rate(params, t)) for t in (10, 1499, 1500, 10_000, 100_000)]
    ['1/50', '1/50', '43/2000', '3/100', '1/20']
    """
    base, step = _fraction(params.liquidator_fee), _fraction(params.liquidator_fee_step)
    if step == 0 or elapsed < params.liquidator_fee_grace:
        return base
    return min(base + step * elapsed, _fraction(params.liquidator_fee_max))


def get_implied_fund_rate(
    fee: Fraction, liquidator: Fraction, maintenance_rate: Fraction, shortage: int, notional: int
) -> Fraction:
    """LIQ-12: the fund's rate implied by the room the liquidator's rate and shortage leave.

    19/20 of the maintenance rate less the liquidator's rate and the shortage per unit of
    notional, never negative and at most ``fee`` (Drift's implied insurance-fund fee).

    >>> one, five = Fraction(1, 100), Fraction(5, 100)
    >>> [str(get_implied_fund_rate(five, one, five, s, 1000)) for s in (20, 1, 1000)]
    ['19/1000', '741/20000', '0']
    """
    room = maintenance_rate - liquidator - Fraction(shortage, notional)
    return min(fee, max(Fraction(0), room) * IMPLIED_FUND_SHARE)


def get_fee_rates(
    state: State, account: AccountState, index: int
) -> tuple[int, Fraction, Fraction]:
    """LIQ-12: the time in liquidation, the liquidator's rate and the fund's rate of a step."""
    params = state.markets[account.positions[index].market].market.liquidation
    elapsed = state.time - account.liquidation_start
    liquidator = get_liquidator_rate(params, elapsed)
    fund = _fraction(params.fee)
    if params.fee_rule is FeeRule.IMPLIED:
        unit = get_unit(state, account)
        leg = unit.legs[index]
        notional = get_value(leg.market, leg.position.size, leg.mark)
        rate = Fraction(get_maintenance_margin(leg.market, leg.position, leg.mark), notional)
        shortage = max(0, get_maintenance_requirement(unit) - get_equity(unit))
        fund = get_implied_fund_rate(fund, liquidator, rate, shortage, notional)
    return elapsed, liquidator, fund


def get_nominal_fee(rate: Fraction, value: int) -> int:
    """LIQ-8: ``rate`` of an executed value, rounded up to the quantum.

    >>> get_nominal_fee(Fraction(19, 1000), 1001)
    20
    """
    return div_ceil(value * rate.numerator, rate.denominator)


def _fraction(rate: Ratio) -> Fraction:
    return Fraction(rate.num, rate.den)


def get_liquidation_fee(nominal: int, surplus: int) -> int:
    """LIQ-8: the nominal fee, but never more than the surplus and never negative (INV-FEE).

    pre: nominal >= 0
    post: 0 <= __return__ <= nominal
    post: surplus < 0 or __return__ <= surplus

    >>> get_liquidation_fee(10, 4), get_liquidation_fee(10, -3), get_liquidation_fee(2, 4)
    (4, 0, 2)
    """
    return smax(0, smin(nominal, surplus))
