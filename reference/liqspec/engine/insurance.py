"""Insurance funds, auto-deleveraging and socialized loss (spec/08-insurance.md).

A deficit is covered, in this order, by the market's insurance fund (never below zero, at most
the per-step cap), then by ADL, bilateral deleveraging or socialization as the market says.
Shares are exact: they telescope, so the amounts allocated sum to the allocated part of the
deficit to the quantum.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import attrs

from liqspec.base.conventions import div_ceil, div_floor, ite, ratio_text, smin
from liqspec.engine.ranking import get_adl_score, get_indexed_ranking, get_position_in
from liqspec.engine.records import Allocation, Deleveraged, FundChange, FundDrawdown, Record
from liqspec.engine.state import (
    AccountState,
    State,
    close_part,
    get_unit,
    with_account,
    with_position,
)
from liqspec.model.accounts import MarginUnit, Position
from liqspec.model.margin import get_equity, is_liquidatable
from liqspec.model.markets import Deleveraging, Market

__all__ = [
    "get_adl_ranking",
    "get_drawdown_window",
    "get_fund_available",
    "get_fund_payment",
    "get_fund_peak",
    "get_offsetting_accounts",
    "get_share",
    "is_unfit_counterparty",
    "set_fund",
    "settle_deficit",
]


def get_share(deficit: int, before: int, after: int, total: int) -> int:
    """Return the share of ``deficit`` for the slice (before, after] of ``total`` (INS-3).

    floor(D x after / T) - floor(D x before / T): shares of consecutive slices sum exactly
    to floor(D x allocated / T), and to D once the whole of T is allocated.

    pre: 0 <= before <= after <= total and total > 0 and deficit >= 0
    post: 0 <= __return__ <= deficit

    >>> [get_share(10, a, b, 3) for a, b in ((0, 1), (1, 2), (2, 3))]
    [3, 3, 4]
    """
    return div_floor(deficit * after, total) - div_floor(deficit * before, total)


def get_fund_payment(deficit: int, fund: int, cap: int) -> int:
    """INS-2: min(deficit, fund, cap), or min(deficit, fund) when the cap is 0 (INV-FUND).

    pre: deficit >= 0 and fund >= 0 and cap >= 0
    post: 0 <= __return__ <= deficit
    post: fund - __return__ >= 0
    post: cap == 0 or __return__ <= cap

    >>> get_fund_payment(500, 300, 0), get_fund_payment(500, 300, 100)
    (300, 100)
    """
    capped = ite(cap > 0, smin(deficit, cap), deficit)
    return smin(capped, fund)


def set_fund(state: State, fund: str, balance: int) -> State:
    """INS-1, INS-8: a fund's new balance; a fund watched for a drawdown keeps its history."""
    funds = {**state.funds, fund: balance}
    window = get_drawdown_window(state, fund)
    if window is None:
        return attrs.evolve(state, funds=funds)
    history = _recent(
        state.fund_history.get(fund) or ((state.time, state.funds.get(fund, 0)),),
        state.time - window,
    )
    if len(history) >= 2 and history[-2][0] == history[-1][0] == state.time:
        # both replaced now: only the larger can be a peak (one entry per time and balance)
        history = (*history[:-2], (state.time, max(history[-2][1], history[-1][1])))
    history = (*history, (state.time, balance))
    return attrs.evolve(state, funds=funds, fund_history={**state.fund_history, fund: history})


def get_drawdown_window(state: State, fund: str) -> int | None:
    """INS-8: the longest ``adl_window`` of the markets that watch ``fund``, or None."""
    windows = [
        entry.market.liquidation.adl_window
        for entry in state.markets.values()
        if entry.market.fund == fund and entry.market.liquidation.adl_drawdown.num
    ]
    return max(windows) if windows else None


def _recent(history: tuple[tuple[int, int], ...], start: int) -> tuple[tuple[int, int], ...]:
    """Drop the balances that stopped holding at or before ``start`` (a later one was set)."""
    first = 0
    while first + 1 < len(history) and history[first + 1][0] <= start:
        first += 1
    return history[first:]


def get_fund_peak(state: State, fund: str, window: int) -> int:
    """INS-8: the highest balance ``fund`` held in the last ``window`` clock units, now included.

    >>> from liqspec.engine.state import State
    >>> state = State(100, {}, {}, {"F": 40}, fund_history={"F": ((0, 90), (50, 60), (80, 40))})
    >>> get_fund_peak(state, "F", 60), get_fund_peak(state, "F", 50), get_fund_peak(state, "F", 5)
    (90, 60, 40)
    """
    recent = _recent(state.fund_history.get(fund, ()), state.time - window)
    return max([state.funds.get(fund, 0), *(balance for _, balance in recent)])


def get_fund_available(state: State, market: Market) -> tuple[int, FundDrawdown | None]:
    """INS-2, INS-8: what the market's fund may pay toward one deficit, and its floor if any.

    The balance, above the drawdown floor when the market sets ``adl_drawdown``, at most
    ``insurance_step_cap`` (0: no cap).
    """
    params, fund = market.liquidation, market.fund
    balance = state.funds.get(fund, 0)
    drawdown = None
    if params.adl_drawdown.num:
        peak = get_fund_peak(state, fund, params.adl_window)
        rate = params.adl_drawdown
        floor = div_ceil(peak * (rate.den - rate.num), rate.den)
        drawdown = FundDrawdown(fund, peak, floor, balance)
        balance = max(0, balance - floor)
    cap = params.insurance_step_cap
    return (min(balance, cap) if cap else balance), drawdown


