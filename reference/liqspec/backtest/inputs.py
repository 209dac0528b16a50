"""Backtest inputs: mark paths and populations (spec/14-backtest.md, BT-1 to BT-3).

Both are CSV files of decimal text. Every value is checked the way a market or account file
is (CONV-1..CONV-3): an error names the file, the line, the column, the value and the rule,
and nothing is half-read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from attrs import field, frozen

from liqspec.base.conventions import MAX_DECIMAL_CHARS, parse_decimal, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import read_regular_file
from liqspec.engine.state import get_isolated_id
from liqspec.model.accounts import MarginMode, Position, Side, open_position
from liqspec.model.markets import Market, format_price

__all__ = [
    "MAX_CSV_BYTES",
    "MAX_TICKS",
    "MAX_UNITS",
    "PATH_COLUMNS",
    "POPULATION_COLUMNS",
    "MarkPath",
    "Unit",
    "load_path",
    "load_population",
    "parse_path",
    "parse_population",
]

MAX_CSV_BYTES = 1 << 28
"""Largest CSV accepted (256 MiB): a year of one-second marks, or a million positions."""

MAX_UNITS = 1_000_000
"""Most units a population may hold."""

MAX_TICKS = 1 << 62
"""A backtest's marks are 64-bit integers: a market's max_price must stay below this."""

PATH_COLUMNS = ("time", "price")
POPULATION_COLUMNS = ("id", "mode", "market", "side", "size", "entry_price", "wallet")

_TIME = re.compile(r"0|[1-9][0-9]{0,17}")
_PRICE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_T = TypeVar("_T")


@frozen
class MarkPath:
    """The marks of one market at strictly increasing times (BT-1), in ticks."""

    market: str
    times: npt.NDArray[np.int64] = field(eq=False)
    ticks: npt.NDArray[np.int64] = field(eq=False)


@frozen
class Unit:
    """One margin unit of the population (BT-2): the engine account that holds it.

    A cross unit is every cross row of one ``owner``; an isolated row is a unit of its own,
    named ``owner@market``.
    """

    id: str
    owner: str
    mode: MarginMode
    asset: str
    wallet: int
    positions: tuple[Position, ...]
    entry_prices: tuple[int, ...]
    """Each position's entry price in ticks, as the population gave it."""


# --- mark paths --------------------------------------------------------------------------------


def load_path(path: str | os.PathLike[str], market: Market) -> MarkPath:
    """Read a mark path CSV for ``market`` (BT-1); errors name the file and line."""
    where = str(path)
    try:
        return parse_path(_text(Path(path)), market)
    except InputError as error:
        raise error.located(where) from None


def parse_path(text: str, market: Market) -> MarkPath:
    """Parse ``time,price`` lines: times whole and strictly increasing, prices in the domain."""
    if market.max_price >= MAX_TICKS:
        detail = f"a backtest keeps marks as 64-bit integers: max_price below {MAX_TICKS} ticks"
        raise InputError(Reason.OUT_OF_RANGE, "max_price", market.max_price, detail)
    lines = _lines(text)
    _check_header(lines[0], PATH_COLUMNS)
    times = np.empty(len(lines) - 1, dtype=np.int64)
    ticks = np.empty(len(lines) - 1, dtype=np.int64)
    price_of = _PriceParser(market, "a mark")
    previous = -1
    for row, line in enumerate(lines[1:]):
        where = f"line {row + 2}"
        time_text, comma, price_text = line.partition(",")
        if not comma or "," in price_text:
            raise InputError(Reason.SYNTAX, where, line, "a line is time,price (two fields)")
        if not _TIME.fullmatch(time_text):
            rule = "a whole number of at most 18 digits, no sign or leading zero"
            reason = Reason.OUT_OF_RANGE if time_text.isdigit() else Reason.NOT_A_DECIMAL
            raise InputError(reason, f"{where}: time", time_text, rule)
        time = int(time_text)
        if time <= previous:
            detail = f"times must strictly increase (previous {previous})"
            raise InputError(Reason.OUT_OF_RANGE, f"{where}: time", time_text, detail)
        times[row], ticks[row], previous = time, price_of(price_text, f"{where}: price"), time
    if not len(times):
        raise InputError(Reason.SYNTAX, "<file>", None, "a path needs at least one mark")
    return MarkPath(market.symbol, times, ticks)


