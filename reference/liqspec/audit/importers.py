"""Venue logs: a venue's published liquidation streams read as marks and fills (AUDIT-9).

Each format reads one message per line, as the venue publishes it, and keeps only the fields
it maps; keys it does not read are ignored, because venues add fields to their messages. A
field it reads that is missing, of the wrong type or that cannot be mapped is bad input
naming the line and the field (exit 2). What a format's data cannot show is not checked:
each format declares the checks it supports (AUDIT-10).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

from attrs import frozen

from liqspec.audit.catalogue import Violation
from liqspec.audit.integrity import GENESIS, get_line_digest, get_normalised_text
from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import open_regular_file, read_json_lines
from liqspec.model.markets import Market

__all__ = ["SELF", "Format", "Parsed", "Role", "VenueFill", "VenueLine", "open_venue_log"]


class Role(enum.Enum):
    """What a venue fill was for: an ordinary trade, or one side of a liquidation or of ADL."""

    TRADE = "trade"
    LIQUIDATED = "liquidated"
    LIQUIDATOR = "liquidator"
    DELEVERAGED = "deleveraged"
    OFFSETTING = "offsetting"

    @property
    def counterpart(self) -> Role:
        """The role of the other side of the same match."""
        return _COUNTERPARTS[self]


_COUNTERPARTS = {
    Role.TRADE: Role.TRADE,
    Role.LIQUIDATED: Role.LIQUIDATOR,
    Role.LIQUIDATOR: Role.LIQUIDATED,
    Role.DELEVERAGED: Role.OFFSETTING,
    Role.OFFSETTING: Role.DELEVERAGED,
}


@frozen
class VenueFill:
    """One fill a venue reports (AUDIT-9); prices are exact, in ticks of the market."""

    market: str
    account: str | None
    role: Role
    side: int
    """1 for a buy, -1 for a sell."""
    price: Fraction
    size: int
    """Lots, above 0."""
    limit: int | None = None
    """The order's limit price, in ticks."""
    bankruptcy: int | None = None
    """The bankruptcy price the venue states, in ticks."""
    start: int | None = None
    """The account's signed size in the market before the fill, in lots."""
    mark: Fraction | None = None
    """The mark the venue states for the fill, in ticks."""
    pair: str | None = None
    """The key the other side of the same match carries."""


@frozen
class VenueLine:
    """One line of a venue log: the marks it sets and the fills it reports."""

    number: int
    marks: tuple[tuple[str, Fraction], ...]
    """Each market's new mark (or oracle price), exact, in ticks."""
    fills: tuple[VenueFill, ...]
    positions: tuple[tuple[str, str, int], ...]
    """Positions the line states: (account, market, signed lots), after its fills."""
    digest: str
    """The hash chain after this line (AUDIT-6)."""
    text: bytes
    """The line's normalised text (AUDIT-6)."""
    end: int
    """The byte offset just past the line."""


@frozen
class Parsed:
    """What one message says: new marks, fills, and positions it states after them."""

    marks: tuple[tuple[str, Fraction], ...] = ()
    fills: tuple[VenueFill, ...] = ()
    positions: tuple[tuple[str, str, int], ...] = ()
    """(account, market, signed size in lots) the venue states the account now holds."""


_Reader = Callable[[dict[str, Any], Mapping[str, Market]], Parsed]


# --- reading fields ------------------------------------------------------------------------------


def _get(row: dict[str, Any], path: str, kind: type = str) -> Any:
    """Return the field at the dotted ``path``; missing or of another type is bad input."""
    value: Any = row
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise InputError(Reason.MISSING_KEY, path, None, "the format maps this field")
        value = value[key]
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise InputError(Reason.WRONG_TYPE, path, value, f"must be a {kind.__name__}")
    return value


def _choice(row: dict[str, Any], path: str, allowed: Mapping[str, Any]) -> Any:
    """Return what the text at ``path`` maps to; text outside ``allowed`` cannot be mapped."""
    text = _get(row, path)
    if text not in allowed:
        detail = "must be one of " + ", ".join(allowed)
        raise InputError(Reason.OUT_OF_RANGE, path, text, detail)
    return allowed[text]


def _market(row: dict[str, Any], path: str, markets: Mapping[str, Market]) -> Market:
    """Return the loaded market the symbol at ``path`` names."""
    symbol = _get(row, path)
    if symbol not in markets:
        detail = "no market file given with --market has this symbol"
        raise InputError(Reason.UNKNOWN_MARKET, path, symbol, detail)
    return markets[symbol]


