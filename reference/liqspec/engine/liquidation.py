"""The liquidation procedure (spec/07-liquidation.md): who is liquidated, in which order, how.

After every applied event: queue the accounts in liquidation (most underwater first), and give
each one step: choose a position, size the step by the market's policy, bound the price by the
ratio-preserving bankruptcy quote and the impact bound, execute against the book, charge the
fee within the surplus; when nothing fills, the insurance fund takes the position over at the
bankruptcy quote, and deficits go to the fund, then ADL or socialization (spec/08-insurance.md).
"""

from __future__ import annotations

import attrs

from liqspec.base.conventions import div_ceil
from liqspec.engine.breakers import get_band, get_blocking
from liqspec.engine.execution import (
    Fills,
    consume_book,
    get_acceptable_prefix,
    get_bankruptcy_quote,
    get_closed_account,
    get_covered_prefix,
    get_executed_value,
    get_exit_threshold,
    get_fee_rates,
    get_fillable_limit,
    get_impact_limit,
    get_liquidation_fee,
    get_nominal_fee,
    get_optimal_sizing,
    get_target_size,
    walk_book,
)
from liqspec.engine.insurance import set_fund, settle_deficit
from liqspec.engine.queue import (
    get_indexed_queue,
    get_liquidation_queue,
    get_watched,
    is_in_liquidation,
)
from liqspec.engine.records import (
    BadDebt,
    FundChange,
    LiquidationEnded,
    LiquidationFees,
    LiquidationStarted,
    LiquidationStep,
    LiquidationWaiting,
    Record,
    Takeover,
)
from liqspec.engine.state import (
    AccountState,
    State,
    get_unit,
    with_account,
    with_market,
)
from liqspec.model.accounts import MarginUnit
from liqspec.model.margin import (
    get_equity,
    get_maintenance_margin,
    get_maintenance_requirement,
)
from liqspec.model.markets import (
    ContractKind,
    FeeRule,
    HaltAction,
    LimitRule,
    OnUnfilled,
    Policy,
    get_value,
)

__all__ = [
    "get_liquidation_queue",
    "is_in_liquidation",
    "process_liquidation_step",
    "process_liquidations",
]


# --- who, and in which order ---------------------------------------------------------------------


def process_liquidations(state: State) -> tuple[State, tuple[Record, ...]]:
    """Give every queued account one step, in queue order (LIQ-3); then end it (LIQ-2).

    After the queue, every account still flagged but no longer in liquidation (left without a
    position, or at the exit threshold by the marks or by another account's action) ends its
    liquidation, in id order (LIQ-2, LIQ-10).
    """
    records: list[Record] = []
    queue, state = get_indexed_queue(state)
    for account_id in queue:
        state, step = process_liquidation_step(state, account_id)
        records.extend(step)
    for account_id in sorted(get_watched(state)):  # every flagged account is watched
        if state.accounts[account_id].liquidating:
            state, ended = _finish(state, account_id)
            records.extend(ended)
    return state, tuple(records)


_PACED = (Policy.CHUNK, Policy.OPTIMAL)
"""Policies whose steps wait out the cooldown (LIQ-4, LIQ-11)."""


def _choose_leg(unit: MarginUnit) -> int:
    """LIQ-4: the leg with the largest maintenance margin, ties by market symbol."""
    keyed = [
        (-get_maintenance_margin(leg.market, leg.position, leg.mark), leg.market.symbol, i)
        for i, leg in enumerate(unit.legs)
    ]
    return min(keyed)[2]


# --- one step ----------------------------------------------------------------------------------


def process_liquidation_step(state: State, account_id: str) -> tuple[State, tuple[Record, ...]]:
    """One step for one account (LIQ-1..LIQ-9, in the order of LIQ-10)."""
    account = state.accounts[account_id]
    unit = get_unit(state, account)
    if not is_in_liquidation(unit, account):
        return state, ()
    records: list[Record] = []
    if not account.liquidating:
        records.append(_started(unit))
        account = attrs.evolve(account, liquidating=True, liquidation_start=state.time)
        state = with_account(state, account)
    index = _choose_leg(unit)
    position = account.positions[index]
    entry = state.markets[position.market]
    market, params = entry.market, entry.market.liquidation
    if params.policy in _PACED and state.time < account.cooldown_until:
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
    sizing = None
    if params.policy is Policy.OPTIMAL:
        sizing = get_optimal_sizing(state, account, index, impact)
        records.append(sizing)
    target = get_target_size(state, account, index, impact, sizing)
    quote = get_bankruptcy_quote(state, account, index, target)
    fills: Fills = ()
    limit, reason = impact, bound
    if not (blocked and action is HaltAction.TAKEOVER_ONLY):
        limit, reason, fills = _fill(state, account, index, (impact, bound, quote), target)
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


