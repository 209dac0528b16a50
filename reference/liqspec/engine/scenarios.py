"""Scenario files: an initial state and a sequence of events (spec/06-state.md#STATE-10).

A scenario names its market files (paths relative to the scenario), may override their
``[liquidation]`` tables, and gives funds, marks, books, accounts and events in decimal text.
:func:`replay` feeds the events to :func:`~liqspec.engine.transition.process_event` one by one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from liqspec.base.conventions import Ratio, parse_decimal, to_units
from liqspec.base.errors import EventRejectedError, InputError, Reason
from liqspec.base.files import check_schema, load_document
from liqspec.engine.records import Record
from liqspec.engine.state import (
    AccountState,
    AddMargin,
    Book,
    BookUpdate,
    Clock,
    Deposit,
    Event,
    Fill,
    ImpliedVolatilityUpdate,
    IndexUpdate,
    Level,
    MarketState,
    MarkUpdate,
    OpenInterestUpdate,
    ParameterChange,
    ReferenceUpdate,
    RemoveMargin,
    State,
    TradeUpdate,
    Withdrawal,
    check_book,
    get_isolated_id,
)
from liqspec.engine.transition import process_event
from liqspec.model.accounts import MarginMode, Side, open_position
from liqspec.model.market_files import (
    breaker_params_from,
    liquidation_params_from,
    load_market,
    mark_params_from,
    market_from_document,
    risk_params_from,
)
from liqspec.model.market_rules import validate_market
from liqspec.model.markets import Market, format_price

__all__ = [
    "Scenario",
    "Step",
    "event_from_row",
    "load_scenario",
    "replay",
    "scenario_from_document",
]


@frozen
class Scenario:
    """A named initial state and its events."""

    name: str
    description: str
    state: State
    events: tuple[Event, ...]
    expected: tuple[str | None, ...] = ()
    """Per event, the rejection reason the file expects (``expect``), or None."""


@frozen
class Step:
    """One replayed event: its records, or the rejection that left the state unchanged."""

    index: int
    event: Event
    records: tuple[Record, ...]
    rejection: EventRejectedError | None


def replay(scenario: Scenario) -> Iterator[tuple[Step, State]]:
    """Yield each step and the state after it (STATE-8)."""
    state = scenario.state
    for index, event in enumerate(scenario.events):
        try:
            state, records = process_event(state, event)
        except EventRejectedError as rejection:
            yield Step(index, event, (), rejection), state
        else:
            yield Step(index, event, records, None), state


def scenario_from_document(document: dict[str, Any], folder: Path | None = None) -> Scenario:
    """Build a scenario from a parsed document whose market documents are inline (VEC-3).

    With ``folder``, a market entry may also be a path relative to it (a scenario file);
    without, a path is rejected and no file is ever opened (protocol requests).
    """
    return _scenario(document, folder)


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario file (STATE-10); errors name the file and field."""
    path = Path(path)
    try:
        return _scenario(load_document(path), path.parent)
    except InputError as exc:  # an included market file's error names both files
        source = str(path) if exc.source in {None, str(path)} else f"{path}: {exc.source}"
        raise exc.located(source) from None


