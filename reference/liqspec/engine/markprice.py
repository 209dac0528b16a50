"""The mark price, derived from index, funding basis, book and last trade (spec/10-mark-price.md).

Every candidate is an exact rational number of ticks; the chosen value is rounded to the grid
once, toward the index (MARK-4), so the derivation never adds to a move away from the index.
"""

from __future__ import annotations

import math
from fractions import Fraction

from liqspec.base.conventions import Ratio, div_ceil, div_floor
from liqspec.engine.state import MarketState
from liqspec.model.markets import BasisSmoothing, MarkSource

__all__ = [
    "EMA_SCALE",
    "derive_mark",
    "get_decay",
    "get_ema_update",
    "get_fair_price",
    "get_median_candidates",
    "get_smoothed_basis",
    "round_toward",
]

EMA_SCALE = 10**18
"""MARK-5: the EMA's state and decay factors are kept on the grid of 1 / EMA_SCALE."""


def get_fair_price(index: int, basis: Fraction) -> Fraction:
    """Return index x (1 + funding basis), in ticks (MARK-2).

    >>> get_fair_price(600_000, Fraction(1, 10_000))
    Fraction(600060, 1)
    """
    return index * (1 + basis)


def get_median_candidates(
    index: int, basis: Fraction, smoothed: Fraction | None, last: int
) -> tuple[Fraction, Fraction, Fraction]:
    """MARK-2: index x (1 + basis); index + the smoothed basis; last trade (or the first)."""
    fair = get_fair_price(index, basis)
    candidate = index + smoothed if smoothed is not None else fair
    traded = Fraction(last) if last else fair
    return fair, candidate, traded


def get_smoothed_basis(entry: MarketState) -> Fraction | None:
    """Return the mean of the kept samples (MARK-2) or the EMA (MARK-5); None without any."""
    if entry.market.mark.basis is BasisSmoothing.EMA:
        numerator, denominator = entry.basis_ema
        return numerator / denominator if denominator else None
    samples = entry.basis_samples
    return sum(samples, Fraction(0)) / len(samples) if samples else None


def get_decay(decay: Ratio, elapsed: int) -> Fraction:
    """Return r^t on the EMA's grid, rounded down: floor(r^t x 10^18) / 10^18 (MARK-5).

    Squaring stops as soon as the power is below the grid's step: the result is then 0.

    >>> get_decay(Ratio.of(1, 2), 3), get_decay(Ratio.of(1, 2), 0), get_decay(Ratio.of(1, 2), 60)
    (Fraction(1, 8), Fraction(1, 1), Fraction(0, 1))
    >>> get_decay(Ratio.of(9_933_555_062, 10**10), 150) * 10**18  # exp(-1/150)^150: about 1/e
    Fraction(367879438114224171, 1)
    """
    step = Fraction(1, EMA_SCALE)
    result, power, left = Fraction(1), Fraction(decay.num, decay.den), elapsed
    while left:
        if left & 1:
            result *= power
        left >>= 1
        if result < step or (left and power * power < step):
            return Fraction(0)
        power = power * power if left else power
    return Fraction(math.floor(result * EMA_SCALE), EMA_SCALE)


def _toward_zero(value: Fraction) -> Fraction:
    """Round ``value`` toward zero to the EMA's grid (MARK-5)."""
    scaled = value * EMA_SCALE
    whole = math.floor(scaled) if scaled >= 0 else math.ceil(scaled)
    return Fraction(whole, EMA_SCALE)


def get_ema_update(
    ema: tuple[Fraction, Fraction], sample: Fraction, elapsed: int, decay: Ratio
) -> tuple[Fraction, Fraction]:
    """Return the EMA after a sample taken ``elapsed`` time units after the last (MARK-5).

    numerator <- numerator x d + sample x t, denominator <- denominator x d + t, with
    d = :func:`get_decay` and both rounded toward zero to the 10^-18 grid.

    >>> half = Ratio.of(1, 2)
    >>> ema = get_ema_update((Fraction(0), Fraction(0)), Fraction(10), 0, half)  # weight 0
    >>> ema = get_ema_update(ema, Fraction(4), 3, half)
    >>> ema, get_ema_update(ema, Fraction(10), 1, half)  # (12/2 + 10) / (3/2 + 1) = 6.4
    ((Fraction(12, 1), Fraction(3, 1)), (Fraction(16, 1), Fraction(5, 2)))
    """
    factor = get_decay(decay, elapsed)
    numerator, denominator = ema
    return (
        _toward_zero(numerator * factor + sample * elapsed),
        _toward_zero(denominator * factor + elapsed),
    )


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
    if not index or market.mark.source is MarkSource.EVENT:
        return None
    if market.mark.source is MarkSource.MEDIAN:
        smoothed = get_smoothed_basis(entry)
        value = sorted(get_median_candidates(index, basis, smoothed, last))[1]
    else:  # MARK-3
        fair = get_fair_price(index, basis)
        value = Fraction(last) if last else fair
        if best is not None:
            value = _clamp(value, Fraction(best[0]), Fraction(best[1]))
        band = market.mark.fair_band
        width = fair * Fraction(band.num, band.den)
        value = _clamp(value, fair - width, fair + width)
    return min(max(round_toward(value, index), 1), market.max_price)
