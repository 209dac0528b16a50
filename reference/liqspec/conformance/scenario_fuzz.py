"""Whole scenarios drawn at random: a Hypothesis strategy, a differential fuzzer, seeded vectors.

:func:`scenarios` draws scenario documents (spec/06-state.md#STATE-10) with their markets
inline, as the ``input.scenario`` of a ``scenario`` vector (VEC-3): 2-50 accounts over 1-3
bundled markets, thin, empty or refreshed books, mark moves that put several accounts into
liquidation in one event, every policy, small funds, ADL and socialization, halts and bands,
risk adjustment with phase-in, and every kind of event. :func:`fuzz_scenarios` sends them to an
adapter and to the reference, and shrinks a disagreement to a minimal vector.
:func:`random_scenario_vectors` keeps seeded scenarios as vectors for the suite.

One builder makes every document; it reads its choices from a *draw*: Hypothesis's (so a
failing case shrinks toward one market, two accounts and one event) or a seeded stream of
SHA-256 blocks (so the vectors are the same on every machine and every Hypothesis version).
Hypothesis is imported only by :func:`scenarios` and :func:`fuzz_scenarios`.
"""

from __future__ import annotations

import copy
import hashlib
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from attrs import frozen

from liqspec.base.errors import LiqspecError
from liqspec.base.files import get_bundled
from liqspec.conformance.reports import first_difference
from liqspec.conformance.runner import AdapterError, HandshakeError, Runner
from liqspec.conformance.vectors import Vector, canonical, evaluate, make_vector
from liqspec.model.accounts import Position, Side, open_position
from liqspec.model.margin import get_maintenance_margin
from liqspec.model.market_files import market_from_document
from liqspec.model.markets import (
    ContractKind,
    Market,
    format_amount,
    format_price,
    format_size,
    get_value,
)

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

__all__ = [
    "Finding",
    "ScenarioKindUnsupportedError",
    "exercised_rules",
    "fuzz_scenarios",
    "random_scenario_vectors",
    "scenarios",
]

T = TypeVar("T")

MAX_ACCOUNTS = 50
"""Most accounts in a drawn scenario (at least 2)."""

MAX_EVENTS = 12
"""Most events drawn for a scenario (at least 1); a ``move`` is two (a book, then a mark)."""


# --- the bundled markets ---------------------------------------------------------------------


@frozen
class _Listed:
    """A bundled market file and how the builder sizes things in it."""

    stem: str
    document: dict[str, Any]
    market: Market
    mark: int
    """Starting mark, in ticks."""
    unit: int
    """A typical step of position size, in lots (about 3,000 USD, 7.5 XBT for step tiers)."""


_ORDER = (
    ("binance-btcusdt-2024-10-24", "60000", 50),
    ("binance-cyberusdt-2023-08-31", "5", 5000),
    ("binance-btcusd-coinm-2024", "60000", 30),
    ("bitmex-xbtusd-step", "60000", 4500),
    ("hyperliquid-btc-2024", "60000", 5000),
    ("bybit-btcperp-usdc-examples", "60000", 50),
    ("binance-btcusdt-2022-02-12", "60000", 50),
    ("bybit-btcusdt-isolated-examples", "60000", 50),
)
"""The bundled markets, most typical first (shrinking goes to the first), with a mark and unit."""


@cache
def _catalogue() -> tuple[_Listed, ...]:
    folder = get_bundled("markets")
    listed = []
    for stem, mark, unit in _ORDER:
        document = tomllib.loads((folder / f"{stem}.toml").read_text(encoding="utf-8"))
        market = market_from_document(document)
        tick = Fraction(market.price_tick.num, market.price_tick.den)
        listed.append(_Listed(stem, document, market, int(Fraction(mark) / tick), unit))
    return tuple(listed)


def _compatible(chosen: list[_Listed], candidate: _Listed) -> bool:
    """One market per symbol (MARKET-11); markets of one asset share its quantum (ACCOUNT-4)."""
    new = candidate.market
    return all(
        m.market.symbol != new.symbol
        and (
            m.market.settle_asset != new.settle_asset
            or m.market.settle_quantum == new.settle_quantum
        )
        for m in chosen
    )


# --- draws -------------------------------------------------------------------------------------


class _Draw(Protocol):
    """Where the builder's choices come from."""

    def integer(self, low: int, high: int) -> int:
        """Return an integer in ``low … high``; simpler is nearer ``low`` (or 0)."""
        ...

    def choice(self, options: Sequence[T]) -> T:
        """Return one of ``options``; simpler is earlier."""
        ...

    def flag(self, percent: int) -> bool:
        """Return True with about this chance; simpler is False."""
        ...

    def many(self, low: int, high: int, item: Callable[[_Draw], T]) -> list[T]:
        """Return ``low … high`` items, mostly few; simpler is fewer."""
        ...


class _Seeded:
    """A reproducible draw: SHA-256 of (key, block number), read as a bit stream."""

    def __init__(self, key: str) -> None:
        self._key = key.encode()
        self._block = 0
        self._bits = 0
        self._count = 0

    def _take(self, n: int) -> int:
        while self._count < n:
            digest = hashlib.sha256(self._key + b"/" + str(self._block).encode()).digest()
            self._block += 1
            self._bits = (self._bits << 256) | int.from_bytes(digest, "big")
            self._count += 256
        self._count -= n
        value = self._bits >> self._count
        self._bits &= (1 << self._count) - 1
        return value

    def integer(self, low: int, high: int) -> int:
        span = high - low + 1
        width = max(1, (span - 1).bit_length())
        while True:  # rejection sampling: uniform, and the same on every platform
            value = self._take(width)
            if value < span:
                return low + value

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def flag(self, percent: int) -> bool:
        return self.integer(0, 99) < percent

    def many(self, low: int, high: int, item: Callable[[_Draw], T]) -> list[T]:
        roll, span = self.integer(0, 99), high - low
        top = min(span, 3) if roll < 55 else min(span, 12) if roll < 90 else span
        return [item(self) for _ in range(low + self.integer(0, top))]


