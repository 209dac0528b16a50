"""State and events (spec/06-state.md): the types the rules of chapters 7-12 work on.

The state and event values, the margin unit of an account at the current marks (with the
phase-in of RISK-6), book validation (STATE-2) and the pure updates that replace a market, an
account or a position. The transition itself, ``process_event``, is in
:mod:`liqspec.engine.transition`: it sits above the rule modules, which sit above this one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, ValuesView
from fractions import Fraction
from math import isqrt

import attrs
from attrs import frozen

from liqspec.base.conventions import Ratio
from liqspec.base.errors import EventRejectedError, Reason
from liqspec.model.accounts import Leg, MarginMode, MarginUnit, Position, Side
from liqspec.model.margin import get_maintenance_margin
from liqspec.model.markets import ContractKind, Market, Trigger, get_value

__all__ = [
    "EVENT_KINDS",
    "AccountMap",
    "AccountState",
    "AddMargin",
    "Book",
    "BookUpdate",
    "Clock",
    "Deposit",
    "Event",
    "Fill",
    "ImpliedVolatilityUpdate",
    "IndexUpdate",
    "Level",
    "MarkUpdate",
    "MarketState",
    "OpenInterestUpdate",
    "ParameterChange",
    "ReferenceUpdate",
    "RemoveMargin",
    "State",
    "TradeUpdate",
    "Withdrawal",
    "apply_fill",
    "check_book",
    "close_part",
    "get_event_kind",
    "get_isolated_id",
    "get_rules",
    "get_settle_quantum",
    "get_signed_size",
    "get_unit",
    "is_grandfathered",
    "is_isolated",
    "phase_in_market",
    "with_account",
    "with_market",
    "with_position",
]


# --- state -------------------------------------------------------------------------------------


@frozen
class Level:
    """One price level of a book snapshot: ``size`` lots at ``price`` ticks (STATE-2)."""

    price: int
    size: int


@frozen
class Book:
    """A snapshot: bids best (highest) first, asks best (lowest) first (STATE-2)."""

    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()


@frozen
class MarketState:
    """A market's parameters, mark, book and the inputs of chapters 10-12 (STATE-1).

    ``index``/``last_trade`` 0 mean unknown; ``history`` holds (time, mark) pairs;
    ``previous``/``phase_*`` describe a phase-in (RISK-6).
    """

    market: Market
    mark: int
    book: Book = Book()
    index: int = 0
    basis: Fraction = Fraction(0)
    last_trade: int = 0
    basis_samples: tuple[Fraction, ...] = ()
    basis_ema: tuple[Fraction, Fraction] = (Fraction(0), Fraction(0))
    """MARK-5: the EMA's (numerator, denominator), each on the 10^-18 grid."""
    basis_time: int | None = None
    """MARK-5: the time of the last basis sample, None before the first."""
    mark_time: int = 0
    history: tuple[tuple[int, int], ...] = ()
    reference: int = 0
    tripped: int = 0
    halt_until: int | None = 0
    last_adjust: int = 0
    preempt_time: int = 0
    """RISK-7: the time of the last prediction (the start before the first)."""
    preempt_target: Fraction = Fraction(1)
    """RISK-7: the target multiplier the last prediction set."""
    previous: Market | None = None
    phase_start: int = 0
    phase_end: int = 0
    implied: tuple[int, int] | None = None
    """The last implied volatility (time, ppm) of RISK-8, None before the first."""


@frozen
class AccountState:
    """A margin unit of the state (STATE-1, STATE-11): balance in quantums, positions by market.

    An account's cross unit, or one of its isolated units (id ``owner@market``).
    """

    id: str
    asset: str
    balance: int
    positions: tuple[Position, ...] = ()
    liquidating: bool = False
    liquidation_start: int = 0
    cooldown_until: int = 0
    last_action: int = -1