def _scenario(document: dict[str, Any], folder: Path | None) -> Scenario:
    check_schema(document, "scenario")
    spec = document["scenario"]
    markets = _markets(spec["markets"], folder, document)
    time = to_units(spec.get("time", "0"), Ratio(1, 1), "scenario.time", "1")
    if time < 0:
        detail = "the clock starts at 0 or later (STATE-1)"
        raise InputError(Reason.OUT_OF_RANGE, "scenario.time", spec["time"], detail)
    states = {}
    for symbol, market in markets.items():
        field = f"marks.{symbol}"
        if symbol not in document["marks"]:
            raise InputError(Reason.MISSING_MARK, field, None, "every market needs a mark")
        mark = _price(market, document["marks"][symbol], field)
        book = _initial_book(market, document.get("books", {}).get(symbol, {}), f"books.{symbol}")
        states[symbol] = MarketState(
            market,
            mark,
            book,
            reference=mark,
            history=((time, mark),),
            last_adjust=time,
            preempt_time=time,
        )
    unknown = sorted(set(document["marks"]) - set(markets))
    if unknown:
        raise InputError(Reason.UNKNOWN_MARKET, f"marks.{unknown[0]}", unknown[0], "not loaded")
    funds = {fund: _fund(markets, fund, text) for fund, text in document.get("funds", {}).items()}
    accounts: dict[str, AccountState] = {}
    for i, row in enumerate(document.get("accounts", [])):
        units = _account(markets, row, f"accounts[{i}]")
        if units[0].id in accounts:
            detail = "another account has this id"
            raise InputError(Reason.DUPLICATE_ACCOUNT, f"accounts[{i}].id", units[0].id, detail)
        accounts.update((unit.id, unit) for unit in units)
    state = State(time, states, accounts, funds)
    rows = document["events"]
    events = tuple(_event(markets, row, f"events[{i}]", folder) for i, row in enumerate(rows))
    expected = tuple(row.get("expect") for row in rows)
    return Scenario(spec["name"], spec["description"], state, events, expected)


def _markets(paths: list[str], folder: Path | None, document: dict[str, Any]) -> dict[str, Market]:
    markets: dict[str, Market] = {}
    for i, text in enumerate(paths):
        market = _scenario_market(text, folder, f"scenario.markets[{i}]")
        if market.symbol in markets:
            detail = "two market files define this symbol"
            raise InputError(Reason.DUPLICATE_MARKET, f"scenario.markets[{i}]", text, detail)
        for other in markets.values():  # every account is one cross pool (ACCOUNT-4)
            if other.settle_asset == market.settle_asset and (
                other.settle_quantum != market.settle_quantum
            ):
                detail = f"{other.symbol} settles {other.settle_asset} in another quantum"
                raise InputError(
                    Reason.CROSS_INCOMPATIBLE, f"scenario.markets[{i}]", market.symbol, detail
                )
        markets[market.symbol] = market
    for section in ("liquidation", "mark", "breakers", "risk"):
        for symbol, table in document.get(section, {}).items():
            if symbol not in markets:
                field = f"{section}.{symbol}"
                raise InputError(Reason.UNKNOWN_MARKET, field, symbol, "not loaded")
            markets[symbol] = _override(markets[symbol], section, table)
            validate_market(markets[symbol])
    return markets


def _scenario_market(
    entry: object, folder: Path | None, field: str, *, check: bool = True
) -> Market:
    """Load a market given inline, or by a path relative to the scenario's ``folder``."""
    if isinstance(entry, dict):
        try:
            return market_from_document(entry, check=check)
        except InputError as error:
            raise InputError(
                error.reason, f"{field}.{error.field}", error.value, error.detail
            ) from None
    if folder is None:
        detail = "documents are given inline here; a path is never opened"
        raise InputError(Reason.NOT_INLINE, field, entry, detail)
    try:
        return load_market(folder / str(entry), check=check)
    except InputError as error:  # names the entry of the scenario, and the market file
        inner = field if error.field == "<file>" else f"{field} -> {error.field}"
        raise InputError(error.reason, inner, error.value, error.detail, error.source) from None


def _override(market: Market, section: str, table: dict[str, Any]) -> Market:
    if section == "liquidation":
        params = liquidation_params_from(table, market.settle_quantum, market.liquidation)
        return attrs.evolve(market, liquidation=params)
    if section == "mark":
        return attrs.evolve(market, mark=mark_params_from(table, market.mark))
    if section == "breakers":
        return attrs.evolve(market, breakers=breaker_params_from(table, market.breakers))
    return attrs.evolve(market, risk=risk_params_from(table, market.risk))


