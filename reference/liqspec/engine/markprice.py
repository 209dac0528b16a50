"""The mark price, derived from index, funding basis, book and last trade (spec/10-mark-price.md).

Every candidate is an exact rational number of ticks; the chosen value is rounded to the grid
once, toward the index (MARK-4), so the derivation never adds to a move away from the index.
"""

from __future__ import annotations

from fractions import Fraction

from liqspec.base.conventions import div_ceil, div_floor
from liqspec.engine.state import MarketState
from liqspec.model.markets import MarkSource

__all__ = ["derive_mark", "get_fair_price", "get_median_candidates", "round_toward"]


def get_fair_price(index: int, basis: Fraction) -> Fraction:
    """Return index x (1 + funding basis), in ticks (MARK-2).

    >>> get_fair_price(600_000, Fraction(1, 10_000))
    Fraction(600060, 1)
    """
    return index * (1 + basis)


def get_median_candidates(
    index: int, basis: Fraction, samples: tuple[Fraction, ...], last: int
) -> tuple[Fraction, Fraction, Fraction]:
    """MARK-2: index x (1 + basis); index + mean(mid - index); last trade (or the first)."""
    fair = get_fair_price(index, basis)
    smoothed = index + sum(samples, Fraction(0)) / len(samples) if samples else fair
    traded = Fraction(last) if last else fair
    return fair, smoothed, traded


def round_toward(value: Fraction, anchor: int) -> int:
    """Round ``value`` ticks to the grid toward ``anchor`` (MARK-4).

    >>> round_toward(Fraction(21, 2), 5), round_toward(Fraction(21, 2), 20)
    (10, 11)
    """
    if value >= anchor:
        return div_floor(value.numerator, value.denominator)
    return div_ceil(value.numerator, value.denominator)


def _clamp(value: Fraction, low: Fraction, high: Fraction) -> Fraction:
    return min(max(value, low), high)


def derive_mark(entry: MarketState) -> int | None:
    """Return the derived mark (ticks), or None while no index is known (MARK-1..MARK-4)."""
    market, index, basis, last = entry.market, entry.index, entry.basis, entry.last_trade
    book = entry.book
    best = (book.bids[0].price, book.asks[0].price) if book.bids and book.asks else None
    samples = entry.basis_samples
    if not index or market.mark.source is MarkSource.EVENT:
        return None
    if market.mark.source is MarkSource.MEDIAN:
        value = sorted(get_median_candidates(index, basis, samples, last))[1]
    else:  # MARK-3
        fair = get_fair_price(index, basis)
        value = Fraction(last) if last else fair
        if best is not None:
            value = _clamp(value, Fraction(best[0]), Fraction(best[1]))
        band = market.mark.fair_band
        width = fair * Fraction(band.num, band.den)
        value = _clamp(value, fair - width, fair + width)
    return min(max(round_toward(value, index), 1), market.max_price)
