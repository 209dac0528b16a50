"""The transition function (spec/06-state.md, STATE-8): one event in, the next state out.

``process_event(state, event)`` returns the next state and the output records, or raises
:class:`~liqspec.base.errors.EventRejectedError` with a named reason; the state passed in is never
modified. It applies the event (one handler per event type), then the market rules of
chapters 10-12, then the liquidation procedure of chapter 7 and the withdrawal gate (BRK-5).
This is the only module that imports every rule module.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import attrs

from liqspec.base.conventions import ratio_text
from liqspec.base.errors import EventRejectedError, InputError, Reason
from liqspec.engine.breakers import get_band, is_halted, process_breakers, record_mark
from liqspec.engine.liquidation import process_liquidations
from liqspec.engine.markprice import (
    derive_mark,
    get_ema_update,
    get_median_candidates,
    get_smoothed_basis,
)
from liqspec.engine.preemption import process_preemption
from liqspec.engine.records import (
    BookSet,
    ClockSet,
    Deposited,
    Filled,
    ImpliedVolatilitySet,
    IndexSet,
    MarginAdded,
    MarginRemoved,
    MarkDerived,
    MarkSet,
    OpenInterestSet,
    ParametersChanged,
    Record,
    ReferenceSet,
    TradeSet,
    WithdrawalsBlocked,
    Withdrawn,
)
from liqspec.engine.risk import apply_parameters, process_risk
from liqspec.engine.state import (
    ISOLATED_SEPARATOR,
    AccountState,
    AddMargin,
    BookUpdate,
    Clock,
    Deposit,
    Event,
    Fill,
    ImpliedVolatilityUpdate,
    IndexUpdate,
    MarketState,
    MarkUpdate,
    OpenInterestUpdate,
    ParameterChange,
    ReferenceUpdate,
    RemoveMargin,
    State,
    TradeUpdate,
    Withdrawal,
    apply_fill,
    check_book,
    get_isolated_id,
    get_settle_quantum,
    get_signed_size,
    get_unit,
    is_isolated,
    with_account,
    with_market,
)
from liqspec.model.accounts import MarginMode
from liqspec.model.margin import get_equity, get_initial_requirement
from liqspec.model.markets import BasisSmoothing, MarkSource, format_price

__all__ = [
    "apply_event",
    "process_event",
    "process_markets",
    "process_withdrawal_gate",
]


def process_event(state: State, event: Event) -> tuple[State, tuple[Record, ...]]:
    """Apply one event, the market rules, then liquidation and the withdrawal gate (STATE-8)."""
    before = state
    state, applied = apply_event(state, event)
    state, market_records = process_markets(before, state, event)
    state, liquidations = process_liquidations(state)
    state, gates = process_withdrawal_gate(before, state)
    return state, (applied, *market_records, *liquidations, *gates)


def process_markets(before: State, state: State, event: Event) -> tuple[State, tuple[Record, ...]]:
    """STATE-8 step 2: derive marks, record them, trip breakers, adjust risk, per market.

    A market with RISK-7 predicts and adjusts after every market's mark is derived, so that
    its prediction reads every leg of a cross unit at its new mark.
    """
    records: list[Record] = []
    preempting: list[str] = []
    for symbol in sorted(state.markets):
        entry = state.markets[symbol]
        derived = derive_mark(entry)
        if derived is not None and (derived != entry.mark or entry.mark_time < 0):
            records.append(_derived_record(entry, derived))
            records.append(MarkSet(symbol, entry.mark, derived))
            entry = attrs.evolve(entry, mark=derived)
        moved = entry.mark != before.markets[symbol].mark or isinstance(event, MarkUpdate)
        if moved and (not isinstance(event, MarkUpdate) or event.market == symbol):
            keep = entry.market.risk.vol_window + 1
            entry = record_mark(entry, state.time, keep)
            entry, tripped = process_breakers(entry, state.time)
            records.extend(tripped)
        if entry.market.risk.preempt_shock.num:  # RISK-7 reads the accounts: after the marks
            preempting.append(symbol)
        else:
            entry, adjusted = process_risk(entry, state.time)
            records.extend(adjusted)
        if entry is not state.markets[symbol]:
            state = with_market(state, entry)
    for symbol in preempting:
        state, predicted = process_preemption(state, symbol, state.time)
        entry, adjusted = process_risk(state.markets[symbol], state.time)
        records.extend([*predicted, *adjusted])
        state = with_market(state, entry)
    return state, tuple(records)


def _derived_record(entry: MarketState, derived: int) -> Record:
    candidates = get_median_candidates(
        entry.index, entry.basis, get_smoothed_basis(entry), entry.last_trade
    )
    return MarkDerived(
        entry.market.symbol, entry.market.mark.source.value, entry.index, ratio_text(entry.basis),
        tuple(str(c) for c in candidates), derived,
    )  # fmt: skip


def process_withdrawal_gate(before: State, state: State) -> tuple[State, tuple[Record, ...]]:
    """BRK-5: an account newly seen with negative equity blocks its asset's withdrawals."""
    records: list[Record] = []
    blocks = dict(state.withdrawals_blocked)
    periods: dict[str, int] = {}
    for entry in state.markets.values():
        period = entry.market.breakers.withdrawal_block
        asset = entry.market.settle_asset
        periods[asset] = max(periods.get(asset, 0), period)
    if not any(periods.values()):  # no market blocks withdrawals: nothing to look at
        return state, ()
    for account in sorted(state.accounts.values(), key=lambda a: a.id):
        period = periods.get(account.asset, 0)
        if not period:
            continue
        equity = get_equity(get_unit(state, account))
        until = state.time + period
        earlier = before.accounts.get(account.id)
        was_negative = earlier is not None and get_equity(get_unit(before, earlier)) < 0
        running = blocks.get(account.asset)
        if equity < 0 and not was_negative and (running is None or running < until):
            blocks[account.asset] = until
            records.append(WithdrawalsBlocked(account.asset, account.id, equity, until))
    if records:
        state = attrs.evolve(state, withdrawals_blocked=blocks)
    return state, tuple(records)