def _price(row: dict[str, Any], path: str, market: Market) -> Fraction:
    """Return the exact price at ``path`` in ticks: any decimal in (0, max_price]."""
    num, den = parse_decimal(_get(row, path), path)
    ticks = Fraction(num, den) / Fraction(market.price_tick.num, market.price_tick.den)
    if not 0 < ticks <= market.max_price:
        detail = f"must be above 0 and at most the market's max_price ({market.max_price} ticks)"
        raise InputError(Reason.OUT_OF_RANGE, path, _get(row, path), detail)
    return ticks


def _mark(
    row: dict[str, Any], symbol_path: str, price_path: str, markets: Mapping[str, Market]
) -> tuple[tuple[str, Fraction], ...]:
    """Return the mark a message sets; a market not loaded is skipped (no fill can use it)."""
    symbol = _get(row, symbol_path)
    if symbol not in markets:
        return ()
    return ((symbol, _price(row, price_path, markets[symbol])),)


def _grid_price(row: dict[str, Any], path: str, market: Market) -> int:
    """Return the price at ``path`` as whole ticks (CONV-3)."""
    ticks = _price(row, path, market)
    if ticks.denominator != 1:
        return to_units(_get(row, path), market.price_tick, path, "price tick")
    return int(ticks)


def _size(row: dict[str, Any], path: str, market: Market, *, signed: bool = False) -> int:
    """Return the size at ``path`` in lots (CONV-3): above 0, or any sign if ``signed``."""
    text = _get(row, path)
    negative = signed and text.startswith("-")
    lots = to_units(text[1:] if negative else text, market.lot_size, path, "lot size")
    if not signed and lots <= 0:
        raise InputError(Reason.OUT_OF_RANGE, path, text, "must be above 0")
    return -lots if negative else lots


# --- the formats ---------------------------------------------------------------------------------

_SIDES = {"BUY": 1, "SELL": -1}


def _combined(reader: _Reader) -> _Reader:
    """Also read a Binance combined stream's line, ``{"stream": ..., "data": {message}}``."""

    def read(row: dict[str, Any], markets: Mapping[str, Market]) -> Parsed:
        if set(row) != {"stream", "data"} or not isinstance(row["data"], dict):
            return reader(row, markets)
        try:
            return reader(row["data"], markets)
        except InputError as error:
            raise _renamed(error, "", "data.") from None

    return read


def _binance(row: dict[str, Any], markets: Mapping[str, Market]) -> Parsed:
    """USD-M futures ``forceOrder`` and ``markPriceUpdate`` messages."""
    kind = _choice(row, "e", {"forceOrder": "order", "markPriceUpdate": "mark"})
    if kind == "mark":
        return Parsed(marks=_mark(row, "s", "p", markets))
    market = _market(row, "o.s", markets)
    side = _choice(row, "o.S", _SIDES)
    limit = _grid_price(row, "o.p", market)
    if _size(row, "o.z", market, signed=True) == 0:
        return Parsed()
    fill = VenueFill(
        market.symbol, None, Role.LIQUIDATED, side, _price(row, "o.ap", market),
        _size(row, "o.z", market), limit=limit, bankruptcy=limit,
    )  # fmt: skip
    return Parsed(fills=(fill,))


def _bybit(row: dict[str, Any], markets: Mapping[str, Market]) -> Parsed:
    """V5 ``allLiquidation.SYMBOL`` and ``tickers.SYMBOL`` messages."""
    topic = _get(row, "topic")
    if topic.startswith("tickers."):
        if "markPrice" not in _get(row, "data", dict):  # a delta without a new mark
            return Parsed()
        return Parsed(marks=_mark(row, "data.symbol", "data.markPrice", markets))
    if not topic.startswith("allLiquidation."):
        detail = "must start with allLiquidation. or tickers."
        raise InputError(Reason.OUT_OF_RANGE, "topic", topic, detail)
    fills = []
    for i, item in enumerate(_get(row, "data", list)):
        entry = {"data": item}
        field = f"data[{i}]"
        try:
            market = _market(entry, "data.s", markets)
            # S is the side of the position closed: Buy means a long was liquidated.
            side = -_choice(entry, "data.S", {"Buy": 1, "Sell": -1})
            price = _grid_price(entry, "data.p", market)
            size = _size(entry, "data.v", market)
        except InputError as error:
            raise _renamed(error, "data", field) from None
        fills.append(VenueFill(market.symbol, None, Role.LIQUIDATED, side, Fraction(price),
                               size, bankruptcy=price))  # fmt: skip
    return Parsed(fills=tuple(fills))