def _market_of(markets: dict[str, Market], symbol: str, field: str) -> Market:
    if symbol not in markets:
        raise InputError(Reason.UNKNOWN_MARKET, field, symbol, "not among the scenario's markets")
    return markets[symbol]


def _price(market: Market, text: object, field: str) -> int:
    """Convert a price of the initial state: on the grid (CONV-3), in the domain (STATE-3)."""
    price = _ticks(market, text, field)
    if not 1 <= price <= market.max_price:
        top = format_price(market, market.max_price)
        detail = f"a price must be positive and at most max_price {top}"
        raise InputError(Reason.PRICE_OUT_OF_DOMAIN, field, text, detail)
    return price


def _ticks(market: Market, text: object, field: str) -> int:
    """Convert a price of an event: on the grid only; the transition checks its domain."""
    return to_units(text, market.price_tick, field, "price tick")


def _size(market: Market, text: object, field: str) -> int:
    """Convert a position size of the initial state: on the grid and positive."""
    size = _lots(market, text, field)
    if size <= 0:
        raise InputError(Reason.OUT_OF_RANGE, field, text, "must be positive")
    return size


def _lots(market: Market, text: object, field: str) -> int:
    """Convert a size of an event or a book level: on the grid only; the rules check it."""
    return to_units(text, market.lot_size, field, "lot size")


def _quantum(markets: dict[str, Market], asset: str, field: str) -> Ratio:
    for market in markets.values():
        if asset in {market.settle_asset, market.fund}:
            return market.settle_quantum
    raise InputError(Reason.UNKNOWN_ASSET, field, asset, "no loaded market settles in this asset")


def _fund(markets: dict[str, Market], fund: str, text: object) -> int:
    """Read an initial fund balance: a fund some market draws on (INS-1), never negative."""
    field = f"funds.{fund}"
    drawn = [market for market in markets.values() if market.fund == fund]
    if not drawn:
        detail = "no loaded market draws on this fund"
        raise InputError(Reason.UNKNOWN_FUND, field, fund, detail)
    balance = to_units(text, drawn[0].settle_quantum, field, "settlement quantum")
    if balance < 0:
        raise InputError(Reason.NEGATIVE_BALANCE, field, text, "a fund is never negative (INS-2)")
    return balance


def _amount(markets: dict[str, Market], asset: str, text: object, field: str) -> int:
    return to_units(text, _quantum(markets, asset, field), field, "settlement quantum")


def _book(market: Market, table: dict[str, Any], field: str) -> Book:
    """Read a book snapshot on the grid; its rules (STATE-2) are checked where it is used."""
    sides = {}
    for name in ("bids", "asks"):
        sides[name] = tuple(
            Level(
                _ticks(market, price, f"{field}.{name}[{i}][0]"),
                _lots(market, size, f"{field}.{name}[{i}][1]"),
            )
            for i, (price, size) in enumerate(table.get(name, []))
        )
    return Book(**sides)


def _initial_book(market: Market, table: dict[str, Any], field: str) -> Book:
    """Read the initial book: a broken one rejects the file (STATE-2, ``bad-book``)."""
    book = _book(market, table, field)
    try:
        check_book(book, market.max_price)
    except EventRejectedError as exc:
        raise InputError(Reason.BAD_BOOK, field, None, exc.detail) from None
    return book