def apply_event(state: State, event: Event) -> tuple[State, Record]:
    """Validate and apply one event, without the liquidation procedure (STATE-8, step 1)."""
    handler: Callable[[State, Any], tuple[State, Record]] = _HANDLERS[type(event)]
    return handler(state, event)


def _market(state: State, symbol: str) -> MarketState:
    if symbol not in state.markets:
        raise EventRejectedError(Reason.UNKNOWN_MARKET, f"no market {symbol!r}")
    return state.markets[symbol]


def _account(state: State, account_id: str) -> AccountState:
    """Return the cross unit of ``account_id``; events never name an isolated unit (STATE-11)."""
    account = state.accounts.get(account_id)
    if account is None or is_isolated(account):
        raise EventRejectedError(Reason.UNKNOWN_ACCOUNT, f"no account {account_id!r}")
    return account


def _isolated(state: State, owner: AccountState, symbol: str) -> AccountState:
    """Return ``owner``'s isolated unit in ``symbol``, or a new empty one (STATE-11)."""
    unit_id = get_isolated_id(owner.id, symbol)
    return state.accounts.get(unit_id) or AccountState(unit_id, owner.asset, 0)


def _check_initial(state: State, after: AccountState, detail: str) -> None:
    """STATE-5: a balance never goes negative by a transfer; equity stays >= IM."""
    unit = get_unit(state, after)
    if after.balance < 0 or get_equity(unit) < get_initial_requirement(unit):
        raise EventRejectedError(Reason.INSUFFICIENT_MARGIN, detail)


def process_mark_update(state: State, event: MarkUpdate) -> tuple[State, Record]:
    """STATE-3: the mark MUST be a grid price; MARK-1: only for markets fed by mark events."""
    entry = _market(state, event.market)
    if not 1 <= event.price <= entry.market.max_price:
        raise EventRejectedError(
            Reason.PRICE_OUT_OF_DOMAIN, f"mark {event.price} outside 1..max_price"
        )
    if entry.market.mark.source is not MarkSource.EVENT:
        detail = f"{event.market} derives its mark ({entry.market.mark.source.value})"
        raise EventRejectedError(Reason.MARK_DERIVED, detail)
    previous = entry.mark
    state = with_market(state, attrs.evolve(entry, mark=event.price))
    return state, MarkSet(event.market, previous, event.price)