@frozen
class State:
    """Everything the engine knows (STATE-1). Mappings are never mutated once built."""

    time: int
    markets: Mapping[str, MarketState]
    accounts: Mapping[str, AccountState]
    funds: Mapping[str, int]
    withdrawals_blocked: Mapping[str, int] = attrs.field(factory=dict)
    fund_history: Mapping[str, tuple[tuple[int, int], ...]] = attrs.field(factory=dict)
    """Per fund watched for a drawdown (INS-8): (time set, balance) of its recent balances."""
    changed: tuple[()] | tuple[str, object] = attrs.field(default=(), eq=False, repr=False)
    """The accounts replaced since the queue index last looked: ``(id, (id, ... ()))``."""
    queue_index: object = attrs.field(default=None, eq=False, repr=False)
    """The queue index (:mod:`liqspec.engine.queue`) and the generation of it this state matches."""
    adl_index: object = attrs.field(default=None, eq=False, repr=False)
    """ADL's rankings (:mod:`liqspec.engine.ranking`), checked against the state when read."""


ISOLATED_SEPARATOR = "@"
"""Joins an account id and a market symbol into an isolated unit's id; ids never hold it."""


def get_isolated_id(owner: str, symbol: str) -> str:
    """Return the id of ``owner``'s isolated unit in ``symbol`` (STATE-11).

    >>> get_isolated_id("alice", "BTCUSDT")
    'alice@BTCUSDT'
    """
    return f"{owner}{ISOLATED_SEPARATOR}{symbol}"


def is_isolated(account: AccountState) -> bool:
    """Return whether ``account`` is an isolated unit rather than a cross unit (STATE-11)."""
    return ISOLATED_SEPARATOR in account.id


def get_unit(state: State, account: AccountState) -> MarginUnit:
    """Return the unit's margin unit at the current marks (ACCOUNT-7, STATE-11)."""
    legs = tuple(
        Leg(get_rules(state, account, p), p, state.markets[p.market].mark)
        for p in account.positions
    )
    trigger = legs[0].market.trigger if legs else Trigger.STRICT
    quantum = legs[0].market.settle_quantum if legs else get_settle_quantum(state, account.asset)
    return MarginUnit(account.id, account.asset, quantum, account.balance, legs, trigger)


def get_rules(state: State, account: AccountState, position: Position) -> Market:
    """Return the parameters that margin this position (RISK-6).

    The current ones; during a phase-in, for an account that has not acted since it began,
    the set with the lower maintenance margin.
    """
    entry = state.markets[position.market]
    if entry.previous is None:
        return entry.market
    return phase_in_market(entry, account, position, state.time)


def get_settle_quantum(state: State, asset: str) -> Ratio:
    """Return the quantum of ``asset`` from the first market that settles in it (STATE-4)."""
    for entry in state.markets.values():
        if entry.market.settle_asset == asset:
            return entry.market.settle_quantum
    raise EventRejectedError(Reason.CROSS_INCOMPATIBLE, f"no market settles in {asset}")


def is_grandfathered(entry: MarketState, account: AccountState, time: int) -> bool:
    """RISK-6: during phase-in, an account that has not acted since it began keeps the old rules."""
    return (
        entry.previous is not None
        and time < entry.phase_end
        and account.last_action < entry.phase_start
    )


def phase_in_market(
    entry: MarketState, account: AccountState, position: Position, time: int
) -> Market:
    """RISK-6: for a grandfathered account, the parameter set with the lower MM."""
    if entry.previous is None or not is_grandfathered(entry, account, time):
        return entry.market
    old = get_maintenance_margin(entry.previous, position, entry.mark)
    new = get_maintenance_margin(entry.market, position, entry.mark)
    return entry.previous if old < new else entry.market


def check_book(book: Book, max_price: int) -> None:
    """Raise unless ``book`` is a valid snapshot (STATE-2)."""
    for name, levels, step in (("bids", book.bids, -1), ("asks", book.asks, 1)):
        for i, level in enumerate(levels):
            if level.size <= 0 or not 1 <= level.price <= max_price:
                raise EventRejectedError(
                    Reason.BAD_BOOK, f"{name}[{i}] needs size > 0, price in domain"
                )
            if i and (level.price - levels[i - 1].price) * step <= 0:
                raise EventRejectedError(
                    Reason.BAD_BOOK, f"{name} must be strictly ordered, best first"
                )
    if book.bids and book.asks and book.bids[0].price >= book.asks[0].price:
        raise EventRejectedError(Reason.BAD_BOOK, "crossed book: best bid >= best ask")


def with_market(state: State, entry: MarketState) -> State:
    """Return ``state`` with one market state replaced."""
    return attrs.evolve(state, markets={**state.markets, entry.market.symbol: entry})


