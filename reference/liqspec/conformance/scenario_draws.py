"""Drawing scenarios: the bundled markets that can go together, and the sources of choices.

A builder reads every choice from a *draw*: Hypothesis's (so a failing case shrinks), the
simplest one, or a seeded stream of SHA-256 blocks (the same on every machine and every
Hypothesis version). Used by :mod:`liqspec.conformance.scenario_builder`.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from attrs import frozen

from liqspec.base.files import get_bundled
from liqspec.model.market_files import market_from_document
from liqspec.model.markets import (
    Market,
)

__all__ = [
    "MAX_ACCOUNTS",
    "MAX_EVENTS",
    "Draw",
    "HypothesisDraw",
    "Listed",
    "SeededDraw",
    "SimplestDraw",
    "T",
    "get_catalogue",
    "is_compatible",
]

if TYPE_CHECKING:
    from hypothesis.strategies import DrawFn, SearchStrategy

T = TypeVar("T")

MAX_ACCOUNTS = 50
"""Most accounts in a drawn scenario (at least 2)."""

MAX_EVENTS = 12
"""Most events drawn for a scenario (at least 1); a ``move`` is two (a book, then a mark)."""


# --- the bundled markets ---------------------------------------------------------------------


@frozen
class Listed:
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
    ("dydx-long-tail-oimf", "1", 3000),
    ("deribit-btc-usdc-size-linear", "60000", 500),
)
"""The bundled markets, most typical first (shrinking goes to the first), with a mark and unit."""


@cache
def get_catalogue() -> tuple[Listed, ...]:
    """Return the bundled markets a drawn scenario may combine, in a fixed order."""
    folder = get_bundled("markets")
    listed = []
    for stem, mark, unit in _ORDER:
        document = tomllib.loads((folder / f"{stem}.toml").read_text(encoding="utf-8"))
        market = market_from_document(document)
        tick = Fraction(market.price_tick.num, market.price_tick.den)
        listed.append(Listed(stem, document, market, int(Fraction(mark) / tick), unit))
    return tuple(listed)


def is_compatible(chosen: list[Listed], candidate: Listed) -> bool:
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


class Draw(Protocol):
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

    def many(self, low: int, high: int, item: Callable[[Draw], T]) -> list[T]:
        """Return ``low … high`` items, mostly few; simpler is fewer."""
        ...


class SeededDraw:
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
        """Draw an integer in ``low .. high``."""
        span = high - low + 1
        width = max(1, (span - 1).bit_length())
        while True:  # rejection sampling: uniform, and the same on every platform
            value = self._take(width)
            if value < span:
                return low + value

    def choice(self, options: Sequence[T]) -> T:
        """Draw one of ``options``."""
        return options[self.integer(0, len(options) - 1)]

    def flag(self, percent: int) -> bool:
        """Draw true about ``percent`` times in a hundred."""
        return self.integer(0, 99) < percent

    def many(self, low: int, high: int, item: Callable[[Draw], T]) -> list[T]:
        """Draw a list of ``low .. high`` items, each from ``item``."""
        roll, span = self.integer(0, 99), high - low
        top = min(span, 3) if roll < 55 else min(span, 12) if roll < 90 else span
        return [item(self) for _ in range(low + self.integer(0, top))]


class SimplestDraw:
    """The draw that always takes the simplest choice (what shrinking aims at)."""

    def integer(self, low: int, high: int) -> int:
        """Draw an integer in ``low .. high``."""
        return min(max(0, low), high)

    def choice(self, options: Sequence[T]) -> T:
        """Draw one of ``options``."""
        return options[0]

    def flag(self, percent: int) -> bool:  # noqa: ARG002 - the simplest answer is always no
        """Draw true about ``percent`` times in a hundred."""
        return False

    def many(self, low: int, high: int, item: Callable[[Draw], T]) -> list[T]:  # noqa: ARG002
        """Draw a list of ``low .. high`` items, each from ``item``."""
        return [item(self) for _ in range(low)]


class HypothesisDraw:
    """Hypothesis's draw: integers shrink toward 0, choices toward the first, lists to fewer.

    A choice is drawn as an index, and strategies are built once per range: building a
    strategy costs more than drawing from it.
    """

    def __init__(self, draw: DrawFn, integers: dict[tuple[int, int], SearchStrategy[int]]) -> None:
        self._draw = draw
        self._integers = integers

    def integer(self, low: int, high: int) -> int:
        """Draw an integer in ``low .. high``."""
        strategy = self._integers.get((low, high))
        if strategy is None:
            from hypothesis import strategies  # noqa: PLC0415 - only the fuzzer loads Hypothesis

            strategy = self._integers[low, high] = strategies.integers(low, high)
        return self._draw(strategy)

    def choice(self, options: Sequence[T]) -> T:
        """Draw one of ``options``."""
        return options[self.integer(0, len(options) - 1)]

    def flag(self, percent: int) -> bool:
        """Draw true about ``percent`` times in a hundred."""
        return self.integer(0, 99) >= 100 - percent

    def many(self, low: int, high: int, item: Callable[[Draw], T]) -> list[T]:
        """Draw a list of ``low .. high`` items, each from ``item``."""
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
        build: Callable[[Draw], Any],
        integers: dict[tuple[int, int], SearchStrategy[int]],
    ) -> Any:
        return build(HypothesisDraw(draw, integers))

    return item