def settle_deficit(
    state: State, market: Market, bankrupt: Position, deficit: int, exclude: str
) -> tuple[State, int, tuple[Record, ...]]:
    """Cover ``deficit``: the fund (INS-2), then the market's method (INS-4, INS-5, INS-7).

    What stays uncovered is bad debt for the caller (INS-6).

    Return the new state, the amount covered and the records.
    """
    records: list[Record] = []
    fund = state.funds.get(market.fund, 0)
    available, drawdown = get_fund_available(state, market)
    paid = min(deficit, available)
    if drawdown is not None and paid < get_fund_payment(
        deficit, fund, market.liquidation.insurance_step_cap
    ):
        records.append(drawdown)  # INS-8: the floor, not the balance, stopped the fund
    if paid:
        state = set_fund(state, market.fund, fund - paid)
        records.append(FundChange(market.fund, -paid, fund - paid, "deficit"))
    remaining = deficit - paid
    if remaining == 0:
        return state, paid, tuple(records)
    method = market.liquidation.deleveraging
    if method is Deleveraging.SOCIALIZE:
        state, allocated, record = _socialize(state, market, remaining, exclude)
    else:
        state, allocated, record = _deleverage(state, market, bankrupt, remaining, exclude)
    records.append(record)
    return state, paid + allocated, tuple(records)


def get_adl_ranking(
    state: State, market: Market, side: int, exclude: str
) -> list[tuple[Fraction, str]]:
    """Rank ADL candidates: positions on ``side`` in profit, by PnL% x leverage, ties by id (INS-4).

    The rule, a scan of every account; the engine reads the same list from an index
    (:func:`~liqspec.engine.ranking.get_indexed_ranking`).
    """
    ranking = []
    for account in state.accounts.values():
        score = get_adl_score(state, account, market, side)
        if account.id != exclude and score is not None:
            ranking.append((score, account.id))
    return sorted(ranking, key=lambda entry: (-entry[0], entry[1]))


def is_unfit_counterparty(unit: MarginUnit) -> bool:
    """INS-4: after its share, the counterparty is liquidatable or has negative equity.

    The second half matters when the share closes the unit's last position: with no leg left
    there is no maintenance to fall below, but a negative balance would be bad debt moved onto a
    trader in profit.
    """
    return is_liquidatable(unit) or get_equity(unit) < 0


def _reduce(
    state: State, account: AccountState, symbol: str, lots: int, share: int
) -> AccountState:
    """Close ``lots`` of the account's position at the mark and debit ``share``."""
    position = get_position_in(account, symbol)
    assert position is not None  # noqa: S101 - only called for holders
    market = state.markets[symbol].market
    realized, left = close_part(market, position, lots, state.markets[symbol].mark)
    return with_position(account, symbol, left, account.balance + realized - share)


def get_offsetting_accounts(state: State, market: Market, side: int, exclude: str) -> list[str]:
    """INS-7: every other account holding ``market`` on ``side``, in id order."""
    return sorted(
        account.id
        for account in state.accounts.values()
        if account.id != exclude
        and (position := get_position_in(account, market.symbol)) is not None
        and int(position.side) == side
    )


def _deleverage(
    state: State, market: Market, bankrupt: Position, deficit: int, exclude: str
) -> tuple[State, int, Deleveraged]:
    """INS-4, INS-7: close opposite positions at the mark in order, each paying its exact share.

    ADL takes the ranked accounts in profit, ``bilateral`` every opposite holder by id. A
    counterparty that its share would make liquidatable or bankrupt is passed over.
    """
    total, allocated = bankrupt.size, 0
    allocations = []
    side, method = -int(bankrupt.side), market.liquidation.deleveraging
    ranking: Iterable[tuple[Fraction | None, str]]
    if method is Deleveraging.ADL:
        ranking, state = get_indexed_ranking(state, market, side, exclude)
    else:
        ranking = [
            (None, account) for account in get_offsetting_accounts(state, market, side, exclude)
        ]
    for score, account_id in ranking:
        if allocated == total:
            break
        account = state.accounts[account_id]
        position = get_position_in(account, market.symbol)
        assert position is not None  # noqa: S101 - ranked accounts hold one
        lots = min(position.size, total - allocated)
        share = get_share(deficit, allocated, allocated + lots, total)
        reduced = _reduce(state, account, market.symbol, lots, share)
        if is_unfit_counterparty(get_unit(state, reduced)):
            continue
        state = with_account(state, reduced)
        rank = "id-order" if score is None else ratio_text(score)
        allocations.append(Allocation(account_id, rank, lots, share))
        allocated += lots
    covered = deficit * allocated // total
    record = Deleveraged(
        market.symbol, method.value, deficit, tuple(allocations), deficit - covered
    )
    return state, covered, record


def _socialize(
    state: State, market: Market, deficit: int, exclude: str
) -> tuple[State, int, Deleveraged]:
    """INS-5: every other holder of the market pays pro rata to its size; no holder, no share."""
    holders = sorted(
        (account.id, position.size)
        for account in state.accounts.values()
        if account.id != exclude and (position := get_position_in(account, market.symbol))
    )
    total = sum(size for _, size in holders)
    if total == 0:
        return state, 0, Deleveraged(market.symbol, "socialize", deficit, (), deficit)
    allocations, done = [], 0
    for account_id, size in holders:
        share = get_share(deficit, done, done + size, total)
        account = state.accounts[account_id]
        state = with_account(state, attrs.evolve(account, balance=account.balance - share))
        allocations.append(Allocation(account_id, "pro-rata", 0, share))
        done += size
    return state, deficit, Deleveraged(market.symbol, "socialize", deficit, tuple(allocations), 0)