def process_book_update(state: State, event: BookUpdate) -> tuple[State, Record]:
    """STATE-2, STATE-3: levels strictly ordered, positive sizes, grid prices, not crossed."""
    entry = _market(state, event.market)
    check_book(event.book, entry.market.max_price)
    entry = attrs.evolve(entry, book=event.book)
    book = event.book
    if entry.index and book.bids and book.asks:
        sample = Fraction(book.bids[0].price + book.asks[0].price, 2) - entry.index
        kept = (*entry.basis_samples, sample)[-entry.market.mark.basis_window :]
        entry = attrs.evolve(entry, basis_samples=kept)
        if entry.market.mark.basis is BasisSmoothing.EMA:  # MARK-5
            elapsed = 0 if entry.basis_time is None else state.time - entry.basis_time
            ema = get_ema_update(entry.basis_ema, sample, elapsed, entry.market.mark.ema_decay)
            entry = attrs.evolve(entry, basis_ema=ema, basis_time=state.time)
    state = with_market(state, entry)
    return state, BookSet(event.market, len(event.book.bids), len(event.book.asks))


def process_deposit(state: State, event: Deposit) -> tuple[State, Record]:
    """STATE-4: a positive amount in the account's asset; a new id opens an account."""
    if ISOLATED_SEPARATOR in event.account:
        raise EventRejectedError(
            Reason.UNKNOWN_ACCOUNT, f"an account id has no {ISOLATED_SEPARATOR}"
        )
    if event.amount <= 0:
        raise EventRejectedError(Reason.NOT_POSITIVE_AMOUNT, "deposit amount must be > 0")
    account = state.accounts.get(event.account) or AccountState(event.account, event.asset, 0)
    if account.asset != event.asset:
        raise EventRejectedError(Reason.CROSS_INCOMPATIBLE, f"account holds {account.asset}")
    get_settle_quantum(state, event.asset)
    state = with_account(state, attrs.evolve(account, balance=account.balance + event.amount))
    return state, Deposited(event.account, event.amount)


def process_withdrawal(state: State, event: Withdrawal) -> tuple[State, Record]:
    """STATE-5: at most the balance, and equity after it MUST cover the initial requirement."""
    account = _account(state, event.account)
    if event.amount <= 0:
        raise EventRejectedError(Reason.NOT_POSITIVE_AMOUNT, "withdrawal amount must be > 0")
    if event.asset != account.asset:
        raise EventRejectedError(Reason.CROSS_INCOMPATIBLE, f"account holds {account.asset}")
    until = state.withdrawals_blocked.get(event.asset)
    if until is not None and state.time < until:
        raise EventRejectedError(Reason.WITHDRAWALS_BLOCKED, f"{event.asset} blocked until {until}")
    after = attrs.evolve(account, balance=account.balance - event.amount, last_action=state.time)
    _check_initial(state, after, "withdrawal would leave equity < IM")
    return with_account(state, after), Withdrawn(event.account, event.amount)


def process_add_margin(state: State, event: AddMargin) -> tuple[State, Record]:
    """STATE-12: move margin from the cross wallet, which must keep equity >= IM, to a unit."""
    entry = _market(state, event.market)
    owner = _account(state, event.account)
    if event.amount <= 0:
        raise EventRejectedError(Reason.NOT_POSITIVE_AMOUNT, "margin amount must be > 0")
    if entry.market.settle_asset != owner.asset:
        raise EventRejectedError(Reason.CROSS_INCOMPATIBLE, f"{event.market} settles elsewhere")
    if get_signed_size(owner, event.market):
        raise EventRejectedError(Reason.MARGIN_MODE, f"a cross position in {event.market}")
    cross = attrs.evolve(owner, balance=owner.balance - event.amount, last_action=state.time)
    _check_initial(state, cross, "the cross unit would be left with equity < IM")
    unit = _isolated(state, owner, event.market)
    unit = attrs.evolve(unit, balance=unit.balance + event.amount)
    state = with_account(with_account(state, cross), unit)
    return state, MarginAdded(owner.id, event.market, event.amount, unit.balance)