class _Simplest:
    """The draw that always takes the simplest choice (what shrinking aims at)."""

    def integer(self, low: int, high: int) -> int:
        return min(max(0, low), high)

    def choice(self, options: Sequence[T]) -> T:
        return options[0]

    def flag(self, percent: int) -> bool:  # noqa: ARG002 - the simplest answer is always no
        return False

    def many(self, low: int, high: int, item: Callable[[_Draw], T]) -> list[T]:  # noqa: ARG002
        return [item(self) for _ in range(low)]


class _Hypothesis:
    """Hypothesis's draw: integers shrink toward 0, choices toward the first, lists to fewer.

    A choice is drawn as an index, and strategies are built once per range: building a
    strategy costs more than drawing from it.
    """

    def __init__(self, draw: DrawFn, integers: dict[tuple[int, int], SearchStrategy[int]]) -> None:
        self._draw = draw
        self._integers = integers

    def integer(self, low: int, high: int) -> int:
        strategy = self._integers.get((low, high))
        if strategy is None:
            from hypothesis import strategies  # noqa: PLC0415 - only the fuzzer loads Hypothesis

            strategy = self._integers[low, high] = strategies.integers(low, high)
        return self._draw(strategy)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.integer(0, len(options) - 1)]

    def flag(self, percent: int) -> bool:
        return self.integer(0, 99) >= 100 - percent

    def many(self, low: int, high: int, item: Callable[[_Draw], T]) -> list[T]:
        from hypothesis import strategies  # noqa: PLC0415 - only the fuzzer loads Hypothesis

        one = _item_strategy()(item, self._integers)
        return self._draw(strategies.lists(one, min_size=low, max_size=high))


@cache
def _item_strategy() -> Callable[..., SearchStrategy[Any]]:
    """Return the one composite strategy of a list item, defined once (defining one is slow)."""
    from hypothesis import strategies  # noqa: PLC0415 - only the fuzzer loads Hypothesis

    @strategies.composite
    def item(
        draw: DrawFn,
        build: Callable[[_Draw], Any],
        integers: dict[tuple[int, int], SearchStrategy[int]],
    ) -> Any:
        return build(_Hypothesis(draw, integers))

    return item


# --- the builder -------------------------------------------------------------------------------