class AccountMap(Mapping[str, AccountState]):
    """An immutable mapping of accounts that shares its bulk with the one it was made from.

    A shared base dict, never mutated, and a small dict of the accounts replaced or added since:
    replacing one account copies the small dict only, and the two are merged into a new base
    when the small one outgrows the square root of the base. Its items come in the order of
    ``{**base, **recent}``, as a copied dict's would.

    >>> one = AccountMap({"a": AccountState("a", "USDT", 1)})
    >>> two = one.replaced(AccountState("b", "USDT", 2)).replaced(AccountState("a", "USDT", 3))
    >>> [(a.id, a.balance) for a in one.values()], [(a.id, a.balance) for a in two.values()]
    ([('a', 1)], [('a', 3), ('b', 2)])
    """

    __slots__ = ("_added", "_base", "_recent")

    def __init__(
        self, base: Mapping[str, AccountState], recent: Mapping[str, AccountState] | None = None
    ) -> None:
        self._base = base
        self._recent = recent or {}
        self._added = sum(1 for key in self._recent if key not in base)

    def __getitem__(self, key: str) -> AccountState:
        recent = self._recent.get(key)
        return self._base[key] if recent is None else recent

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from (key for key in self._recent if key not in self._base)

    def __len__(self) -> int:
        return len(self._base) + self._added

    def values(self) -> ValuesView[AccountState]:
        """Return the accounts in the order of :meth:`__iter__`, without a lookup per key."""
        if not self._recent:
            return self._base.values()
        return {**self._base, **self._recent}.values()

    def replaced(self, account: AccountState) -> AccountMap:
        """Return the map with ``account`` under its id, in O(sqrt(len)) amortized."""
        recent = {**self._recent, account.id: account}
        if len(recent) > max(64, isqrt(len(self._base))):
            return AccountMap({**self._base, **recent})
        return AccountMap(self._base, recent)


def with_account(state: State, account: AccountState) -> State:
    """Return ``state`` with one account replaced."""
    accounts = state.accounts
    shared = accounts if isinstance(accounts, AccountMap) else AccountMap(accounts)
    changed = (account.id, state.changed)
    return attrs.evolve(state, accounts=shared.replaced(account), changed=changed)


# --- events ------------------------------------------------------------------------------------


@frozen
class MarkUpdate:
    """A new mark price for a market (STATE-3)."""

    market: str
    price: int


@frozen
class BookUpdate:
    """A new order-book snapshot for a market (STATE-3)."""

    market: str
    book: Book


@frozen
class Deposit:
    """Collateral paid in; opens the account if it is new (STATE-4)."""

    account: str
    asset: str
    amount: int


@frozen
class Withdrawal:
    """Collateral paid out (STATE-5)."""

    account: str
    asset: str
    amount: int


@frozen
class Fill:
    """A trade outside the engine: the account bought (+1) or sold (-1) ``size`` lots (STATE-6).

    ``margin`` says which unit holds the position: the cross unit or the market's isolated one.
    """

    account: str
    market: str
    side: Side
    size: int
    price: int
    margin: MarginMode = MarginMode.CROSS


@frozen
class AddMargin:
    """Move ``amount`` from the cross wallet into the isolated unit of ``market`` (STATE-12)."""

    account: str
    market: str
    amount: int


@frozen
class RemoveMargin:
    """Move ``amount`` from the isolated unit of ``market`` back to the cross wallet (STATE-12)."""

    account: str
    market: str
    amount: int


@frozen
class Clock:
    """Time moves to ``time`` (STATE-7)."""

    time: int


@frozen
class IndexUpdate:
    """A new index price and funding basis for a market (MARK-1)."""

    market: str
    price: int
    basis: Fraction


@frozen
class TradeUpdate:
    """The last traded price of a market (MARK-1)."""

    market: str
    price: int


@frozen
class ReferenceUpdate:
    """A new reference price for the halt levels; clears the levels tripped so far (BRK-3)."""

    market: str
    price: int


@frozen
class ImpliedVolatilityUpdate:
    """A new implied volatility of a market, in ppm per mark interval (RISK-8)."""

    market: str
    volatility: int


@frozen
class OpenInterestUpdate:
    """A market's open interest, in lots: what MARGIN-12 scales the initial rate by."""

    market: str
    size: int