def process_remove_margin(state: State, event: RemoveMargin) -> tuple[State, Record]:
    """STATE-12: move margin back to the cross wallet; the unit must keep equity >= IM."""
    _market(state, event.market)
    owner = _account(state, event.account)
    unit = state.accounts.get(get_isolated_id(owner.id, event.market))
    if unit is None:
        detail = f"{owner.id} has no isolated unit in {event.market}"
        raise EventRejectedError(Reason.UNKNOWN_ACCOUNT, detail)
    if event.amount <= 0:
        raise EventRejectedError(Reason.NOT_POSITIVE_AMOUNT, "margin amount must be > 0")
    unit = attrs.evolve(unit, balance=unit.balance - event.amount, last_action=state.time)
    _check_initial(state, unit, "the isolated unit would be left with equity < IM")
    cross = attrs.evolve(owner, balance=owner.balance + event.amount)
    state = with_account(with_account(state, unit), cross)
    return state, MarginRemoved(owner.id, event.market, event.amount, unit.balance)


def process_fill(state: State, event: Fill) -> tuple[State, Record]:
    """STATE-6: apply an external trade; a fill that adds exposure MUST leave equity >= IM."""
    entry = _market(state, event.market)
    owner = _account(state, event.account)
    market = entry.market
    if market.settle_asset != owner.asset:
        raise EventRejectedError(Reason.CROSS_INCOMPATIBLE, f"{market.symbol} settles elsewhere")
    isolated = event.margin is MarginMode.ISOLATED
    if not isolated and owner.positions and market.trigger is not get_unit(state, owner).trigger:
        raise EventRejectedError(
            Reason.CROSS_INCOMPATIBLE, "markets of one account share a trigger"
        )
    account = _isolated(state, owner, market.symbol) if isolated else owner
    other = owner if isolated else state.accounts.get(get_isolated_id(owner.id, market.symbol))
    if other is not None and get_signed_size(other, market.symbol):
        mode = "cross" if isolated else "isolated"
        raise EventRejectedError(Reason.MARGIN_MODE, f"{owner.id} holds {mode} in {market.symbol}")
    if event.size <= 0 or not 1 <= event.price <= market.max_price:
        raise EventRejectedError(Reason.PRICE_OUT_OF_DOMAIN, "size must be > 0, price in domain")
    if is_halted(entry, state.time):
        until = "the next reference price" if entry.halt_until is None else entry.halt_until
        raise EventRejectedError(Reason.HALTED, f"{market.symbol} halted until {until}")
    band = get_band(entry)
    if band is not None and not band[0] <= event.price <= band[1]:
        low, high = format_price(market, band[0]), format_price(market, band[1])
        raise EventRejectedError(Reason.OUTSIDE_BAND, f"price outside the band {low}..{high}")
    before = get_signed_size(account, market.symbol)
    after_account = apply_fill(account, market, int(event.side) * event.size, event.price)
    after = get_signed_size(after_account, market.symbol)
    if abs(after) > abs(before) or after * before < 0:
        after_account = attrs.evolve(after_account, last_action=state.time)
        unit = get_unit(state, after_account)
        if get_equity(unit) < get_initial_requirement(unit):
            raise EventRejectedError(Reason.INSUFFICIENT_MARGIN, "fill would leave equity < IM")
    side = "buy" if event.side > 0 else "sell"
    record = Filled(account.id, market.symbol, side, event.size, event.price, before, after)
    return with_account(state, after_account), record


def process_clock(state: State, event: Clock) -> tuple[State, Record]:
    """STATE-7: time never goes backwards."""
    if event.time < state.time:
        raise EventRejectedError(Reason.TIME_BACKWARDS, f"time {event.time} < {state.time}")
    return attrs.evolve(state, time=event.time), ClockSet(state.time, event.time)