def _account(
    markets: dict[str, Market], row: dict[str, Any], where: str
) -> tuple[AccountState, ...]:
    """Read one account: its cross unit, then an isolated unit per isolated position (STATE-11)."""
    asset = row["asset"]
    balance = _amount(markets, asset, row["balance"], f"{where}.balance")
    if balance < 0:
        detail = "a wallet starts at zero or more (STATE-1)"
        raise InputError(Reason.NEGATIVE_BALANCE, f"{where}.balance", row["balance"], detail)
    cross, isolated = [], []
    for j, spec in enumerate(row.get("positions", [])):
        field = f"{where}.positions[{j}]"
        market = _market_of(markets, spec["market"], f"{field}.market")
        if market.settle_asset != asset:
            detail = f"{market.symbol} settles in {market.settle_asset}"
            raise InputError(Reason.CROSS_INCOMPATIBLE, f"{field}.market", market.symbol, detail)
        side = Side[spec["side"].upper()]
        size = _size(market, spec["size"], f"{field}.size")
        entry = _price(market, spec["entry_price"], f"{field}.entry_price")
        mode = MarginMode(spec.get("margin_mode", "cross"))
        if ("isolated_margin" in spec) != (mode is MarginMode.ISOLATED):
            detail = "required for isolated positions and only for them"
            margin = spec.get("isolated_margin")
            raise InputError(Reason.ISOLATED_MARGIN, f"{field}.isolated_margin", margin, detail)
        position = open_position(market, side, size, entry, margin_mode=mode)
        if mode is MarginMode.CROSS:
            cross.append(position)
        else:
            unit_id = get_isolated_id(row["id"], market.symbol)
            margin = _isolated_margin(market, spec["isolated_margin"], f"{field}.isolated_margin")
            isolated.append(AccountState(unit_id, asset, margin, (position,)))
    held = [p.market for p in cross] + [p.market for unit in isolated for p in unit.positions]
    if len(set(held)) != len(held):
        raise InputError(
            Reason.DUPLICATE_POSITION, f"{where}.positions", row["id"], "one per market"
        )
    if len({markets[p.market].trigger for p in cross}) > 1:
        raise InputError(
            Reason.CROSS_INCOMPATIBLE, f"{where}.positions", row["id"], "triggers differ"
        )
    ordered = tuple(sorted(cross, key=lambda p: p.market))
    return (AccountState(row["id"], asset, balance, ordered), *sorted(isolated, key=lambda u: u.id))


def _isolated_margin(market: Market, text: object, field: str) -> int:
    """ACCOUNT-6: an isolated position's margin, on the settlement grid and >= 0."""
    margin = to_units(text, market.settle_quantum, field, "settlement quantum")
    if margin < 0:
        raise InputError(Reason.ISOLATED_MARGIN, field, text, "negative")
    return margin


def _required(row: dict[str, Any], where: str, *keys: str) -> None:
    for key in keys:
        if key not in row:
            detail = f"required for an event of kind {row['kind']}"
            raise InputError(Reason.MISSING_KEY, f"{where}.{key}", None, detail)


_EVENT_KEYS = {
    "mark": ("market", "price"), "book": ("market", "bids", "asks"),
    "deposit": ("account", "asset", "amount"), "withdraw": ("account", "asset", "amount"),
    "fill": ("account", "market", "side", "size", "price", "margin"), "clock": ("time",),
    "add-margin": ("account", "market", "amount"), "remove-margin": ("account", "market", "amount"),
    "index": ("market", "price", "basis"), "trade": ("market", "price"),
    "reference": ("market", "price"), "parameters": ("market", "file"),
    "implied-volatility": ("market", "volatility"), "open-interest": ("market", "size"),
}  # fmt: skip
_OPTIONAL_KEYS = {"bids", "asks", "margin"}
_PRICE_EVENTS: dict[str, Callable[[str, int], Event]] = {
    "mark": MarkUpdate,
    "trade": TradeUpdate,
    "reference": ReferenceUpdate,
}


def _event(
    markets: dict[str, Market], row: dict[str, Any], where: str, folder: Path | None
) -> Event:
    """STATE-10: one event table; only its kind's keys, all of them (but a book's sides)."""
    kind = row["kind"]
    allowed = _EVENT_KEYS[kind]
    extra = sorted(set(row) - {"kind", "expect", *allowed})
    if extra:
        detail = f"not for {kind}"
        raise InputError(Reason.UNKNOWN_KEY, f"{where}.{extra[0]}", row[extra[0]], detail)
    _required(row, where, *(key for key in allowed if key not in _OPTIONAL_KEYS))
    if kind == "clock":
        return Clock(to_units(row["time"], Ratio(1, 1), f"{where}.time", "1"))
    if kind in {"deposit", "withdraw"}:
        return _money_event(markets, row, where)
    market = _market_of(markets, row["market"], f"{where}.market")
    if kind in _PRICE_EVENTS:
        return _PRICE_EVENTS[kind](market.symbol, _ticks(market, row["price"], f"{where}.price"))
    return _market_event(market, row, where, folder)