@frozen
class ParameterChange:
    """An operator replaces a market's parameters (RISK-5)."""

    market: Market


Event = (
    MarkUpdate
    | BookUpdate
    | Deposit
    | Withdrawal
    | Fill
    | Clock
    | IndexUpdate
    | TradeUpdate
    | ReferenceUpdate
    | ParameterChange
    | ImpliedVolatilityUpdate
    | OpenInterestUpdate
    | AddMargin
    | RemoveMargin
)

EVENT_KINDS: dict[type, str] = {
    MarkUpdate: "mark",
    BookUpdate: "book",
    Deposit: "deposit",
    Withdrawal: "withdraw",
    Fill: "fill",
    Clock: "clock",
    IndexUpdate: "index",
    TradeUpdate: "trade",
    ReferenceUpdate: "reference",
    ParameterChange: "parameters",
    ImpliedVolatilityUpdate: "implied-volatility",
    OpenInterestUpdate: "open-interest",
    AddMargin: "add-margin",
    RemoveMargin: "remove-margin",
}
"""The ``kind`` of each event, in scenario files (STATE-10) and in outputs alike (OUT-1)."""


def get_event_kind(event: Event) -> str:
    """Return the ``kind`` an event has in a scenario file and in an output (OUT-1).

    >>> get_event_kind(Withdrawal("alice", "USDT", 1))
    'withdraw'
    """
    return EVENT_KINDS[type(event)]


# --- positions ---------------------------------------------------------------------------------


def get_signed_size(account: AccountState, symbol: str) -> int:
    """Return s x q of the account's position in ``symbol``, or 0."""
    for p in account.positions:
        if p.market == symbol:
            return int(p.side) * p.size
    return 0


def _direction(market: Market) -> int:
    return 1 if market.contract is ContractKind.LINEAR else -1


def close_part(
    market: Market, position: Position, size: int, price: int
) -> tuple[int, Position | None]:
    """Close ``size`` lots at ``price``: return the realized PnL and what remains (STATE-9).

    The closed part's value is W = V(q) - V(q - size) at ``price``; it takes the share
    floor(E x size / q) of the entry value, the rest stays with the position, so no value is
    created or lost by the split.
    """
    remaining = position.size - size
    closed_value = get_value(market, position.size, price) - get_value(market, remaining, price)
    closed_entry = position.entry_value * size // position.size
    realized = int(position.side) * _direction(market) * (closed_value - closed_entry)
    if remaining == 0:
        return realized, None
    left = attrs.evolve(position, size=remaining, entry_value=position.entry_value - closed_entry)
    return realized, left


def _open_part(market: Market, position: Position, size: int, price: int) -> Position:
    """Add ``size`` lots at ``price``: E grows by V(q + size) - V(q) at ``price`` (STATE-9)."""
    held = position.size
    added = get_value(market, held + size, price) - get_value(market, held, price)
    return attrs.evolve(position, size=held + size, entry_value=position.entry_value + added)


def with_position(
    account: AccountState, symbol: str, position: Position | None, balance: int
) -> AccountState:
    """Replace (or remove) the position in ``symbol`` and set the balance (STATE-1).

    Positions stay ordered by market symbol.
    """
    others = [p for p in account.positions if p.market != symbol]
    positions = others if position is None else [*others, position]
    return attrs.evolve(
        account, balance=balance, positions=tuple(sorted(positions, key=lambda p: p.market))
    )


def apply_fill(account: AccountState, market: Market, signed_size: int, price: int) -> AccountState:
    """Trade ``signed_size`` lots (+ buy, - sell) at ``price``: reduce, close or flip, then open."""
    position = next((p for p in account.positions if p.market == market.symbol), None)
    balance = account.balance
    remaining = abs(signed_size)
    side = Side.LONG if signed_size > 0 else Side.SHORT
    if position is not None and position.side is not side:
        closing = min(remaining, position.size)
        realized, position = close_part(market, position, closing, price)
        balance += realized
        remaining -= closing
    if remaining:
        mode = MarginMode.ISOLATED if is_isolated(account) else MarginMode.CROSS
        position = _open_part(market, position or Position(market.symbol, side, 0, 0, mode),
                              remaining, price)  # fmt: skip
    return with_position(account, market.symbol, position, balance)