SELF = "self"
"""The account of a user-data stream: the stream's own owner, who is not named in it."""

_USER_EVENTS = {"ORDER_TRADE_UPDATE": "order", "ACCOUNT_UPDATE": "account",
                "markPriceUpdate": "mark"}  # fmt: skip
_EXECUTIONS = {"NEW": False, "CANCELED": False, "CALCULATED": True, "EXPIRED": False,
               "TRADE": True, "AMENDMENT": False}  # fmt: skip
_ONE_WAY = {"BOTH": "BOTH"}


def _binance_user(row: dict[str, Any], markets: Mapping[str, Market]) -> Parsed:
    """USD-M futures user-data ``ORDER_TRADE_UPDATE`` and ``ACCOUNT_UPDATE``, and marks."""
    kind = _choice(row, "e", _USER_EVENTS)
    if kind == "mark":
        return Parsed(marks=_mark(row, "s", "p", markets))
    if kind == "account":
        positions = []
        for i, item in enumerate(_get(row, "a.P", list)):
            entry = {"p": item}
            try:
                market = _market(entry, "p.s", markets)
                _choice(entry, "p.ps", _ONE_WAY)
                lots = _size(entry, "p.pa", market, signed=True)
            except InputError as error:
                raise _renamed(error, "p", f"a.P[{i}]") from None
            positions.append((SELF, market.symbol, lots))
        return Parsed(positions=tuple(positions))
    market = _market(row, "o.s", markets)
    _choice(row, "o.ps", _ONE_WAY)
    if not _choice(row, "o.x", _EXECUTIONS) or _size(row, "o.l", market, signed=True) == 0:
        return Parsed()
    client = _get(row, "o.c")
    role = Role.TRADE
    if client.startswith("autoclose-"):
        role = Role.LIQUIDATED
    elif client.startswith("adl_autoclose"):  # the profitable side that ADL reduced
        role = Role.OFFSETTING
    fill = VenueFill(market.symbol, SELF, role, _choice(row, "o.S", _SIDES),
                     _price(row, "o.L", market), _size(row, "o.l", market))  # fmt: skip
    return Parsed(fills=(fill,))


_HYPERLIQUID_SIDES = {"B": 1, "A": -1}


def _hyperliquid(row: dict[str, Any], markets: Mapping[str, Market]) -> Parsed:
    """Node ``node_fills_by_block`` lines: a block's ``[user, fill]`` events."""
    fills = []
    for i, event in enumerate(_get(row, "events", list)):
        field = f"events[{i}]"
        if not (isinstance(event, list) and len(event) == 2 and isinstance(event[0], str)):
            detail = "must be a pair [user, fill]"
            raise InputError(Reason.WRONG_TYPE, field, None, detail)
        user, fill = event
        entry = {"fill": fill}
        try:
            market = _market(entry, "fill.coin", markets)
            role, mark = Role.TRADE, None
            if isinstance(fill, dict) and fill.get("liquidation") is not None:
                liquidated = _get(entry, "fill.liquidation.liquidatedUser")
                role = Role.LIQUIDATED if liquidated == user else Role.LIQUIDATOR
                mark = _price(entry, "fill.liquidation.markPx", market)
            fills.append(VenueFill(
                market.symbol, user, role, _choice(entry, "fill.side", _HYPERLIQUID_SIDES),
                _price(entry, "fill.px", market), _size(entry, "fill.sz", market),
                start=_size(entry, "fill.startPosition", market, signed=True), mark=mark,
                pair=str(_get(entry, "fill.tid", int)),
            ))  # fmt: skip
        except InputError as error:
            raise _renamed(error, "fill", f"{field}[1]") from None
    return Parsed(fills=tuple(fills))


_DYDX_ROLES = {
    "LIMIT": Role.TRADE,
    "TWAP_SUBORDER": Role.TRADE,
    "LIQUIDATED": Role.LIQUIDATED,
    "LIQUIDATION": Role.LIQUIDATOR,
    "DELEVERAGED": Role.DELEVERAGED,
    "OFFSETTING": Role.OFFSETTING,
}


