"""ADL's ranking (INS-4) kept from one deficit to the next (spec/08-insurance.md).

The rule is a scan of every account (:func:`~liqspec.engine.insurance.get_adl_ranking`). In a
cascade one event settles many deficits, and between two of them only the few accounts that
were liquidated or deleveraged change. The index keeps, per market and side, each account's
score (:func:`get_adl_score`) and the account object it was computed for, sorted. It is
reused while the clock and every market state are the same objects as when it was built
(a score reads the marks, the parameters and a phase-in); then only the accounts replaced
since are scored again. The index is not a rule, and the scan is its test oracle.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from fractions import Fraction

import attrs

from liqspec.engine.state import AccountState, MarketState, State, get_unit
from liqspec.model.accounts import Position
from liqspec.model.margin import get_equity, get_unrealized_pnl, is_liquidatable
from liqspec.model.markets import Market

__all__ = ["RankingIndex", "get_adl_score", "get_indexed_ranking", "get_position_in"]

Key = tuple[Fraction, str]
"""A candidate's place: (-score, account id), so that sorting puts the highest score first."""


def get_position_in(account: AccountState, symbol: str) -> Position | None:
    """Return the account's position in ``symbol``, if any."""
    return next((p for p in account.positions if p.market == symbol), None)


def get_adl_score(
    state: State, account: AccountState, market: Market, side: int
) -> Fraction | None:
    """INS-4: PnL% x leverage of the account's position on ``side``, if it is a candidate.

    A candidate is in profit, has positive equity and is not liquidatable; PnL% x effective
    leverage = (PnL / notional) x (notional / equity) = PnL / equity.
    """
    position = get_position_in(account, market.symbol)
    if position is None or int(position.side) != side:
        return None
    unit = get_unit(state, account)
    pnl = get_unrealized_pnl(market, position, state.markets[market.symbol].mark)
    equity = get_equity(unit)
    if pnl > 0 and equity > 0 and not is_liquidatable(unit):
        return Fraction(pnl, equity)
    return None


@attrs.define
class _Ranked:
    """One market and side: the accounts scored, their keys, and the keys in order."""

    time: int
    markets: tuple[MarketState, ...]
    scored: dict[str, AccountState] = attrs.Factory(dict)
    keys: dict[str, Key] = attrs.Factory(dict)
    order: list[Key] = attrs.Factory(list)


@attrs.define
class RankingIndex:
    """The rankings a state's deficits have needed, per (market, side)."""

    ranked: dict[tuple[str, int], _Ranked] = attrs.Factory(dict)


def get_indexed_ranking(
    state: State, market: Market, side: int, exclude: str
) -> tuple[Iterator[tuple[Fraction, str]], State]:
    """Return :func:`get_adl_ranking`'s list, lazily, and ``state`` carrying the index.

    ADL usually takes the first few candidates; the rest are never turned into scores.
    """
    index = state.adl_index if isinstance(state.adl_index, RankingIndex) else RankingIndex()
    if state.adl_index is not index:
        state = attrs.evolve(state, adl_index=index)
    markets = tuple(state.markets.values())
    ranked = index.ranked.get((market.symbol, side))
    if ranked is None or not _is_current(ranked, state.time, markets):
        ranked = _Ranked(state.time, markets)
        index.ranked[(market.symbol, side)] = ranked
    for account in state.accounts.values():
        if ranked.scored.get(account.id) is not account:
            _rescore(ranked, state, account, market, side)
    order = list(ranked.order)  # later deficits reorder the index, not this ranking
    return ((-key[0], key[1]) for key in order if key[1] != exclude), state


def _is_current(ranked: _Ranked, time: int, markets: tuple[MarketState, ...]) -> bool:
    return (
        ranked.time == time and len(ranked.markets) == len(markets)
        and all(a is b for a, b in zip(ranked.markets, markets, strict=True))
    )  # fmt: skip


def _rescore(
    ranked: _Ranked, state: State, account: AccountState, market: Market, side: int
) -> None:
    old = ranked.keys.pop(account.id, None)
    if old is not None:
        del ranked.order[bisect.bisect_left(ranked.order, old)]
    score = get_adl_score(state, account, market, side)
    if score is not None:
        key = (-score, account.id)
        ranked.keys[account.id] = key
        bisect.insort(ranked.order, key)
    ranked.scored[account.id] = account
