"""The liquidation procedure (spec/07-liquidation.md).

After every applied event: queue the accounts in liquidation (most underwater first), and give
each one step: choose a position, size the step by the market's policy, bound the price by the
ratio-preserving bankruptcy quote and the impact bound, execute against the book, charge the
fee within the surplus; when nothing fills, the insurance fund takes the position over at the
bankruptcy quote, and deficits go to the fund, then ADL or socialization (spec/08-insurance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import attrs

from liqspec.base.conventions import Ratio, div_ceil, div_floor, last_true, smax, smin
from liqspec.engine.breakers import get_band, get_blocking
from liqspec.engine.insurance import settle_deficit
from liqspec.engine.records import (
    BadDebt,
    FundChange,
    LiquidationEnded,
    LiquidationStarted,
    LiquidationStep,
    LiquidationWaiting,
    Record,
    Takeover,
)
from liqspec.engine.state import (
    AccountState,
    Book,
    Level,
    State,
    close_part,
    get_unit,
    with_account,
    with_market,
    with_position,
)
from liqspec.model.accounts import MarginUnit, Position
from liqspec.model.margin import (
    get_equity,
    get_maintenance_margin,
    get_maintenance_requirement,
    get_tier_index,
    is_below_maintenance,
)
from liqspec.model.markets import (
    ContractKind,
    HaltAction,
    Market,
    OnUnfilled,
    Policy,
    Trigger,
    get_value,
)

__all__ = [
    "get_bankruptcy_quote",
    "get_exit_threshold",
    "get_impact_limit",
    "get_liquidation_fee",
    "get_liquidation_queue",
    "get_target_size",
    "is_acceptable",
    "is_in_liquidation",
    "process_liquidation_step",
    "process_liquidations",
]

Fills = tuple[tuple[int, int], ...]


# --- who, and in which order ---------------------------------------------------------------------


def get_exit_threshold(unit: MarginUnit) -> int:
    """Return the equity that ends a liquidation: sum of MM x (1 + buffer), rounded up (LIQ-2)."""
    total = 0
    for leg in unit.legs:
        maintenance = get_maintenance_margin(leg.market, leg.position, leg.mark)
        total += maintenance + leg.market.liquidation.buffer.apply_up(maintenance)
    return total


def is_in_liquidation(unit: MarginUnit, account: AccountState) -> bool:
    """Return whether the account gets a step: trigger, or below the exit threshold (LIQ-1, 2)."""
    return _in_liquidation(unit, account, get_equity(unit), get_maintenance_requirement(unit))


def _in_liquidation(unit: MarginUnit, account: AccountState, equity: int, maintenance: int) -> bool:
    if not unit.legs:
        return False
    strict = unit.trigger is Trigger.STRICT
    if is_below_maintenance(equity, maintenance, strict=strict):
        return True
    return account.liquidating and equity < get_exit_threshold(unit)


def get_liquidation_queue(state: State) -> list[str]:
    """Return the accounts in liquidation, lowest equity/MM first, ties by id (LIQ-3)."""
    queue = []
    for account in state.accounts.values():
        if not account.positions:
            continue
        unit = get_unit(state, account)
        equity, maintenance = get_equity(unit), get_maintenance_requirement(unit)
        if _in_liquidation(unit, account, equity, maintenance):
            queue.append((Fraction(equity, maintenance), account.id))
    return [account_id for _, account_id in sorted(queue)]


def process_liquidations(state: State) -> tuple[State, tuple[Record, ...]]:
    """Give every queued account one step, in queue order (LIQ-3)."""
    records: list[Record] = []
    for account_id in get_liquidation_queue(state):
        state, step = process_liquidation_step(state, account_id)
        records.extend(step)
    return state, tuple(records)


def _choose_leg(unit: MarginUnit) -> int:
    """LIQ-4: the leg with the largest maintenance margin, ties by market symbol."""
    keyed = [
        (-get_maintenance_margin(leg.market, leg.position, leg.mark), leg.market.symbol, i)
        for i, leg in enumerate(unit.legs)
    ]
    return min(keyed)[2]


# --- prices ------------------------------------------------------------------------------------


def is_acceptable(before: MarginUnit, after: MarginUnit) -> bool:
    """LIQ-6: equity/MM does not fall: E_after x MM_before >= E_before x MM_after."""
    equity_before, maintenance_before = get_equity(before), get_maintenance_requirement(before)
    equity_after, maintenance_after = get_equity(after), get_maintenance_requirement(after)
    return equity_after * maintenance_before >= equity_before * maintenance_after


def _closing(state: State, account: AccountState, index: int, fills: Fills) -> AccountState:
    """Return the account after closing leg ``index`` through ``fills`` (price, lots)."""
    position = account.positions[index]
    market = state.markets[position.market].market
    balance = account.balance
    left: Position | None = position
    for price, size in fills:
        assert left is not None  # noqa: S101 - fills never exceed the position
        realized, left = close_part(market, left, size, price)
        balance += realized
    return with_position(account, position.market, left, balance)


def get_bankruptcy_quote(state: State, account: AccountState, index: int, size: int) -> int | None:
    """Return the worst grid price at which closing ``size`` lots keeps equity/MM (LIQ-6).

    The ratio-preserving bankruptcy quote: for the whole last position it is the bankruptcy
    price. ``None`` when no grid price is acceptable.
    """
    position = account.positions[index]
    market = state.markets[position.market].market
    before = get_unit(state, account)
    selling = position.side > 0

    def acceptable(price: int) -> bool:
        after = get_unit(state, _closing(state, account, index, ((price, size),)))
        return is_acceptable(before, after)

    best, worst = (market.max_price, 1) if selling else (1, market.max_price)
    if not acceptable(best):
        return None
    if acceptable(worst):
        return worst
    return last_true(acceptable, best, worst)


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
    return last_true(lambda lots: lots > 0 and holds(lots), size, 0)


def get_target_size(state: State, account: AccountState, index: int, impact: int) -> int:
    """Return the lots one step aims to close, policy first, then cap and dust (LIQ-4, LIQ-5)."""
    position = account.positions[index]
    entry = state.markets[position.market]
    market, params = entry.market, entry.market.liquidation
    size = position.size
    if params.policy is Policy.HEALTH:
        target = _smallest(lambda lots: _restores(state, account, index, impact, lots), size)
    elif params.policy is Policy.TIER_STEP:
        tier = get_tier_index(market, get_value(market, size, entry.mark))
        floor = market.tiers[tier].floor

        def below_tier(lots: int) -> bool:
            return get_value(market, size - lots, entry.mark) < floor

        target = _smallest(below_tier, size) if tier else size
    else:
        target = max(1, params.chunk.apply_up(size))
    if params.max_step_notional:
        capped = _smallest(
            lambda lots: get_value(market, lots + 1, entry.mark) > params.max_step_notional, size
        )
        target = min(target, capped)
    if get_value(market, size - target, entry.mark) < params.dust_notional:
        target = size
    return target


def _expected_fills(
    book: Book, selling: bool, impact: int, lots: int, band: tuple[int, int] | None
) -> Fills:
    """LIQ-4: the book's fills for ``lots`` within the impact bound, the rest at the bound."""
    fills = _walk(book, selling, impact, lots, band)
    missing = lots - sum(size for _, size in fills)
    return (*fills, (impact, missing)) if missing else fills