def _scaled(price: int, bp: int, market: Market) -> int:
    """Return ``price`` moved by ``bp`` basis points, on the grid and in the domain."""
    return min(market.max_price, max(1, price * (10_000 + bp) // 10_000))


def _decimal(value: Fraction) -> str:
    """Exact decimal text of a fraction whose denominator divides a power of ten."""
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
    whole = int(value * 10**digits)
    if not digits:
        return str(whole)
    text = str(abs(whole)).rjust(digits + 1, "0")
    return f"{'-' if whole < 0 else ''}{text[:-digits]}.{text[-digits:]}"


_LIQUIDATION_EXTRAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("on_unfilled", ("wait", "takeover")),
    ("chunk", ("0.5", "0.1", "1")),
    ("cooldown", ("0", "10", "60")),
    ("buffer", ("0", "0.05", "0.2")),
    ("fee", ("0", "0.005", "0.02")),
    ("impact_bound", ("0.01", "0.02", "0.1")),
    ("max_step_notional", ("5", "1", "20")),
    ("dust_notional", ("0.5", "0.1", "1")),
    ("insurance_step_cap", ("0.01", "0.1")),
    ("insurance_fund", ("own",)),
)
"""Optional ``[liquidation]`` keys and their values; amounts are multiples of a unit's value."""

_BREAKERS: tuple[dict[str, Any], ...] = (
    {"band": "0.002"},
    {"halt_levels": ["0.03"], "halt_durations": ["30"]},
    {"band": "0.01"},
    {"band": "0.02", "while_halted": "continue"},
    {"halt_levels": ["0.02", "0.05"], "halt_durations": ["20", "0"], "while_halted": "pause"},
    {"halt_levels": ["0.01", "0.04", "0.08"], "halt_durations": ["10", "60", "0"],
     "while_halted": "takeover-only"},
    {"dynamic_move": "0.03", "dynamic_window": "60", "dynamic_pause": "30"},
    {"band": "0.005", "while_halted": "takeover-only"},
    {"dynamic_move": "0.01", "dynamic_window": "10", "dynamic_pause": "5",
     "while_halted": "continue"},
    {"withdrawal_block": "50"},
    {"stale_after": "20"},
    {"divergence": "0.02", "band_reference": "index", "band": "0.05"},
)  # fmt: skip
"""``[breakers]`` tables: bands, halts, the dynamic breaker, gates; a market takes 1-2 of them."""

_RISK: tuple[dict[str, str], ...] = (
    {"vol_window": "1", "vol_threshold": "2000", "slope": "0.0001", "max_multiplier": "1.5",
     "max_step": "0.1", "hysteresis": "0.01", "interval": "1"},
    {"vol_window": "2", "vol_threshold": "0", "slope": "0.00002", "max_multiplier": "1.9",
     "max_step": "0.5", "hysteresis": "0", "interval": "10"},
    {"vol_window": "4", "vol_threshold": "10000", "slope": "0.001", "max_multiplier": "1.2",
     "max_step": "0.05", "hysteresis": "0.1", "interval": "30"},
)  # fmt: skip
"""``[risk]`` tables (RISK-1..3); a ``phase_in`` is drawn beside."""

_LEVELS = ((10, 1), (2, 4), (30, 1), (80, 20), (200, 4), (5, 1, 5), (50, 20, 5))
"""Book levels: (gap from the previous price in basis points, units of size[, divisor])."""

_SIZES = (3, 1, 10, 30, 2, 100, 6, 60, 20, 120, 4, 45)
"""Position sizes in thirds of a market's unit, from a third to 40 units; a big position and
smaller ones across from it make ADL go over many counterparties (INS-4)."""

_FUNDS = (Fraction(1, 100), Fraction(0), Fraction(1, 10), Fraction(1), Fraction(1000))
"""Insurance funds, in units' value: mostly small enough to run out (INS-2)."""

_AMOUNTS = (Fraction(1), Fraction(1, 10), Fraction(10), Fraction(1, 100), Fraction(100))
"""Deposits and withdrawals, in units' value."""

_TWIN = -1
_LEVERAGES = (50, 100, 20, 125, 5, 75, 10, 150, 2, 35, 0, _TWIN)
"""Equity at the start is the notional over the leverage; 0: no position; -1: a twin."""

_EVENTS = (
    "target", "mark", "move", "clock", "target", "book", "clock", "fill", "mark", "move",
    "deposit", "withdraw", "reference", "index", "trade", "parameters",
)  # fmt: skip
"""Event kinds, moves of the mark the likeliest (and first: shrinking goes there). A ``move``
is a book refreshed around a new mark, then that mark; a ``target`` the same, with the mark
where an account's starting E/MM reaches one of :data:`_RATIOS`."""

_RATIOS = (Fraction(9, 10), Fraction(1, 2), Fraction(1), Fraction(0), Fraction(-1, 5))
"""E/MM aimed at: just liquidated, well below, exactly at the trigger, bankrupt, beyond."""


class _Builder:
    """Builds one scenario document from a draw, tracking marks and accounts as it goes."""

    def __init__(self, draw: _Draw, name: str) -> None:
        self.draw = draw
        self.name = name
        self.listed: list[_Listed] = []
        self.marks: dict[str, int] = {}
        self.derived: set[str] = set()
        self.accounts: list[dict[str, Any]] = []
        self.assets: dict[str, _Listed] = {}
        self.exposure: dict[str, tuple[int, list[tuple[_Listed, Position]]]] = {}
        """Per account id: its starting balance and positions, to aim mark moves at it."""
        self.time = 0

    def pick(self, options: Sequence[T]) -> T:
        """Choose among ``options``, drawing nothing when there is one."""
        return options[0] if len(options) == 1 else self.draw.choice(options)

    # markets and their tables

    def markets(self) -> None:
        catalogue = _catalogue()
        picks = self.draw.many(1, 3, lambda d: d.integer(0, len(catalogue) - 1))
        for index in picks:
            if _compatible(self.listed, catalogue[index]):
                self.listed.append(catalogue[index])
        for entry in self.listed:
            self.marks[entry.market.symbol] = entry.mark
            self.assets.setdefault(entry.market.settle_asset, entry)

    def unit_value(self, entry: _Listed, units: Fraction | int = 1) -> int:
        """Return the value of ``units`` typical sizes at the starting mark, in quantums."""
        return int(get_value(entry.market, entry.unit, entry.mark) * Fraction(units))

    def liquidation(self, entry: _Listed) -> dict[str, str]:
        draw, market = self.draw, entry.market
        table = {"policy": draw.choice(["health", "chunk", "tier-step"])}
        if draw.flag(40):
            table["deleveraging"] = draw.choice(["socialize", "adl"])
        for key, values in draw.many(0, 3, lambda d: d.choice(_LIQUIDATION_EXTRAS)):
            value = self.pick(values)
            if key == "insurance_fund":
                value = f"{market.symbol}-fund"
            elif key.endswith(("_notional", "_cap")):
                value = format_amount(market, self.unit_value(entry, Fraction(value)))
            table[key] = value
        return table

    def book(self, entry: _Listed, mark: int) -> dict[str, list[list[str]]]:
        draw, market = self.draw, entry.market
        shape = draw.choice(["thin", "deep", "empty", "bids", "asks"])
        sides: dict[str, list[list[str]]] = {"bids": [], "asks": []}
        for side, sign in (("bids", -1), ("asks", 1)):
            if shape == "empty" or shape == {"bids": "asks", "asks": "bids"}[side]:
                continue
            price = mark
            for _ in range(1 if shape == "thin" else draw.integer(1, 4)):
                gap, units, *divisor = draw.choice(_LEVELS)
                moved = _scaled(price, sign * gap, market)
                price = moved if moved != price else price + sign
                if not 1 <= price <= market.max_price:
                    break
                lots = max(1, entry.unit * units // (divisor[0] if divisor else 1))
                sides[side].append([format_price(market, price), format_size(market, lots)])
        return sides

    # accounts

    def account(self, draw: _Draw) -> dict[str, Any]:
        # Few draws, and the same whatever came before: shrinking deletes an account by
        # deleting its draws (at most five in a row for a one-market account).
        leverage = draw.choice(_LEVERAGES)
        account_id = f"a{len(self.accounts)}"
        if leverage == _TWIN:  # the same E/MM as an earlier account: ties go by id (LIQ-3)
            index = draw.integer(0, MAX_ACCOUNTS - 1)
            if self.accounts:
                account = copy.deepcopy(self.accounts[index % len(self.accounts)])
                self.exposure[account_id] = self.exposure[account["id"]]
            else:
                account = self.fresh_account(_Simplest(), _LEVERAGES[0], account_id)
        else:
            account = self.fresh_account(draw, leverage, account_id)
        account["id"] = account_id
        self.accounts.append(account)
        return account

    def fresh_account(self, draw: _Draw, leverage: int, account_id: str) -> dict[str, Any]:
        groups: dict[tuple[str, str], list[_Listed]] = {}
        for entry in self.listed:
            key = (entry.market.settle_asset, entry.market.trigger.value)
            groups.setdefault(key, []).append(entry)
        asset, _ = key = self.pick(sorted(groups))
        entries = groups[key]
        if len(entries) > 1:
            entries = [e for e in entries if draw.flag(70)] or entries[:1]
        positions, notional, pnl, legs = [], 0, 0, []
        for entry in entries if leverage else []:
            market, mark = entry.market, entry.mark
            signed = draw.integer(1 - len(_SIZES), len(_SIZES) - 1)  # below zero a short
            size = max(1, entry.unit * _SIZES[abs(signed)] // 3)
            entry_price = _scaled(mark, draw.integer(-300, 300), market)
            direction = (1 if signed >= 0 else -1) * (
                1 if market.contract is ContractKind.LINEAR else -1
            )
            legs.append((entry, open_position(
                market, Side.LONG if signed >= 0 else Side.SHORT, size, entry_price
            )))  # fmt: skip
            value = get_value(market, size, mark)
            notional += value
            pnl += direction * (value - get_value(market, size, entry_price))
            positions.append({
                "market": market.symbol, "side": "long" if signed >= 0 else "short",
                "size": format_size(market, size), "entry_price": format_price(market, entry_price),
            })  # fmt: skip
        # equity at the starting mark: the notional over the leverage; no position: 20 units
        balance = notional // leverage - pnl if positions else self.unit_value(entries[0], 20)
        self.exposure[account_id] = (max(0, balance), legs)
        account: dict[str, Any] = {
            "id": "", "asset": asset,
            "balance": format_amount(self.assets[asset].market, max(0, balance)),
        }  # fmt: skip
        if positions:
            account["positions"] = positions
        return account

    # events

    def events(self, draw: _Draw) -> list[dict[str, Any]]:
        """One event, or a book refreshed around where the mark then moves (a ``move``)."""
        kind = draw.choice(_EVENTS)
        if kind not in {"move", "target"}:
            return [self.event(draw, kind)]
        entry = self.pick(self.listed)
        symbol = entry.market.symbol
        price = _scaled(self.marks[symbol], draw.choice([-50, -100, -200, 50, -400]), entry.market)
        if kind == "target":
            aimed = self.aim(draw.choice(self.accounts)["id"], draw.choice(_RATIOS))
            entry, price = aimed or (entry, price)
            symbol = entry.market.symbol
        book = {"kind": "book", "market": symbol, **self.book(entry, price)}
        if symbol not in self.derived:
            self.marks[symbol] = price
        return [
            book,
            {"kind": "mark", "market": symbol, "price": format_price(entry.market, price)},
        ]

    def aim(self, account_id: str, ratio: Fraction) -> tuple[_Listed, int] | None:
        """Return the account's first market and where to move its mark to liquidate it.

        That is the mark nearest the current one at which the account's starting equity is
        ``ratio`` x MM or less, the other marks as they are; None for no position.
        """
        balance, legs = self.exposure[account_id]
        if not legs:
            return None
        entry, position = legs[0]
        market, mark = entry.market, self.marks[entry.market.symbol]

        def healthy(price: int) -> bool:
            equity, maintenance = balance, 0
            for leg, held in legs:
                at = price if leg is entry else self.marks[leg.market.symbol]
                linear = leg.market.contract is ContractKind.LINEAR
                value = get_value(leg.market, held.size, at)
                equity += int(held.side) * (1 if linear else -1) * (value - held.entry_value)
                maintenance += get_maintenance_margin(leg.market, held, at)
            return equity > ratio * maintenance

        far = mark // 2 if position.side is Side.LONG else min(market.max_price, mark * 3 // 2)
        if not healthy(mark) or healthy(far):
            return entry, mark if not healthy(mark) else far
        near = mark  # healthy at near, not at far: bisect the ticks in between
        while abs(far - near) > 1:
            middle = (near + far) // 2
            near, far = (middle, far) if healthy(middle) else (near, middle)
        return entry, far

    def event(self, draw: _Draw, kind: str) -> dict[str, Any]:  # noqa: PLR0911 - one per kind
        if kind == "clock":
            self.time += draw.choice([10, 1, 30, 5, 60, 0, 120, 600])
            return {"kind": "clock", "time": str(self.time)}
        if kind in {"deposit", "withdraw"}:
            return self.money(draw, kind)
        entry = self.pick(self.listed)
        market, symbol = entry.market, entry.market.symbol
        mark = self.marks[symbol]
        if kind == "mark":
            bp = draw.choice([-300, -100, -600, 150, -1000, 300, -50, 600, -1500])
            price = _scaled(mark, bp + draw.integer(-20, 20), market)
            if symbol not in self.derived:
                self.marks[symbol] = price
            return {"kind": "mark", "market": symbol, "price": format_price(market, price)}
        if kind == "book":
            return {"kind": "book", "market": symbol, **self.book(entry, mark)}
        if kind == "fill":
            return self.fill(draw, entry, mark)
        if kind == "reference":
            return {"kind": "reference", "market": symbol, "price": format_price(market, mark)}
        if kind == "parameters":
            return {"kind": "parameters", "market": symbol, "file": self.parameters(draw, entry)}
        price = _scaled(mark, draw.choice([0, -100, 100, -800]), market)
        if kind == "trade":
            return {"kind": "trade", "market": symbol, "price": format_price(market, price)}
        if symbol in self.derived:
            self.marks[symbol] = price
        basis = draw.choice(["0", "0.0001", "-0.0005", "0.002"])
        return {"kind": "index", "market": symbol, "price": format_price(market, price),
                "basis": basis}  # fmt: skip

    def money(self, draw: _Draw, kind: str) -> dict[str, Any]:
        account = draw.choice(self.accounts)
        account_id, asset = account["id"], account["asset"]
        entry = self.assets[asset]
        amount = self.unit_value(entry, draw.choice(_AMOUNTS))
        if draw.flag(10):  # a deposit opens a new account, a withdrawal names an unknown one
            account_id = f"new{self.time}"
        others = sorted(set(self.assets) - {asset})
        if others and draw.flag(5):  # an asset the account does not hold (cross-incompatible)
            asset = draw.choice(others)
        return {"kind": kind, "account": account_id, "asset": asset,
                "amount": format_amount(entry.market, max(1, amount))}  # fmt: skip

    def fill(self, draw: _Draw, entry: _Listed, mark: int) -> dict[str, Any]:
        market = entry.market
        account = draw.choice(self.accounts)
        price = _scaled(mark, draw.choice([0, 10, -10, 60, -60, 400, -400]), market)
        lots = entry.unit * draw.choice([1, 5, 20, 3]) // 3
        return {
            "kind": "fill", "account": account["id"], "market": market.symbol,
            "side": draw.choice(["buy", "sell"]), "size": format_size(market, max(1, lots)),
            "price": format_price(market, price),
        }  # fmt: skip

    def parameters(self, draw: _Draw, entry: _Listed) -> dict[str, Any]:
        """RISK-5: the market file changed by an operator (margins up or down, a new policy)."""
        document = copy.deepcopy(entry.document)
        change = draw.choice(["margins-up", "policy", "margins-down", "phase-in", "invalid"])
        factor = {"margins-up": Fraction(5, 4), "margins-down": Fraction(4, 5)}.get(change)
        if change == "phase-in":
            document["risk"] = {"phase_in": draw.choice(["30", "300"])}
            factor = Fraction(3, 2)
        if factor is not None:  # every rate scaled: still non-decreasing, amounts re-derived
            for tier in document["tiers"]:
                tier["mmr"] = _decimal(Fraction(tier["mmr"]) * factor)
                tier.pop("maintenance_amount", None)
        if change == "policy":
            document["liquidation"] = {"policy": draw.choice(["chunk", "health", "tier-step"])}
        if change == "invalid":  # IMR below MMR (MARKET-8): a rejected event
            document["tiers"][0]["mmr"] = "0.9"
        return document

    # the whole document

    def build(self) -> dict[str, Any]:
        draw = self.draw
        self.markets()
        document: dict[str, Any] = {
            "format": 1,
            "scenario": {
                "name": self.name,
                "description": "drawn by liqspec's scenario fuzzer",
                "markets": [copy.deepcopy(e.document) for e in self.listed],
            },
        }
        tables: dict[str, dict[str, Any]] = {
            "liquidation": {}, "breakers": {}, "risk": {}, "mark": {}, "books": {},
        }  # fmt: skip
        for entry in self.listed:
            symbol = entry.market.symbol
            if draw.flag(85):
                tables["liquidation"][symbol] = self.liquidation(entry)
            if draw.flag(45):
                chosen = draw.many(1, 2, lambda d: d.choice(_BREAKERS))
                tables["breakers"][symbol] = {k: v for table in chosen for k, v in table.items()}
            if draw.flag(25):
                risk = dict(draw.choice(_RISK))
                risk["phase_in"] = draw.choice(["60", "0", "20"])
                tables["risk"][symbol] = risk
            if draw.flag(8):
                tables["mark"][symbol] = draw.choice([
                    {"source": "median", "basis_window": "3"}, {"source": "clamped"},
                    {"source": "median", "basis_window": "1"},
                    {"source": "clamped", "fair_band": "0.01"},
                ])  # fmt: skip
                self.derived.add(symbol)
            tables["books"][symbol] = self.book(entry, entry.mark)
        document.update({key: table for key, table in tables.items() if table})
        # A risk adjustment needs time >= interval, and the starting marks are recorded at 0.
        if tables["risk"] or draw.flag(15):
            self.time = 100 if tables["risk"] else 1000
            document["scenario"]["time"] = str(self.time)
        if draw.flag(85):
            document["funds"] = {
                asset: format_amount(entry.market, self.unit_value(entry, draw.choice(_FUNDS)))
                for asset, entry in sorted(self.assets.items())
            }
        document["marks"] = {e.market.symbol: format_price(e.market, e.mark) for e in self.listed}
        self.draw.many(2, MAX_ACCOUNTS, self.account)
        document["accounts"] = self.accounts
        drawn = self.draw.many(1, MAX_EVENTS, self.events)
        document["events"] = [event for events in drawn for event in events]
        if draw.flag(3):
            self.corrupt(document)
        return document

    def corrupt(self, document: dict[str, Any]) -> None:
        """Break the file in one of a few ways: the reference rejects it whole (STATE-10)."""
        symbol = self.listed[0].market.symbol
        how = self.draw.choice(["off-grid", "zero-size", "crossed", "unknown-mark", "halts"])
        if how == "off-grid":
            document["marks"][symbol] += ".0000000001"
        elif how == "zero-size":
            document["accounts"][0]["positions"] = [
                {"market": symbol, "side": "long", "size": "0", "entry_price": "1"}
            ]
        elif how == "crossed":
            price = document["marks"][symbol]
            document["books"][symbol] = {"bids": [[price, "1"]], "asks": [[price, "1"]]}
        elif how == "unknown-mark":
            document["marks"]["NOSUCH"] = "1"
        else:
            document.setdefault("breakers", {})[symbol] = {
                "halt_levels": ["0.05", "0.02"], "halt_durations": ["1", "1"],
            }  # fmt: skip


def _build(draw: _Draw, name: str) -> dict[str, Any]:
    return _Builder(draw, name).build()


def scenarios(name: str = "fuzz") -> SearchStrategy[dict[str, Any]]:
    """Return a Hypothesis strategy of scenario documents with their markets inline (VEC-3).

    JSON-ready: every number is decimal text on its market's grid. Most documents load; a few
    are broken on purpose (a file-level rejection). Shrinking goes toward one market, two
    accounts, one event and the first of every list of choices.
    """
    from hypothesis import strategies as st  # noqa: PLC0415 - only the fuzzer loads Hypothesis

    integers: dict[tuple[int, int], SearchStrategy[int]] = {}

    @st.composite
    def scenario(draw: DrawFn) -> dict[str, Any]:
        return _build(_Hypothesis(draw, integers), name)

    return scenario()


# --- the rules a scenario exercises ------------------------------------------------------------

_EVENT_RULES = {
    "mark-update": ["STATE-3"], "book-update": ["STATE-2", "STATE-3"], "deposit": ["STATE-4"],
    "withdrawal": ["STATE-5"], "fill": ["STATE-6", "STATE-9"], "clock": ["STATE-7"],
    "index-update": ["MARK-1"], "trade-update": ["MARK-1"], "reference-update": ["BRK-3"],
    "parameter-change": ["RISK-5"],
}  # fmt: skip

_RECORD_RULES = {
    "liquidation-started": ["LIQ-1", "LIQ-3", "LIQ-10", "OUT-2"],
    "liquidation-step": ["LIQ-4", "LIQ-5", "LIQ-6", "LIQ-7", "LIQ-8", "LIQ-10", "OUT-3",
                         "STATE-9", "CONV-14"],
    "takeover": ["LIQ-9", "INS-1", "OUT-4", "STATE-9"],
    "fund-change": ["INS-1", "INS-2", "OUT-5"],
    "deleveraged": ["INS-2", "INS-3", "OUT-6"],
    "bad-debt": ["INS-6", "OUT-7"],
    "liquidation-ended": ["LIQ-2", "OUT-8"],
    "mark-derived": ["MARK-1", "MARK-4", "OUT-10"],
    "breaker-tripped": ["OUT-11"],
    "withdrawals-blocked": ["BRK-5", "OUT-12"],
    "risk-adjusted": ["RISK-1", "RISK-2", "RISK-3", "RISK-4", "OUT-13"],
    "parameters-changed": ["RISK-5", "RISK-6", "OUT-13"],
}  # fmt: skip

_WAITING_RULES = {
    "cooldown": ["LIQ-4"], "no-liquidity": ["LIQ-8"], "halted": ["BRK-3", "BRK-6"],
    "dynamic": ["BRK-4", "BRK-6"], "divergence": ["BRK-5", "BRK-6"], "stale": ["BRK-5", "BRK-6"],
}  # fmt: skip


def _record_rules(record: dict[str, Any]) -> list[str]:
    kind = record["kind"]
    rules = list(_RECORD_RULES.get(kind, ["OUT-1"]))
    if kind == "liquidation-waiting":
        rules += ["LIQ-10", "OUT-3", *_WAITING_RULES.get(record["reason"], [])]
    if kind == "liquidation-step" and record["limit_reason"] == "price-band":
        rules += ["BRK-1", "BRK-2"]
    if kind == "deleveraged":
        rules.append("INS-4" if record["method"] == "adl" else "INS-5")
    if kind == "mark-derived":
        rules.append("MARK-2" if record["source"] == "median" else "MARK-3")
    if kind == "breaker-tripped":
        rules.append("BRK-4" if record["breaker"] == "dynamic" else "BRK-3")
    return rules


def exercised_rules(output: dict[str, Any]) -> list[str]:
    """Return the rules a replayed scenario exercised, from its output (OUT-9).

    Every replay exercises the state machine; each event kind, each rejection and each record
    adds the rules behind it: a ``deleveraged`` record by ADL adds INS-4, by socialization INS-5.
    """
    rules = {"STATE-1", "STATE-8", "STATE-10", "OUT-1", "OUT-9", "OUT-14"}
    for step in output["steps"]:
        rules.update(_EVENT_RULES.get(step["event"]["kind"], []))
        if step["rejected"] is not None:
            rules.update([step["rejected"]["rule"], "STATE-8"])
        for record in step["records"]:
            rules.update(_record_rules(record))
        accounts = {r["account"] for r in step["records"] if r["kind"] == "liquidation-started"}
        if len(accounts) > 1:
            rules.add("LIQ-3")
    return sorted(rules)


# --- seeded vectors ----------------------------------------------------------------------------


def _queue_size(output: dict[str, Any]) -> int:
    """Return the most accounts given a step in one event (LIQ-3's queue)."""
    stepped = {"liquidation-step", "liquidation-waiting", "takeover"}
    return max(
        (
            len({r["account"] for r in s["records"] if r["kind"] in stepped})
            for s in output["steps"]
        ),
        default=0,
    )


def _records(output: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for step in output["steps"]:
        yield from step["records"]


def _policies(output: dict[str, Any]) -> set[str]:
    return {r["policy"] for r in _records(output) if r["kind"] == "liquidation-step"}


def _adl_counterparties(output: dict[str, Any]) -> int:
    return max(
        (len(r["allocations"]) for r in _records(output)
         if r["kind"] == "deleveraged" and r["method"] == "adl"),
        default=0,
    )  # fmt: skip


def _policy_set(document: dict[str, Any]) -> set[str]:
    """Return the policies of the document's markets (``health`` unless overridden)."""
    overrides = document.get("liquidation", {})
    return {
        overrides.get(m["market"]["symbol"], {}).get("policy", "health")
        for m in document["scenario"]["markets"]
    }


def _crowd(document: dict[str, Any]) -> bool:
    """Return whether an ADL market has a position with 3 smaller ones on the other side."""
    held: dict[str, list[tuple[str, Fraction]]] = {}
    for account in document["accounts"]:
        for p in account.get("positions", []):
            held.setdefault(p["market"], []).append((p["side"], Fraction(p["size"])))
    overrides = document.get("liquidation", {})
    return any(
        sum(1 for other, smaller in positions if other != side and smaller < size) >= 3
        for market, positions in held.items()
        if overrides.get(market, {}).get("deleveraging", "adl") == "adl"
        for side, size in positions
    )


def _anything(document: dict[str, Any]) -> bool:  # noqa: ARG001 - a goal's cheap pre-check
    return True


_Goal = tuple[str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], bool]]

_GOALS: tuple[_Goal, ...] = (
    ("a queue of several accounts in one event", _anything, lambda o: _queue_size(o) >= 3),
    ("mixed liquidation policies", lambda d: len(_policy_set(d)) >= 2,
     lambda o: len(_policies(o)) >= 2),
    ("ADL over many counterparties", _crowd, lambda o: _adl_counterparties(o) >= 3),
    ("a socialized loss", _anything, lambda o: any(
        r["kind"] == "deleveraged" and r["method"] == "socialize" for r in _records(o))),
    ("a halt or a band", _anything, lambda o: any(
        r["kind"] == "breaker-tripped" or r.get("limit_reason") == "price-band"
        for r in _records(o))),
    ("a risk adjustment", _anything,
     lambda o: any(r["kind"] == "risk-adjusted" for r in _records(o))),
)  # fmt: skip
"""What each seeded vector is chosen to show, in turn: a cheap check of the document (to
spare replays), then the check of the reference's output."""

MAX_VECTOR_ACCOUNTS = 12
"""Most accounts in a seeded vector: they stay quick to replay and to read."""

_TRIES = 3000
"""Most documents drawn for one seeded vector before giving up."""


def random_scenario_vectors(seed: int, count: int) -> list[Vector]:
    """Return ``count`` seeded random scenarios as vectors ``scenario/random-<seed>-<n>``.

    Vector ``n`` is the first scenario drawn from ``(seed, n, try)`` that loads, has at most
    :data:`MAX_VECTOR_ACCOUNTS` accounts and shows the goal ``n`` (in turn: a queue of several
    accounts, mixed policies, ADL over many counterparties, a socialized loss, a halt or band,
    a risk adjustment). The same seed gives the same vectors on every machine.
    """
    vectors = []
    for n in range(count):
        goal, promising, reached = _GOALS[n % len(_GOALS)]
        name = f"random-{seed}-{n}"
        for attempt in range(_TRIES):
            document = _build(_Seeded(f"liqspec-scenario/{seed}/{n}/{attempt}"), name)
            if len(document["accounts"]) > MAX_VECTOR_ACCOUNTS or not promising(document):
                continue
            answer = evaluate("scenario", {"scenario": document})
            if "output" in answer and reached(answer["output"]):
                break
        else:
            raise LiqspecError(f"no scenario of seed {seed} showed {goal} in {_TRIES} tries")
        description = f"a seeded random scenario (seed {seed}, try {attempt}): {goal}"
        rules = exercised_rules(answer["output"])
        case = {"scenario": document}
        vectors.append(
            make_vector("scenario", name, description, case, rules, ["scenario", "random"])
        )
    return vectors


# --- differential fuzzing ----------------------------------------------------------------------


class ScenarioKindUnsupportedError(LiqspecError):
    """The adapter does not list ``scenario`` among its features: nothing can be compared."""


@frozen
class Finding:
    """A minimal disagreement: the shrunk case as a vector, and the first differing field."""

    vector: Vector
    field: str
    expected: Any
    actual: Any

    @property
    def difference(self) -> str:
        """One line: where, what the reference says, what the implementation says."""
        return f"{self.field}: expected {self.expected!r}, got {self.actual!r}"[:300]


class _Adapter:
    """The adapter under test, restarted after a crash; gone when a restart fails."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.gone: HandshakeError | None = None

    def reply(self, case: dict[str, Any]) -> dict[str, Any]:
        if self.gone is not None:
            raise self.gone
        message = {"type": "case", "id": "scenario/fuzz", "kind": "scenario", "input": case}
        try:
            reply = self.runner.request(message)
            if reply.get("id") != "scenario/fuzz":
                raise AdapterError(f"a reply to another case: {reply!r}"[:200])
        except AdapterError as error:
            self.runner.kill()
            try:
                self.runner.start()
            except HandshakeError as failed:
                self.gone = failed
                raise
            return {"errored": str(error)}
        return {key: reply[key] for key in ("output", "error") if key in reply} or {"reply": reply}


@contextmanager
def _scratch_storage() -> Iterator[None]:
    """Point Hypothesis's cache folder at a temporary one: a search writes nothing here."""
    from hypothesis import configuration  # noqa: PLC0415 - only the fuzzer loads Hypothesis

    previous = configuration.storage_directory(intent_to_write=False).home_directory
    with tempfile.TemporaryDirectory(prefix="liqspec-fuzz-") as scratch:
        configuration.set_hypothesis_home_dir(scratch)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(previous)


def _without_account(document: dict[str, Any], index: int) -> dict[str, Any]:
    smaller = copy.deepcopy(document)
    gone = smaller["accounts"].pop(index)["id"]
    smaller["events"] = [e for e in smaller["events"] if e.get("account") != gone]
    return smaller


def _without_event(document: dict[str, Any], index: int) -> dict[str, Any]:
    smaller = copy.deepcopy(document)
    del smaller["events"][index]
    return smaller


def _without_market(document: dict[str, Any], symbol: str) -> dict[str, Any]:
    """Drop a market with everything that names it; accounts keep their other positions."""
    smaller = copy.deepcopy(document)
    markets = smaller["scenario"]["markets"]
    smaller["scenario"]["markets"] = [m for m in markets if m["market"]["symbol"] != symbol]
    assets = {m["market"]["settle_asset"] for m in smaller["scenario"]["markets"]}
    for section in ("liquidation", "breakers", "risk", "mark", "books", "marks"):
        smaller.get(section, {}).pop(symbol, None)
        if section in smaller and not smaller[section] and section != "marks":
            del smaller[section]
    for account in smaller["accounts"]:
        positions = [p for p in account.get("positions", []) if p["market"] != symbol]
        account.pop("positions", None)
        if positions:
            account["positions"] = positions
    smaller["accounts"] = [a for a in smaller["accounts"] if a["asset"] in assets]
    ids = {a["id"] for a in smaller["accounts"]}

    def kept(event: dict[str, Any]) -> bool:  # a deposit may open its account
        gone = event.get("account", "") not in {"", *ids} and event["kind"] != "deposit"
        return event.get("market") != symbol and not gone

    smaller["events"] = [e for e in smaller["events"] if kept(e)]
    if "funds" in smaller:
        smaller["funds"] = {k: v for k, v in smaller["funds"].items() if k in assets}
    return smaller


def _without_table(document: dict[str, Any], section: str) -> dict[str, Any]:
    smaller = copy.deepcopy(document)
    del smaller[section]
    return smaller


def _smaller(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield documents one part smaller: a market, an account, an event, an optional table."""
    if len(document["scenario"]["markets"]) > 1:
        for market in document["scenario"]["markets"]:
            yield _without_market(document, market["market"]["symbol"])
    if len(document["accounts"]) > 2:
        for index in reversed(range(len(document["accounts"]))):
            yield _without_account(document, index)
    if len(document["events"]) > 1:
        for index in reversed(range(len(document["events"]))):
            yield _without_event(document, index)
    for section in ("breakers", "risk", "mark", "liquidation", "funds"):
        if section in document:
            yield _without_table(document, section)


MAX_REDUCTIONS = 200
"""Most comparisons spent cutting a shrunk scenario down by whole parts."""


def _reduce(document: dict[str, Any], differs: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Cut whole markets, accounts, events and tables while the disagreement stays.

    Hypothesis shrinks the draws; this finishes the job on the document, where deleting an
    account that later draws depend on would shift every draw after it.
    """
    budget = MAX_REDUCTIONS
    progress = True
    while progress and budget > 0:
        progress = False
        for candidate in _smaller(document):
            budget -= 1
            if differs(candidate):
                document, progress = candidate, True
                break
            if budget <= 0:
                break
    return document


def _finding(case: dict[str, Any], where: str, want: Any, got: Any, seed_value: int) -> Finding:
    digest = hashlib.sha256(canonical({"kind": "scenario", "input": case}).encode()).hexdigest()
    answer = evaluate("scenario", case)
    rules = exercised_rules(answer["output"]) if "output" in answer else ["STATE-10"]
    description = f"found by liqspec fuzz --kind scenario (seed {seed_value})"
    vector = make_vector(
        "scenario", f"fuzz-{digest[:12]}", description, case, rules, ["scenario", "fuzz"]
    )
    return Finding(vector, where, want, got)


def fuzz_scenarios(
    command: Sequence[str], examples: int, seed: int, *, timeout: float = 10.0
) -> list[Finding]:
    """Send ``examples`` drawn scenarios to the adapter and to the reference; shrink a difference.

    Returns no finding when they agree on every scenario, else one: the minimal disagreeing
    scenario as a vector (the reference's answer expected) and the first differing field
    (VEC-5). Raises :class:`HandshakeError` when the adapter fails its handshake (at the start
    or on a restart) and :class:`ScenarioKindUnsupportedError` when it does not support the
    ``scenario`` kind. Deterministic given the seed (and the adapter).
    """
    from hypothesis import HealthCheck, Phase, given, settings  # noqa: PLC0415
    from hypothesis import seed as seeded  # noqa: PLC0415
    from hypothesis.errors import Flaky  # noqa: PLC0415

    runner = Runner(command, timeout)
    features = set(runner.start()["features"])
    if "scenario" not in features:
        runner.stop()
        detail = f"the adapter does not support scenario cases (features: {sorted(features)})"
        raise ScenarioKindUnsupportedError(detail)
    adapter = _Adapter(runner)
    failures: list[tuple[dict[str, Any], tuple[str, Any, Any]]] = []
    compared: dict[str, tuple[str, Any, Any] | None] = {}  # shrinking meets a case again

    @seeded(seed)
    @settings(max_examples=examples, database=None, deadline=None, report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck),
              phases=(Phase.generate, Phase.shrink))  # fmt: skip
    @given(scenarios())
    def agree(document: dict[str, Any]) -> None:
        case = {"scenario": document}
        key = canonical(case)
        if key not in compared:
            compared[key] = first_difference(evaluate("scenario", case), adapter.reply(case))
        difference = compared[key]
        if difference is not None:
            failures.append((case, difference))
            raise AssertionError(difference[0])

    def differs(document: dict[str, Any]) -> bool:
        case = {"scenario": document}
        key = canonical(case)
        if key not in compared:
            expected = evaluate("scenario", case)
            compared[key] = (
                first_difference(expected, adapter.reply(case)) if "output" in expected else None
            )
        return compared[key] is not None

    try:
        with _scratch_storage():
            agree()
    except (AssertionError, HandshakeError, Flaky):  # Flaky: it disagreed, then not again
        if adapter.gone is not None:
            raise adapter.gone from None
        case, _ = failures[-1]  # the last failure is the shrunk one
        if "output" in evaluate("scenario", case):  # a document the reference loads
            case = {"scenario": _reduce(case["scenario"], differs)}
        where, want, got = compared[canonical(case)] or failures[-1][1]
        return [_finding(case, where, want, got, seed)]
    finally:
        runner.stop()
    return []