def _lines(text: str) -> list[str]:
    """Split CSV text into lines (LF or CRLF); blank lines at the end are dropped (BT-1)."""
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise InputError(Reason.SYNTAX, "<file>", None, "file is empty")
    return lines


class _PriceParser:
    """Exact decimal price text to ticks (CONV-1, CONV-3, STATE-3), fast on the common form."""

    def __init__(self, market: Market, what: str) -> None:
        self.market, self.what = market, what

    def __call__(self, text: str, where: str) -> int:
        match = _PRICE.fullmatch(text) if len(text) <= MAX_DECIMAL_CHARS else None
        if match is None:  # the general parser names the precise rule broken
            ticks = to_units(text, self.market.price_tick, where, "price tick")
        else:
            whole, fraction = match.groups()
            digits = len(fraction or "")
            tick = self.market.price_tick
            num = (int(whole) * 10**digits + int(fraction or 0)) * tick.den
            den = 10**digits * tick.num
            ticks = num // den if num % den == 0 else to_units(text, tick, where, "price tick")
        if not 1 <= ticks <= self.market.max_price:
            top = format_price(self.market, self.market.max_price)
            detail = f"{self.what} is positive and at most max_price {top}"
            raise InputError(Reason.PRICE_OUT_OF_DOMAIN, where, text, detail)
        return ticks


# --- populations -------------------------------------------------------------------------------


def load_population(
    path: str | os.PathLike[str], markets: Mapping[str, Market]
) -> tuple[Unit, ...]:
    """Read a population CSV (BT-2); errors name the file, line and column."""
    where = str(path)
    try:
        return parse_population(_text(Path(path)), markets)
    except InputError as error:
        raise error.located(where) from None


def parse_population(text: str, markets: Mapping[str, Market]) -> tuple[Unit, ...]:
    """Parse population rows into margin units, in order of first appearance (BT-2)."""
    lines = _lines(text)
    _check_header(lines[0], POPULATION_COLUMNS)
    cross: dict[str, list[_CrossRow]] = {}
    units: dict[str, Unit] = {}
    order: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        where = f"line {number}"
        row = line.split(",")
        if len(row) != len(POPULATION_COLUMNS):
            detail = "a line has 7 fields separated by commas, without quotes"
            raise InputError(Reason.SYNTAX, where, line, detail)
        owner, mode_text, symbol, side_text, size_text, entry_text, wallet_text = row
        if not _ID.fullmatch(owner):
            detail = "1 to 64 letters, digits or _ . : -"
            raise InputError(Reason.OUT_OF_RANGE, f"{where}: id", owner, detail)
        mode = _choice(mode_text, {"cross": MarginMode.CROSS, "isolated": MarginMode.ISOLATED},
                       f"{where}: mode")  # fmt: skip
        if symbol not in markets:
            raise InputError(Reason.UNKNOWN_MARKET, f"{where}: market", symbol, "not loaded")
        market = markets[symbol]
        side = _choice(side_text, {"long": Side.LONG, "short": Side.SHORT}, f"{where}: side")
        size = to_units(size_text, market.lot_size, f"{where}: size", "lot size")
        if size <= 0:
            raise InputError(Reason.OUT_OF_RANGE, f"{where}: size", size_text, "must be positive")
        entry = _PriceParser(market, "an entry price")(entry_text, f"{where}: entry_price")
        wallet = to_units(wallet_text, market.settle_quantum, f"{where}: wallet", "quantum")
        if wallet < 0:
            detail = "a wallet is never negative in an input (STATE-1)"
            raise InputError(Reason.NEGATIVE_BALANCE, f"{where}: wallet", wallet_text, detail)
        position = open_position(market, side, size, entry, margin_mode=mode)
        unit_id = get_isolated_id(owner, symbol) if mode is MarginMode.ISOLATED else owner
        if unit_id not in units and unit_id not in cross and len(order) >= MAX_UNITS:
            detail = f"at most {MAX_UNITS:,} units"
            raise InputError(Reason.OUT_OF_RANGE, where, None, detail)
        if mode is MarginMode.ISOLATED:
            if unit_id in units:
                detail = "this owner already holds an isolated position in this market"
                raise InputError(Reason.DUPLICATE_POSITION, f"{where}: market", symbol, detail)
            units[unit_id] = Unit(
                unit_id, owner, mode, market.settle_asset, wallet, (position,), (entry,)
            )
            order.append(unit_id)
        else:
            if owner not in cross:
                order.append(owner)
            cross.setdefault(owner, []).append(_CrossRow(position, wallet_text, where, entry))
            _check_cross(owner, cross[owner], markets)
    for owner, rows_of in cross.items():
        first = markets[rows_of[0].position.market]
        wallet = to_units(rows_of[0].wallet, first.settle_quantum, "wallet", "quantum")
        held = sorted(rows_of, key=lambda row: row.position.market)
        positions, entries = tuple(r.position for r in held), tuple(r.entry for r in held)
        units[owner] = Unit(
            owner, owner, MarginMode.CROSS, first.settle_asset, wallet, positions, entries
        )
    return tuple(units[unit_id] for unit_id in order)