def _fill(
    state: State,
    account: AccountState,
    index: int,
    bounds: tuple[int, str, int | None],
    target: int,
) -> tuple[int, str, Fills]:
    """LIQ-6, LIQ-7, LIQ-13: the step's limit, why, and the fills it takes from the book.

    ``bounds`` is the impact limit (already the band's edge when tighter), its reason and the
    bankruptcy quote. Under the bankruptcy rule the quote is a limit and the fills keep E/MM;
    under the fillable rule the fillable price is, and the fund covers what falls below.
    """
    impact, reason, quote = bounds
    entry = state.markets[account.positions[index].market]
    selling = account.positions[index].side > 0
    band = get_band(entry)
    fillable = entry.market.liquidation.limit_rule is LimitRule.FILLABLE
    own = get_fillable_limit(state, account, index) if fillable else quote
    if own is None:
        return impact, reason, ()
    limit = impact
    if (own > impact) if selling else (own < impact):
        limit, reason = own, "fillable-price" if fillable else "bankruptcy-quote"
    walked = walk_book(entry.book, selling, limit, target, band)
    choose = get_covered_prefix if fillable else get_acceptable_prefix
    return limit, reason, choose(state, account, index, walked)


def _started(unit: MarginUnit) -> LiquidationStarted:
    marks = tuple((leg.market.symbol, leg.mark) for leg in unit.legs)
    return LiquidationStarted(
        unit.name, get_equity(unit), get_maintenance_requirement(unit), unit.trigger.value, marks
    )


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
    closed = get_closed_account(state, account, index, fills)
    after = get_unit(state, closed)
    equity_before, maintenance_before = get_equity(before), get_maintenance_requirement(before)
    equity_after, maintenance_after = get_equity(after), get_maintenance_requirement(after)
    surplus = equity_after - div_ceil(equity_before * maintenance_after, maintenance_before)
    elapsed, liquidator_rate, fund_rate = get_fee_rates(state, account, index)
    value = get_executed_value(market, position.size, fills)
    liquidator_fee = get_liquidation_fee(get_nominal_fee(liquidator_rate, value), surplus)
    fee = get_liquidation_fee(get_nominal_fee(fund_rate, value), surplus - liquidator_fee)
    cover = max(0, -surplus)  # LIQ-13: the fund tops a fill below the quote back up to it
    closed = attrs.evolve(closed, balance=closed.balance - liquidator_fee - fee + cover)
    if params.policy in _PACED:
        closed = attrs.evolve(closed, cooldown_until=state.time + params.cooldown)
    state = with_account(state, closed)
    selling = position.side > 0
    state = with_market(state, attrs.evolve(entry, book=consume_book(entry.book, selling, fills)))
    records: list[Record] = [
        LiquidationStep(
            account=account.id, market=market.symbol, policy=params.policy.value,
            side="sell" if selling else "buy", position_before=int(position.side) * position.size,
            target=target, bankruptcy_limit=quote,
            impact_limit=impact, limit_price=limit, limit_reason=reason, levels=fills,
            executed=sum(size for _, size in fills), fee=fee, surplus=surplus,
            equity_before=equity_before, maintenance_before=maintenance_before,
            equity_after=equity_after - liquidator_fee - fee + cover,
            maintenance_after=maintenance_after,
        )
    ]  # fmt: skip
    if (
        params.liquidator_fee.num
        or params.liquidator_fee_step.num
        or params.fee_rule is FeeRule.IMPLIED
    ):
        records.append(LiquidationFees(account.id, market.symbol, elapsed, liquidator_rate,
                                       liquidator_fee, fund_rate, fee))  # fmt: skip
    if fee:
        state, change = _credit_fund(state, market.fund, fee, "liquidation-fee")
        records.append(change)
    if cover:
        state, change = _credit_fund(state, market.fund, -cover, "deficit")
        records.append(change)
    return state, tuple(records)


def _credit_fund(state: State, fund: str, amount: int, cause: str) -> tuple[State, FundChange]:
    balance = state.funds.get(fund, 0) + amount
    return set_fund(state, fund, balance), FundChange(fund, amount, balance, cause)


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
    closed = get_closed_account(state, account, index, ((price, position.size),))
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
    """LIQ-2: equity at the exit threshold, or no position left, ends the liquidation."""
    account = state.accounts[account_id]
    unit = get_unit(state, account)
    if is_in_liquidation(unit, account):
        return state, ()
    ended = LiquidationEnded(
        account_id, get_equity(unit), get_maintenance_requirement(unit), get_exit_threshold(unit)
    )
    return with_account(state, attrs.evolve(account, liquidating=False)), (ended,)
