"""Who is in liquidation, and in which order (spec/07-liquidation.md, LIQ-1 to LIQ-3).

The rule is a scan of every account (:func:`get_liquidation_queue`). The engine finds the same
queue through an index that looks only at the accounts whose verdict may have changed
(:func:`get_indexed_queue`); the index is not a rule, and the scan is its test oracle.

Each account that is not in liquidation gets a *certificate*: for each of its markets a price
range holding the mark, such that the account stays out of liquidation for every mark in the
ranges. An account is looked at again only when a mark leaves its range, the account itself
was replaced, or its market's parameters were.

Why a certificate is sound. A leg's PnL is monotone in its mark, and so is its notional
(INV-VALUE-MONOTONE); its maintenance margin is non-decreasing in the notional
(INV-MM-MONOTONE, which MARKET-7 to MARKET-10 secure: rates never fall from tier to tier and
continuous amounts follow the recursion; the risk multiplier rounds up; the close-fee estimate
does not depend on the price). So equity is at least the collateral plus each leg's smaller
PnL at the ends of its range, MM at most the sum of each leg's larger MM there, and if those
two bounds are not below maintenance (MARGIN-9), no mark in the ranges puts the account in
liquidation.
Accounts without such a certificate are looked at on every event: those in liquidation or
flagged (LIQ-2's exit threshold), those in a market during a phase-in (RISK-6 makes MM depend
on time), and those too near the trigger to leave any room.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from fractions import Fraction

import attrs

from liqspec.base.conventions import div_ceil
from liqspec.engine.execution import get_exit_threshold
from liqspec.engine.state import AccountState, State, get_unit
from liqspec.model.accounts import Leg, MarginUnit
from liqspec.model.margin import (
    get_equity,
    get_maintenance_margin,
    get_maintenance_requirement,
    get_unrealized_pnl,
    get_value,
    is_below_maintenance,
)
from liqspec.model.markets import ContractKind, Market, Trigger

__all__ = [
    "IndexRef",
    "QueueIndex",
    "Range",
    "get_changed_ids",
    "get_indexed_queue",
    "get_liquidation_queue",
    "get_proposed_range",
    "get_watched",
    "is_certified",
    "is_in_liquidation",
    "is_in_liquidation_at",
]

_SHRINKS = 4
"""How many times a proposed range is halved before the account is looked at every event."""

Range = tuple[str, int, int]
"""A market and the lowest and highest mark of a certificate's range there."""


# --- the rule ----------------------------------------------------------------------------------


def is_in_liquidation(unit: MarginUnit, account: AccountState) -> bool:
    """Return whether the account gets a step: trigger, or below the exit threshold (LIQ-1, 2)."""
    return is_in_liquidation_at(unit, account, get_equity(unit), get_maintenance_requirement(unit))


def is_in_liquidation_at(
    unit: MarginUnit, account: AccountState, equity: int, maintenance: int
) -> bool:
    """:func:`is_in_liquidation`, given the unit's equity and maintenance requirement."""
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
        if is_in_liquidation_at(unit, account, equity, maintenance):
            queue.append((Fraction(equity, maintenance), account.id))
    return [account_id for _, account_id in sorted(queue)]


# --- the index ---------------------------------------------------------------------------------


@attrs.define
class QueueIndex:
    """Certificates, and per market the heaps that say which ones a mark move breaks.

    ``lows`` is a max-heap (negated) and ``highs`` a min-heap of range ends; an entry whose
    serial is not the account's current one is stale and skipped.
    """

    params: dict[str, tuple[Market, Market | None]] = attrs.Factory(dict)
    marks: dict[str, int] = attrs.Factory(dict)
    ranges: dict[str, tuple[Range, ...]] = attrs.Factory(dict)
    serials: dict[str, int] = attrs.Factory(dict)
    members: dict[str, set[str]] = attrs.Factory(dict)
    unchecked: set[str] = attrs.Factory(set)
    lows: dict[str, list[tuple[int, int, str]]] = attrs.Factory(dict)
    highs: dict[str, list[tuple[int, int, str]]] = attrs.Factory(dict)
    serial: int = 0
    generation: int = 0
    examined: int = 0
    """How many accounts the last call looked at."""


@attrs.frozen
class IndexRef:
    """The index a state carries, and the generation of it that state matches."""

    index: QueueIndex
    generation: int


def get_indexed_queue(state: State) -> tuple[list[str], State]:
    """Return LIQ-3's queue, and ``state`` carrying the index brought up to date.

    An index that does not match ``state`` (none yet, or one a later state already moved on)
    is rebuilt from every account, the scan's cost once.
    """
    ref = state.queue_index
    if isinstance(ref, IndexRef) and ref.generation == ref.index.generation:
        index, suspects = ref.index, _suspects(ref.index, state)
    else:
        index, suspects = QueueIndex(), set(state.accounts)
    queue = []
    index.examined = len(suspects)
    for account_id in suspects:
        _forget(index, account_id)
        account = state.accounts.get(account_id)
        if account is None or not account.positions:
            continue
        unit = get_unit(state, account)
        equity, maintenance = get_equity(unit), get_maintenance_requirement(unit)
        if is_in_liquidation_at(unit, account, equity, maintenance):
            queue.append((Fraction(equity, maintenance), account_id))
        _certify(index, state, account, unit, equity - maintenance)
    index.params = {s: (e.market, e.previous) for s, e in state.markets.items()}
    index.marks = {s: e.mark for s, e in state.markets.items()}
    index.generation += 1
    moved = attrs.evolve(state, queue_index=IndexRef(index, index.generation), changed=())
    return [account_id for _, account_id in sorted(queue)], moved