def _restores(state: State, account: AccountState, index: int, impact: int, lots: int) -> bool:
    """LIQ-4: closing ``lots`` at the expected fills, after the fee, reaches the exit threshold."""
    position = account.positions[index]
    entry = state.markets[position.market]
    fills = _expected_fills(entry.book, position.side > 0, impact, lots, get_band(entry))
    after = get_unit(state, _closing(state, account, index, fills))
    fee = entry.market.liquidation.fee.apply_up(_executed_value(entry.market, position.size, fills))
    return get_equity(after) - fee >= get_exit_threshold(after)


# --- one step ----------------------------------------------------------------------------------


def _walk(
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


def _first_lots(fills: Fills, lots: int) -> Fills:
    taken, left = [], lots
    for price, size in fills:
        if left == 0:
            break
        taken.append((price, min(size, left)))
        left -= min(size, left)
    return tuple(taken)


def _consume(book: Book, selling: bool, fills: Fills) -> Book:
    """Remove the filled lots from the book (STATE-2)."""
    taken = dict(fills)
    levels = []
    for level in book.bids if selling else book.asks:
        left = level.size - taken.get(level.price, 0)
        if left > 0:
            levels.append(Level(level.price, left))
    return attrs.evolve(book, **{"bids" if selling else "asks": tuple(levels)})


def _executed_value(market: Market, size: int, fills: Fills) -> int:
    value, held = 0, size
    for price, lots in fills:
        value += get_value(market, held, price) - get_value(market, held - lots, price)
        held -= lots
    return value


def process_liquidation_step(state: State, account_id: str) -> tuple[State, tuple[Record, ...]]:
    """One step for one account (LIQ-1..LIQ-9)."""
    account = state.accounts[account_id]
    unit = get_unit(state, account)
    if not is_in_liquidation(unit, account):
        return state, ()
    records: list[Record] = []
    if not account.liquidating:
        records.append(_started(unit))
        account = attrs.evolve(account, liquidating=True)
        state = with_account(state, account)
    index = _choose_leg(unit)
    position = account.positions[index]
    entry = state.markets[position.market]
    market, params = entry.market, entry.market.liquidation
    if params.policy is Policy.CHUNK and state.time < account.cooldown_until:
        records.append(LiquidationWaiting(account.id, market.symbol, "cooldown"))
        return state, tuple(records)
    blocked = get_blocking(entry, state.time)
    action = market.breakers.while_halted
    if blocked and action is HaltAction.PAUSE:
        records.append(LiquidationWaiting(account.id, market.symbol, blocked))
        return state, tuple(records)
    selling = position.side > 0
    impact, bound = get_impact_limit(market, entry.mark, selling), "impact-bound"
    band = get_band(entry)  # BRK-2: no liquidation fill outside the band
    if band is not None and (band[0] > impact if selling else band[1] < impact):
        impact, bound = (band[0] if selling else band[1]), "price-band"
    target = get_target_size(state, account, index, impact)
    quote = get_bankruptcy_quote(state, account, index, target)
    fills: Fills = ()
    limit, reason = impact, bound
    if quote is not None and not (blocked and action is HaltAction.TAKEOVER_ONLY):
        if (quote > impact) if selling else (quote < impact):
            limit, reason = quote, "bankruptcy-quote"
        walked = _walk(entry.book, selling, limit, target, band)
        fills = _acceptable_prefix(state, account, index, walked)
    if fills:
        limits = (quote, impact, limit, reason)
        state, step = _execute(
            state, account, index=index, fills=fills, target=target, limits=limits
        )
        records.extend(step)
    elif (
        get_equity(unit) < 0
        or params.on_unfilled is OnUnfilled.TAKEOVER
        or (blocked and action is HaltAction.TAKEOVER_ONLY)
    ):
        state, step = _take_over(state, account, index)
        records.extend(step)
    else:
        records.append(LiquidationWaiting(account.id, market.symbol, "no-liquidity"))
    state, ended = _finish(state, account_id)
    return state, (*records, *ended)


def _started(unit: MarginUnit) -> LiquidationStarted:
    marks = tuple((leg.market.symbol, leg.mark) for leg in unit.legs)
    return LiquidationStarted(
        unit.name, get_equity(unit), get_maintenance_requirement(unit), unit.trigger.value, marks
    )


def _acceptable_prefix(state: State, account: AccountState, index: int, fills: Fills) -> Fills:
    """LIQ-6: keep the largest prefix of ``fills`` that keeps equity/MM; exact check."""
    before = get_unit(state, account)

    def acceptable(lots: int) -> bool:
        closed = _closing(state, account, index, _first_lots(fills, lots))
        return is_acceptable(before, get_unit(state, closed))

    total = sum(size for _, size in fills)
    if total == 0 or acceptable(total):
        return fills
    kept = last_true(acceptable, 0, total)
    return _first_lots(fills, kept) if kept and acceptable(kept) else ()


def _execute(
    state: State,
    account: AccountState,
    *,
    index: int,
    fills: Fills,
    target: int,
    limits: tuple[int | None, int, int, str],
) -> tuple[State, tuple[Record, ...]]:
    """Apply book fills, charge the fee within the surplus, consume the book (LIQ-7, LIQ-8)."""
    quote, impact, limit, reason = limits
    position = account.positions[index]
    entry = state.markets[position.market]
    market, params = entry.market, entry.market.liquidation
    before = get_unit(state, account)
    closed = _closing(state, account, index, fills)
    after = get_unit(state, closed)
    equity_before, maintenance_before = get_equity(before), get_maintenance_requirement(before)
    equity_after, maintenance_after = get_equity(after), get_maintenance_requirement(after)
    surplus = equity_after - div_ceil(equity_before * maintenance_after, maintenance_before)
    nominal = params.fee.apply_up(_executed_value(market, position.size, fills))
    fee = get_liquidation_fee(nominal, surplus)
    closed = attrs.evolve(closed, balance=closed.balance - fee)
    if params.policy is Policy.CHUNK:
        closed = attrs.evolve(closed, cooldown_until=state.time + params.cooldown)
    state = with_account(state, closed)
    selling = position.side > 0
    state = with_market(state, attrs.evolve(entry, book=_consume(entry.book, selling, fills)))
    records: list[Record] = [
        LiquidationStep(
            account=account.id, market=market.symbol, policy=params.policy.value,
            side="sell" if selling else "buy", position_before=int(position.side) * position.size,
            target=target, bankruptcy_limit=quote,
            impact_limit=impact, limit_price=limit, limit_reason=reason, levels=fills,
            executed=sum(size for _, size in fills), fee=fee, surplus=surplus,
            equity_before=equity_before, maintenance_before=maintenance_before,
            equity_after=equity_after - fee, maintenance_after=maintenance_after,
        )
    ]  # fmt: skip
    if fee:
        state, change = _credit_fund(state, market.fund, fee, "liquidation-fee")
        records.append(change)
    return state, tuple(records)


def get_liquidation_fee(nominal: int, surplus: int) -> int:
    """LIQ-8: the nominal fee, but never more than the surplus and never negative (INV-FEE).

    pre: nominal >= 0
    post: 0 <= __return__ <= nominal
    post: surplus < 0 or __return__ <= surplus

    >>> get_liquidation_fee(10, 4), get_liquidation_fee(10, -3), get_liquidation_fee(2, 4)
    (4, 0, 2)
    """
    return smax(0, smin(nominal, surplus))


def _credit_fund(state: State, fund: str, amount: int, cause: str) -> tuple[State, FundChange]:
    balance = state.funds.get(fund, 0) + amount
    state = attrs.evolve(state, funds={**state.funds, fund: balance})
    return state, FundChange(fund, amount, balance, cause)


def _take_over(state: State, account: AccountState, index: int) -> tuple[State, tuple[Record, ...]]:
    """LIQ-9: the fund takes the whole position at its bankruptcy quote (the mark if none).

    The fund's result at the mark is its gain; a loss, and any negative balance left on an
    account with no position, is one deficit settled once (INS-1..INS-6).
    """
    position = account.positions[index]
    entry = state.markets[position.market]
    market = entry.market
    quote = get_bankruptcy_quote(state, account, index, position.size)
    price = entry.mark if quote is None else quote
    closed = _closing(state, account, index, ((price, position.size),))
    direction = int(position.side) * (1 if market.contract is ContractKind.LINEAR else -1)
    at_mark = get_value(market, position.size, entry.mark)
    gain = direction * (at_mark - get_value(market, position.size, price))
    before, after = get_unit(state, account), get_unit(state, closed)
    records: list[Record] = [
        Takeover(
            account.id, market.symbol, position.size, price, entry.mark, market.fund, gain,
            equity_before=get_equity(before), equity_after=get_equity(after),
            maintenance_before=get_maintenance_requirement(before),
            maintenance_after=get_maintenance_requirement(after),
        )
    ]  # fmt: skip
    state = with_account(state, closed)
    if gain > 0:
        state, change = _credit_fund(state, market.fund, gain, "takeover")
        records.append(change)
    subsidy = max(0, -gain)
    residual = -closed.balance if not closed.positions and closed.balance < 0 else 0
    if subsidy + residual:
        state, covered, settled = settle_deficit(
            state, market, position, subsidy + residual, account.id
        )
        records.extend(settled)
        owner = state.accounts[account.id]
        owner = attrs.evolve(owner, balance=owner.balance + covered - subsidy)
        state = with_account(state, owner)
        if not owner.positions and owner.balance < 0:
            records.append(BadDebt(account.id, -owner.balance))
    return state, tuple(records)


def _finish(state: State, account_id: str) -> tuple[State, tuple[Record, ...]]:
    """LIQ-2: a step that brings equity to the exit threshold (or closes all) ends it."""
    account = state.accounts[account_id]
    unit = get_unit(state, account)
    if is_in_liquidation(unit, account):
        return state, ()
    ended = LiquidationEnded(
        account_id, get_equity(unit), get_maintenance_requirement(unit), get_exit_threshold(unit)
    )
    return with_account(state, attrs.evolve(account, liquidating=False)), (ended,)
