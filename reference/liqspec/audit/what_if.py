"""What-if: the log's events replayed with corrected marks (spec/16-audit.md#AUDIT-11).

The reference replays the log's events twice with its own rules: once as logged, once with
the mark and index events of a window corrected. For each unit it compares the first
liquidation action and the equity at the end, both valued at the corrected replay's final
marks. What a unit's equity lost against the corrected replay is the compensation the
difference implies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path

import attrs
from attrs import frozen

from liqspec.audit.log import open_log
from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import EventRejectedError, InputError, Reason
from liqspec.base.files import read_csv
from liqspec.engine.records import LiquidationStep, Record, Takeover
from liqspec.engine.state import Event, IndexUpdate, MarkUpdate, State, get_unit
from liqspec.engine.transition import process_event
from liqspec.model.margin import get_equity

__all__ = [
    "Difference",
    "Liquidated",
    "get_differences",
    "load_corrections",
    "read_events",
]

MAX_CORRECTIONS_BYTES = 64 << 20
"""The largest corrections file read."""


@frozen
class Liquidated:
    """A unit's first liquidation action in a replay: its line, market and price in ticks.

    The price is the first fill of a liquidation step, or a takeover's price.
    """

    line: int
    market: str
    price: int


@frozen
class Difference:
    """One unit whose first liquidation or final equity differs between the two replays."""

    account: str
    asset: str
    logged: Liquidated | None
    corrected: Liquidated | None
    logged_equity: int
    """The equity after the replay as logged, valued at the corrected replay's final marks."""
    corrected_equity: int

    @property
    def compensation(self) -> int:
        """The equity the logged marks cost the unit, if any (AUDIT-11).

        >>> Difference("u", "USDT", None, None, 70, 100).compensation
        30
        >>> Difference("u", "USDT", None, None, 100, 70).compensation
        0
        """
        return max(0, self.corrected_equity - self.logged_equity)


def read_events(path: Path) -> tuple[State, list[tuple[int, Event]]]:
    """Return a log's starting state and its events with their line numbers, in memory."""
    with open_log(path) as (scenario, lines, _, _):
        return scenario.state, [(line.number, line.event) for line in lines]


def load_corrections(
    path: Path, state: State, events: Iterable[tuple[int, Event]]
) -> dict[int, Event]:
    """Read a corrections CSV: columns ``line`` and ``price``, optionally ``basis``.

    Each row replaces the price (and, for an index, optionally the basis) of the mark or index
    event on that line of the log. An error names the file, the line and the column.
    """
    logged = dict(events)
    corrected: dict[int, Event] = {}
    for where, row in read_csv(path, ("line", "price"), ("basis",), MAX_CORRECTIONS_BYTES):
        try:
            number, event = _event_at(row["line"], logged, where)
            if number in corrected:
                detail = "a line is corrected once"
                raise InputError(Reason.OUT_OF_RANGE, f"{where}: line", row["line"], detail)
            market = state.markets[event.market].market
            price = to_units(row["price"], market.price_tick, f"{where}: price", "price tick")
            if not 1 <= price <= market.max_price:
                detail = f"must be a price of the market, 1 to {market.max_price} ticks"
                raise InputError(Reason.OUT_OF_RANGE, f"{where}: price", row["price"], detail)
            corrected[number] = _corrected(event, price, row.get("basis", ""), where)
        except InputError as error:
            raise error.located(str(path)) from None
    return corrected


def _event_at(
    text: str, logged: Mapping[int, Event], where: str
) -> tuple[int, MarkUpdate | IndexUpdate]:
    number = int(text) if text.isdigit() and len(text) <= 12 else None
    event = logged.get(number) if number is not None else None
    if number is None or not isinstance(event, MarkUpdate | IndexUpdate):
        detail = "must be the number of a line of the log that holds a mark or index event"
        raise InputError(Reason.OUT_OF_RANGE, f"{where}: line", text, detail)
    return number, event


def _corrected(event: MarkUpdate | IndexUpdate, price: int, basis: str, where: str) -> Event:
    if isinstance(event, MarkUpdate):
        if basis:
            detail = "a mark event has no basis; only an index event's may be corrected"
            raise InputError(Reason.UNKNOWN_KEY, f"{where}: basis", basis, detail)
        return attrs.evolve(event, price=price)
    if not basis:
        return attrs.evolve(event, price=price)
    num, den = parse_decimal(basis, f"{where}: basis")
    return attrs.evolve(event, price=price, basis=Fraction(num, den))


def _replay(
    state: State, events: Iterable[tuple[int, Event]]
) -> tuple[State, dict[str, Liquidated]]:
    """Replay the events (STATE-8); return the final state and each unit's first liquidation."""
    first: dict[str, Liquidated] = {}
    for number, event in events:
        try:
            state, records = process_event(state, event)
        except EventRejectedError:
            continue
        for account, liquidated in _liquidations(number, records):
            first.setdefault(account, liquidated)
    return state, first


def _liquidations(number: int, records: Iterable[Record]) -> Iterator[tuple[str, Liquidated]]:
    for record in records:
        if isinstance(record, LiquidationStep) and record.levels:
            yield record.account, Liquidated(number, record.market, record.levels[0][0])
        elif isinstance(record, Takeover):
            yield record.account, Liquidated(number, record.market, record.price)


def get_differences(
    state: State, events: list[tuple[int, Event]], corrections: Mapping[int, Event]
) -> list[Difference]:
    """Replay as logged and as corrected; return the units whose fate differs, by id."""
    logged_end, logged = _replay(state, events)
    fixed = [(number, corrections.get(number, event)) for number, event in events]
    corrected_end, corrected = _replay(state, fixed)
    valued = attrs.evolve(logged_end, markets=corrected_end.markets)
    differences = []
    for name in sorted(set(logged_end.accounts) | set(corrected_end.accounts)):
        before = _equity(valued, name)
        after = _equity(corrected_end, name)
        if (logged.get(name), before) == (corrected.get(name), after):
            continue
        asset = (corrected_end.accounts.get(name) or logged_end.accounts[name]).asset
        differences.append(
            Difference(name, asset, logged.get(name), corrected.get(name), before, after)
        )
    return differences


def _equity(state: State, name: str) -> int:
    """Return the unit's equity at the state's marks, 0 for a unit the state does not have."""
    account = state.accounts.get(name)
    return 0 if account is None else get_equity(get_unit(state, account))