@frozen
class _CrossRow:
    position: Position
    wallet: str
    where: str
    entry: int


def _check_cross(owner: str, rows: list[_CrossRow], markets: Mapping[str, Market]) -> None:
    """Rows of one cross unit: one wallet, distinct markets, one asset and trigger (ACCOUNT-4)."""
    row, first = rows[-1], rows[0]
    market, first_market = markets[row.position.market], markets[first.position.market]
    if parse_decimal(row.wallet, "wallet") != parse_decimal(first.wallet, "wallet"):
        detail = f"every cross line of {owner!r} gives the unit's one wallet, {first.wallet}"
        raise InputError(Reason.CROSS_INCOMPATIBLE, f"{row.where}: wallet", row.wallet, detail)
    if any(r.position.market == row.position.market for r in rows[:-1]):
        detail = f"{owner!r} already holds a cross position in this market"
        raise InputError(Reason.DUPLICATE_POSITION, f"{row.where}: market", market.symbol, detail)
    if (market.settle_asset, market.trigger) != (first_market.settle_asset, first_market.trigger):
        detail = (
            f"a cross unit settles in one asset with one trigger, as {first_market.symbol} does"
        )
        raise InputError(Reason.CROSS_INCOMPATIBLE, f"{row.where}: market", market.symbol, detail)


def _choice(text: str, options: dict[str, _T], where: str) -> _T:
    if text not in options:
        detail = f"one of {', '.join(options)}"
        raise InputError(Reason.OUT_OF_RANGE, where, text, detail)
    return options[text]


# --- shared ------------------------------------------------------------------------------------


def _text(path: Path) -> str:
    raw = read_regular_file(path, MAX_CSV_BYTES)
    try:
        return raw.decode("utf-8-sig")  # a spreadsheet's byte-order mark is not a column name
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text (byte {exc.start})"
        raise InputError(Reason.SYNTAX, "<file>", None, detail) from exc


def _check_header(line: str, columns: tuple[str, ...]) -> None:
    found = line.split(",")
    if tuple(found) == columns:
        return
    unknown = [name for name in found if name not in columns]
    if unknown:
        detail = f"the columns are {','.join(columns)}"
        raise InputError(Reason.UNKNOWN_KEY, "line 1", unknown[0], detail)
    detail = f"the header must be exactly {','.join(columns)}"
    raise InputError(Reason.MISSING_KEY, "line 1", line[:80], detail)
