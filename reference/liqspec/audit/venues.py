"""The checks a venue log's own data supports, fill by fill (spec/16-audit.md#AUDIT-10).

A venue's public stream carries no account state, so the replay of AUDIT-2 cannot run on it.
What it does carry is checked: stated start positions against the fills before them, fill
prices against the band around the mark and against the order's limit, the mark against the
stated bankruptcy price, and the two sides of one match against each other.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from fractions import Fraction

from liqspec.audit.catalogue import Severity, Violation
from liqspec.audit.importers import Format, Role, VenueFill, VenueLine
from liqspec.audit.integrity import GENESIS
from liqspec.audit.replay import Finding
from liqspec.base.conventions import ratio_text
from liqspec.model.markets import Market, format_size

__all__ = ["VenueAuditor", "get_band_around", "price_text", "signed_size_text"]

_CLOSING = (Role.LIQUIDATED, Role.DELEVERAGED)
"""The roles of the side the venue liquidated: its lots count as closed."""
_REDUCING = (Role.LIQUIDATED, Role.DELEVERAGED, Role.OFFSETTING)
"""The roles whose fill must reduce the position: forced closes, ADL's counterparty too."""


def get_band_around(market: Market, reference: Fraction) -> tuple[int, int] | None:
    """BRK-1's band of grid prices around an exact ``reference`` (ticks); None if off.

    >>> from types import SimpleNamespace as S
    >>> market = S(breakers=S(band=S(num=5, den=100)), max_price=10**8)
    >>> get_band_around(market, Fraction(6000015, 100))  # 60000.15 ticks, band 5%
    (57001, 63000)
    """
    band = Fraction(market.breakers.band.num, market.breakers.band.den)
    if band == 0:
        return None
    low, high = math.ceil(reference * (1 - band)), math.floor(reference * (1 + band))
    return max(low, 1), min(high, market.max_price)


def price_text(market: Market, ticks: Fraction) -> str:
    """Return an exact price in ticks as decimal text of the quote asset (OUT-9)."""
    tick = market.price_tick
    return ratio_text(ticks * tick.num / tick.den)


def signed_size_text(market: Market, lots: int) -> str:
    """Return a signed size in lots as decimal text of the base asset."""
    return ("-" if lots < 0 else "") + format_size(market, abs(lots))