def get_watched(state: State) -> set[str]:
    """Return the accounts the index looks at on every event (a superset of the flagged)."""
    ref = state.queue_index
    return ref.index.unchecked if isinstance(ref, IndexRef) else set(state.accounts)


def _suspects(index: QueueIndex, state: State) -> set[str]:
    """Return the accounts whose verdict may differ from what their certificate says."""
    suspects = set(index.unchecked) | set(get_changed_ids(state.changed))
    for symbol, entry in state.markets.items():
        if index.params.get(symbol) != (entry.market, entry.previous):
            suspects |= index.members.get(symbol, set())
        elif index.marks.get(symbol) != entry.mark:
            suspects |= set(_broken(index, symbol, entry.mark))
    return suspects


def get_changed_ids(chain: object) -> Iterator[str]:
    """Yield the account ids of ``State.changed``, a chain ``(id, (id, ( ... ())))``."""
    while chain:
        assert isinstance(chain, tuple)  # noqa: S101 - built only by with_account
        account_id, chain = chain
        yield account_id


def _broken(index: QueueIndex, symbol: str, mark: int) -> Iterator[str]:
    """Pop the certificates in ``symbol`` whose range no longer holds ``mark``."""
    yield from _pop_below(index, index.lows.get(symbol, []), -mark)  # low > mark
    yield from _pop_below(index, index.highs.get(symbol, []), mark)  # high < mark


def _pop_below(index: QueueIndex, heap: list[tuple[int, int, str]], limit: int) -> Iterator[str]:
    """Pop the entries keyed below ``limit``; yield the accounts whose certificate they are."""
    while heap and heap[0] < (limit,):
        _, serial, account_id = heapq.heappop(heap)
        if index.serials.get(account_id) == serial:
            yield account_id


def _forget(index: QueueIndex, account_id: str) -> None:
    index.unchecked.discard(account_id)
    index.serials.pop(account_id, None)
    for symbol, _, _ in index.ranges.pop(account_id, ()):
        index.members[symbol].discard(account_id)


def _certify(
    index: QueueIndex, state: State, account: AccountState, unit: MarginUnit, room: int
) -> None:
    """Give the account a certificate, or watch it on every event."""
    ranges = None
    phase_in = any(state.markets[leg.market.symbol].previous is not None for leg in unit.legs)
    if not account.liquidating and not phase_in:
        allowance = room // (2 * len(unit.legs))
        for _ in range(_SHRINKS):
            if allowance <= 0:
                break
            proposed = tuple(get_proposed_range(leg, allowance) for leg in unit.legs)
            if is_certified(unit, proposed):
                ranges = proposed
                break
            allowance //= 2
    if ranges is None:
        index.unchecked.add(account.id)
        return
    index.serial += 1
    index.serials[account.id] = index.serial
    index.ranges[account.id] = ranges
    for symbol, low, high in ranges:
        index.members.setdefault(symbol, set()).add(account.id)
        heapq.heappush(index.lows.setdefault(symbol, []), (-low, index.serial, account.id))
        heapq.heappush(index.highs.setdefault(symbol, []), (high, index.serial, account.id))
        _compact(index, symbol)


def _compact(index: QueueIndex, symbol: str) -> None:
    """Rebuild a market's heaps from its live certificates once stale entries outnumber them."""
    live = index.members[symbol]
    if len(index.lows[symbol]) <= 2 * len(live) + 64:
        return
    ends = [(index.serials[a], a, r) for a in live for r in index.ranges[a] if r[0] == symbol]
    index.lows[symbol] = [(-low, serial, a) for serial, a, (_, low, _) in ends]
    index.highs[symbol] = [(high, serial, a) for serial, a, (_, _, high) in ends]
    heapq.heapify(index.lows[symbol])
    heapq.heapify(index.highs[symbol])


def get_proposed_range(leg: Leg, allowance: int) -> Range:
    """Return the widest mark range round the leg's mark where its value moves by ``allowance``.

    Every mark in it, and none just outside it, values the position within ``allowance`` of
    its value at the mark. Only a proposal: :func:`is_certified` checks it.
    """
    market, position = leg.market, leg.position
    value = get_value(market, position.size, leg.mark)
    low_value, high_value = max(value - allowance, 0), value + allowance
    per_tick = position.size * market.value_factor
    if market.contract is ContractKind.LINEAR:
        low, high = div_ceil(low_value, per_tick), high_value // per_tick
    else:
        low = div_ceil(per_tick, high_value)
        high = market.max_price if low_value <= 1 else div_ceil(per_tick, low_value - 1) - 1
    return market.symbol, max(min(low, leg.mark), 1), min(max(high, leg.mark), market.max_price)


def is_certified(unit: MarginUnit, ranges: tuple[Range, ...]) -> bool:
    """Return whether no mark in ``ranges`` puts the unit in liquidation (the module's argument)."""
    equity, maintenance = unit.collateral, 0
    for leg, (_, low, high) in zip(unit.legs, ranges, strict=True):
        market, position = leg.market, leg.position
        equity += min(get_unrealized_pnl(market, position, p) for p in (low, high))
        maintenance += max(get_maintenance_margin(market, position, p) for p in (low, high))
    strict = unit.trigger is Trigger.STRICT
    return not is_below_maintenance(equity, maintenance, strict=strict)