def process_index_update(state: State, event: IndexUpdate) -> tuple[State, Record]:
    """MARK-1: a new index (a grid price) and funding basis (|basis| < 1)."""
    entry = _market(state, event.market)
    if not 1 <= event.price <= entry.market.max_price or not -1 < event.basis < 1:
        raise EventRejectedError(Reason.PRICE_OUT_OF_DOMAIN, "index in domain, |basis| < 1")
    state = with_market(state, attrs.evolve(entry, index=event.price, basis=event.basis))
    return state, IndexSet(event.market, event.price, ratio_text(event.basis))


def process_trade_update(state: State, event: TradeUpdate) -> tuple[State, Record]:
    """MARK-1: the last traded price (a grid price)."""
    entry = _market(state, event.market)
    if not 1 <= event.price <= entry.market.max_price:
        raise EventRejectedError(Reason.PRICE_OUT_OF_DOMAIN, "trade price outside the domain")
    state = with_market(state, attrs.evolve(entry, last_trade=event.price))
    return state, TradeSet(event.market, event.price)


def process_reference_update(state: State, event: ReferenceUpdate) -> tuple[State, Record]:
    """BRK-3: a new reference price; halt levels start over and running halts end."""
    entry = _market(state, event.market)
    if not 1 <= event.price <= entry.market.max_price:
        raise EventRejectedError(Reason.PRICE_OUT_OF_DOMAIN, "reference outside the domain")
    entry = attrs.evolve(entry, reference=event.price, tripped=0, halt_until=0)
    return with_market(state, entry), ReferenceSet(event.market, event.price)


def process_parameter_change(state: State, event: ParameterChange) -> tuple[State, Record]:
    """RISK-5: new parameters pass every market rule; MM increases phase in (RISK-6).

    RISK-7's last target belongs to the old parameters: it starts over at 1 (§12.1).
    """
    entry = _market(state, event.market.symbol)
    try:
        entry = apply_parameters(entry, event.market, state.time)
    except InputError as error:
        raise EventRejectedError(Reason.INVALID_PARAMETERS, str(error)) from None
    entry = attrs.evolve(entry, preempt_target=Fraction(1))
    effective = entry.phase_end if entry.previous is not None else state.time
    return with_market(state, entry), ParametersChanged(event.market.symbol, effective)


def process_implied_volatility(
    state: State, event: ImpliedVolatilityUpdate
) -> tuple[State, Record]:
    """RISK-8: the market's implied volatility, stamped with the current time."""
    entry = _market(state, event.market)
    entry = attrs.evolve(entry, implied=(state.time, event.volatility))
    return with_market(state, entry), ImpliedVolatilitySet(event.market, event.volatility)


def process_open_interest(state: State, event: OpenInterestUpdate) -> tuple[State, Record]:
    """MARGIN-12: the market's open interest, in lots, for its initial margins from now on.

    The parameters a phase-in keeps (RISK-6) take it too.
    """
    entry = _market(state, event.market)
    if event.size < 0:
        detail = f"open-interest size = {event.size} lots: below zero"
        raise EventRejectedError(Reason.PRICE_OUT_OF_DOMAIN, detail)
    previous = entry.previous and attrs.evolve(entry.previous, open_interest=event.size)
    market = attrs.evolve(entry.market, open_interest=event.size)
    entry = attrs.evolve(entry, market=market, previous=previous)
    return with_market(state, entry), OpenInterestSet(event.market, event.size)


_HANDLERS: dict[type, Callable[[State, Any], tuple[State, Record]]] = {
    MarkUpdate: process_mark_update,
    BookUpdate: process_book_update,
    Deposit: process_deposit,
    Withdrawal: process_withdrawal,
    Fill: process_fill,
    Clock: process_clock,
    IndexUpdate: process_index_update,
    TradeUpdate: process_trade_update,
    ReferenceUpdate: process_reference_update,
    ParameterChange: process_parameter_change,
    ImpliedVolatilityUpdate: process_implied_volatility,
    OpenInterestUpdate: process_open_interest,
    AddMargin: process_add_margin,
    RemoveMargin: process_remove_margin,
}