def _dydx(row: dict[str, Any], markets: Mapping[str, Market]) -> Parsed:
    """Indexer websocket ``v4_subaccounts`` fills and ``v4_markets`` oracle prices."""
    channel = _choice(row, "channel", {"v4_subaccounts": "fills", "v4_markets": "oracle"})
    contents = _get(row, "contents", dict)
    if channel == "oracle":
        prices = contents.get("oraclePrices", {})
        if not isinstance(prices, dict):
            raise InputError(Reason.WRONG_TYPE, "contents.oraclePrices", None, "must be an object")
        marks: tuple[tuple[str, Fraction], ...] = ()
        for ticker in sorted(prices):
            entry = {"t": ticker, "o": prices[ticker]}
            try:
                marks += _mark(entry, "t", "o.oraclePrice", markets)
            except InputError as error:
                path = f"contents.oraclePrices.{ticker}"
                raise _renamed(error, "o", path) from None
        return Parsed(marks=marks)
    account = _get(row, "id")
    fills = []
    for i, item in enumerate(contents.get("fills", [])):
        entry = {"fill": item}
        try:
            market = _market(entry, "fill.ticker", markets)
            fills.append(VenueFill(
                market.symbol, account, _choice(entry, "fill.type", _DYDX_ROLES),
                _choice(entry, "fill.side", _SIDES), _price(entry, "fill.price", market),
                _size(entry, "fill.size", market), pair=_get(entry, "fill.eventId"),
            ))  # fmt: skip
        except InputError as error:
            raise _renamed(error, "fill", f"contents.fills[{i}]") from None
    return Parsed(fills=tuple(fills))


def _renamed(error: InputError, prefix: str, path: str) -> InputError:
    """Return ``error`` with its field named from the line's root."""
    field = path + error.field.removeprefix(prefix)
    return InputError(error.reason, field, error.value, error.detail, error.source)


class Format(enum.Enum):
    """A venue's stream format: ``(name, reader, the classes its data lets the audit check)``."""

    BINANCE = (
        "binance-force-order",
        _combined(_binance),
        (Violation.OUTSIDE_BAND, Violation.BEYOND_LIMIT, Violation.BANKRUPT_AT_MARK),
    )
    BINANCE_USER = (
        "binance-user-data",
        _combined(_binance_user),
        (Violation.CONTINUITY, Violation.OUTSIDE_BAND),
    )
    BYBIT = (
        "bybit-all-liquidation",
        _bybit,
        (Violation.OUTSIDE_BAND, Violation.BANKRUPT_AT_MARK),
    )
    HYPERLIQUID = (
        "hyperliquid-node-fills",
        _hyperliquid,
        (Violation.CONTINUITY, Violation.OUTSIDE_BAND, Violation.PAIR_MISMATCH),
    )
    DYDX = (
        "dydx-subaccount-fills",
        _dydx,
        (Violation.OUTSIDE_BAND, Violation.PAIR_MISMATCH),
    )

    @property
    def label(self) -> str:
        """The name ``--format`` takes."""
        return str(self.value[0])

    @property
    def checks(self) -> tuple[Violation, ...]:
        """The classes of finding this format's data supports (AUDIT-10)."""
        return tuple(self.value[2])

    def read(self, row: dict[str, Any], markets: Mapping[str, Market]) -> Parsed:
        """Map one message to the marks it sets and the fills it reports."""
        reader: _Reader = self.value[1]
        return reader(row, markets)

    @classmethod
    def named(cls, label: str) -> Format:
        """Return the format ``--format`` names."""
        return next(f for f in cls if f.label == label)


@contextmanager
def open_venue_log(
    path: Path, fmt: Format, markets: Mapping[str, Market]
) -> Iterator[tuple[Iterator[VenueLine], int]]:
    """Open a venue log: its lines one at a time, mapped by ``fmt``, and its size in bytes."""
    where = str(path)
    with open_regular_file(path) as handle:

        def read() -> Iterator[VenueLine]:
            digest = GENESIS
            for number, row in read_json_lines(handle, where):
                try:
                    parsed = fmt.read(row, markets)
                except InputError as error:
                    raise error.located(f"{where}: line {number}") from None
                text = get_normalised_text(row)
                digest = get_line_digest(digest, text)
                yield VenueLine(number, parsed.marks, parsed.fills, parsed.positions, digest,
                                text, handle.tell())  # fmt: skip

        yield read(), os.fstat(handle.fileno()).st_size