class VenueAuditor:
    """Checks a venue log's fills in order; a finding never stops it (AUDIT-10)."""

    def __init__(self, fmt: Format, markets: Mapping[str, Market]) -> None:
        self.format = fmt
        self.markets = markets
        self.checks = frozenset(fmt.checks)
        self.marks: dict[str, Fraction] = {}
        self.held: dict[tuple[str, str], int] = {}
        """Each (account, market)'s signed size after its last stated fill."""
        self.pending: dict[str, tuple[int, VenueFill]] = {}
        """Fills whose other side has not been read yet, by pair key, with their line."""
        self.findings: list[Finding] = []
        self.fills: Counter[str] = Counter()
        self.closed: Counter[str] = Counter()
        """Lots closed by liquidation and ADL, per market."""
        self.lines = 0
        self.digest = GENESIS
        self.errors = 0

    def process_line(self, line: VenueLine) -> None:
        """Take the line's marks, then check each of its fills in order."""
        self.lines += 1
        self.digest = line.digest
        for symbol, mark in line.marks:
            self.marks[symbol] = mark
        for fill in line.fills:
            self.process_fill(line.number, fill)
        for account, symbol, lots in line.positions:
            self.process_position(line.number, account, symbol, lots)

    def process_position(self, number: int, account: str, symbol: str, lots: int) -> None:
        """``continuity``: a stated position is what the account's fills left (AUDIT-10)."""
        key = (account, symbol)
        held = self.held.get(key, lots)
        self.held[key] = lots
        if held == lots:
            return
        market = self.markets[symbol]
        numbers = {"expected": signed_size_text(market, held),
                   "observed": signed_size_text(market, lots)}  # fmt: skip
        detail = "the stated position is not the position the account's fills left"
        self._report(Violation.CONTINUITY, number, account, detail, numbers)

    def process_fill(self, number: int, fill: VenueFill) -> None:
        """AUDIT-10's checks on one fill, in order; then it updates the positions and pairs."""
        self.fills[fill.role.value] += 1
        if fill.role in _CLOSING:
            self.closed[fill.market] += fill.size
        market = self.markets[fill.market]
        mark = fill.mark if fill.mark is not None else self.marks.get(fill.market)
        self._check_start(number, market, fill)
        if fill.role is Role.LIQUIDATED and mark is not None:  # ADL trades at bankruptcy
            self._check_band(number, market, fill, mark)
        if fill.limit is not None:
            self._check_limit(number, market, fill)
        if fill.bankruptcy is not None and mark is not None:
            self._check_bankrupt(number, market, fill, mark)
        if fill.pair is not None and fill.role is not Role.TRADE:
            self._check_pair(number, market, fill)

    def _report(self, violation: Violation, number: int, account: str | None, detail: str,
                numbers: dict[str, str]) -> None:  # fmt: skip
        if violation not in self.checks:
            return
        if violation.severity is Severity.ERROR:
            self.errors += 1
        numbered = tuple(numbers.items())
        finding = Finding(violation, number, account, detail, numbered, self.digest)
        self.findings.append(finding)

    def _check_start(self, number: int, market: Market, fill: VenueFill) -> None:
        """``continuity``: the stated start follows the account's fills; a closing fill reduces."""
        if fill.account is None:
            return
        key = (fill.account, fill.market)
        start = fill.start if fill.start is not None else self.held.get(key)
        if start is None:
            return
        held = self.held.get(key, start)
        self.held[key] = start + fill.side * fill.size
        if start != held:
            detail = "the fill's stated start position is not the position its fills left"
            numbers = {"expected": signed_size_text(market, held),
                       "observed": signed_size_text(market, start)}  # fmt: skip
        elif fill.role in _REDUCING and not 0 < -fill.side * start >= fill.size:
            detail = "a liquidation or ADL fill that does not reduce the position it closes"
            numbers = {"held": signed_size_text(market, start),
                       "executed": signed_size_text(market, fill.side * fill.size)}  # fmt: skip
        else:
            return
        self._report(Violation.CONTINUITY, number, fill.account, detail, numbers)

    def _check_band(self, number: int, market: Market, fill: VenueFill, mark: Fraction) -> None:
        """``outside-band``: the closing fill's price is outside BRK-1's band around the mark."""
        band = get_band_around(market, mark)
        if band is None or band[0] <= fill.price <= band[1]:
            return
        numbers = {"fill": price_text(market, fill.price), "mark": price_text(market, mark),
                   "band_low": price_text(market, Fraction(band[0])),
                   "band_high": price_text(market, Fraction(band[1]))}  # fmt: skip
        detail = "a liquidation fill outside the price band around the mark"
        self._report(Violation.OUTSIDE_BAND, number, fill.account, detail, numbers)

    def _check_limit(self, number: int, market: Market, fill: VenueFill) -> None:
        """``fill-beyond-limit``: a sell below its order's limit, or a buy above it."""
        assert fill.limit is not None  # noqa: S101 - checked by the caller
        if fill.side * (fill.price - fill.limit) <= 0:
            return
        numbers = {"limit": price_text(market, Fraction(fill.limit)),
                   "fill": price_text(market, fill.price)}  # fmt: skip
        detail = "the liquidation order filled at a price worse than its limit"
        self._report(Violation.BEYOND_LIMIT, number, fill.account, detail, numbers)

    def _check_bankrupt(self, number: int, market: Market, fill: VenueFill,
                        mark: Fraction) -> None:  # fmt: skip
        """``bankrupt-at-mark``: the mark had reached the bankruptcy price of the closed side."""
        assert fill.bankruptcy is not None  # noqa: S101 - checked by the caller
        if fill.side * (fill.bankruptcy - mark) > 0:
            return
        numbers = {"mark": price_text(market, mark),
                   "bankruptcy": price_text(market, Fraction(fill.bankruptcy))}  # fmt: skip
        detail = "liquidated when the mark had already reached the bankruptcy price"
        self._report(Violation.BANKRUPT_AT_MARK, number, fill.account, detail, numbers)

    def _check_pair(self, number: int, market: Market, fill: VenueFill) -> None:
        """``pair-mismatch``: the two sides of one match disagree."""
        assert fill.pair is not None  # noqa: S101 - checked by the caller
        if fill.pair not in self.pending:
            self.pending[fill.pair] = (number, fill)
            return
        first_line, first = self.pending.pop(fill.pair)
        if (first.market, first.role.counterpart, -first.side, first.price, first.size) == (
            fill.market, fill.role, fill.side, fill.price, fill.size
        ):  # fmt: skip
            return
        numbers = {
            "first_line": str(first_line),
            "role": first.role.value, "counter_role": fill.role.value,
            "side": _side(first.side), "counter_side": _side(fill.side),
            "price": price_text(market, first.price),
            "counter_price": price_text(market, fill.price),
            "size": format_size(market, first.size),
            "counter_size": format_size(market, fill.size),
        }  # fmt: skip
        detail = "the two sides of one match disagree on role, side, price or size"
        self._report(Violation.PAIR_MISMATCH, number, fill.account, detail, numbers)


def _side(side: int) -> str:
    return "buy" if side > 0 else "sell"