def event_from_row(markets: dict[str, Market], row: dict[str, Any], where: str) -> Event:
    """Read one event in the scenario format (STATE-10) that the scenario schema accepted.

    No file is opened: a ``parameters`` event naming a file is refused.
    """
    return _event(markets, row, where, None)


_MARKET_VALUES: dict[str, Callable[[Market, dict[str, Any], str], Event]] = {
    "implied-volatility": lambda market, row, where: ImpliedVolatilityUpdate(
        market.symbol, _implied(row["volatility"], where)
    ),
    "open-interest": lambda market, row, where: OpenInterestUpdate(
        market.symbol, _lots(market, row["size"], f"{where}.size")
    ),
}
"""Events that set one value of a market: RISK-8's implied volatility, MARGIN-12's open interest."""


def _market_event(market: Market, row: dict[str, Any], where: str, folder: Path | None) -> Event:
    kind = row["kind"]
    if kind == "parameters":
        return _parameters(market, row, where, folder)
    if kind == "index":
        num, den = parse_decimal(row["basis"], f"{where}.basis")
        price = _ticks(market, row["price"], f"{where}.price")
        return IndexUpdate(market.symbol, price, Fraction(num, den))
    if kind == "book":
        return BookUpdate(market.symbol, _book(market, row, where))
    if kind in _MARKET_VALUES:
        return _MARKET_VALUES[kind](market, row, where)
    if kind in {"add-margin", "remove-margin"}:
        field = f"{where}.amount"
        amount = to_units(row["amount"], market.settle_quantum, field, "settlement quantum")
        move = AddMargin if kind == "add-margin" else RemoveMargin
        return move(row["account"], market.symbol, amount)
    side = Side.LONG if row["side"] == "buy" else Side.SHORT
    size = _lots(market, row["size"], f"{where}.size")
    price = _ticks(market, row["price"], f"{where}.price")
    margin = MarginMode(row.get("margin", "cross"))
    return Fill(row["account"], market.symbol, side, size, price, margin)


MAX_IMPLIED_PPM = 10**7
"""The largest implied volatility an event may give: 1000% per mark interval (RISK-8)."""


def _implied(text: object, where: str) -> int:
    """RISK-8: a whole number of ppm, 0 .. MAX_IMPLIED_PPM."""
    ppm = to_units(text, Ratio(1, 1), f"{where}.volatility", "ppm step")
    if not 0 <= ppm <= MAX_IMPLIED_PPM:
        detail = f"an implied volatility is 0 .. {MAX_IMPLIED_PPM} ppm"
        raise InputError(Reason.OUT_OF_RANGE, f"{where}.volatility", text, detail)
    return ppm


def _parameters(market: Market, row: dict[str, Any], where: str, folder: Path | None) -> Event:
    """RISK-5: replacement parameters from a market file of the same symbol."""
    # the event validates the parameters (RISK-5): a broken set is a rejected event
    replacement = _scenario_market(row["file"], folder, f"{where}.file", check=False)
    if replacement.symbol != market.symbol:
        detail = f"the file defines {replacement.symbol}"
        raise InputError(Reason.UNKNOWN_MARKET, f"{where}.file", row["file"], detail)
    return ParameterChange(replacement)


def _money_event(markets: dict[str, Market], row: dict[str, Any], where: str) -> Event:
    amount = _amount(markets, row["asset"], row["amount"], f"{where}.amount")
    if row["kind"] == "deposit":
        return Deposit(row["account"], row["asset"], amount)
    return Withdrawal(row["account"], row["asset"], amount)
