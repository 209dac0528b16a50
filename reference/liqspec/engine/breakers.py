"""Circuit breakers: price bands, halts, dynamic pauses and gates (spec/11-circuit-breakers.md).

Breakers are gates: they reject fills, pause or redirect liquidation, block withdrawals, and
never move a balance (BRK-7).
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from liqspec.base.conventions import div_ceil, div_floor, ratio_text
from liqspec.engine.records import BreakerTripped
from liqspec.engine.state import MarketState

__all__ = [
    "get_band",
    "get_blocking",
    "get_move",
    "is_halted",
    "process_breakers",
    "record_mark",
]


def get_band(entry: MarketState) -> tuple[int, int] | None:
    """BRK-1: the grid prices a fill may use, around the mark (or index); None if off."""
    band = entry.market.breakers.band
    if band.num == 0:
        return None
    use_index = entry.market.breakers.band_reference == "index" and entry.index
    reference = entry.index if use_index else entry.mark
    low = div_ceil(reference * (band.den - band.num), band.den)
    high = div_floor(reference * (band.den + band.num), band.den)
    return max(low, 1), min(high, entry.market.max_price)


def get_move(price: int, reference: int) -> Fraction:
    """Return |price - reference| / reference, exactly.

    >>> get_move(93, 100)
    Fraction(7, 100)
    """
    return Fraction(abs(price - reference), reference)


def is_halted(entry: MarketState, time: int) -> bool:
    """BRK-3, BRK-4: a halt or a dynamic pause is running (``None``: until a new reference)."""
    return entry.halt_until is None or time < entry.halt_until


def get_blocking(entry: MarketState, time: int) -> str | None:
    """BRK-5, BRK-6: why liquidation in this market is held (halted, divergence, stale) or None."""
    if is_halted(entry, time):
        return "halted"
    params = entry.market.breakers
    divergence = Fraction(params.divergence.num, params.divergence.den)
    if divergence and entry.index and get_move(entry.mark, entry.index) > divergence:
        return "divergence"
    if params.stale_after and time - entry.mark_time > params.stale_after:
        return "stale"
    return None


def record_mark(entry: MarketState, time: int, keep: int) -> MarketState:
    """Append the mark; keep, in order, the dynamic window and the last ``keep`` marks (BRK-4)."""
    history = (*entry.history, (time, entry.mark))
    window = entry.market.breakers.dynamic_window
    first_kept = len(history) - keep
    kept = tuple(h for i, h in enumerate(history) if h[0] >= time - window or i >= first_kept)
    return attrs.evolve(entry, history=kept, mark_time=time)


def process_breakers(
    entry: MarketState, time: int
) -> tuple[MarketState, tuple[BreakerTripped, ...]]:
    """BRK-3, BRK-4: trip the next halt level or the dynamic pause on a mark change."""
    params = entry.market.breakers
    records = []
    if entry.reference and params.halt_levels:
        move = get_move(entry.mark, entry.reference)
        levels = params.halt_levels
        reached = [i for i, lv in enumerate(levels) if move >= Fraction(lv.num, lv.den)]
        if reached and reached[-1] >= entry.tripped:
            level = reached[-1]
            duration = params.halt_durations[level]
            running = entry.halt_until
            until = None if not duration or running is None else max(running, time + duration)
            entry = attrs.evolve(entry, tripped=level + 1, halt_until=until)
            records.append(
                BreakerTripped(
                    entry.market.symbol,
                    f"halt-level-{level + 1}",
                    entry.reference,
                    entry.mark,
                    ratio_text(move),
                    until,
                )
            )
    dynamic = params.dynamic_move
    on = dynamic.num and params.dynamic_window and params.dynamic_pause  # BRK-4: all three > 0
    if on and not is_halted(entry, time):
        window = [price for t, price in entry.history if t >= time - params.dynamic_window]
        moves = [get_move(entry.mark, price) for price in window]
        if moves and max(moves) >= Fraction(dynamic.num, dynamic.den):
            until = time + params.dynamic_pause
            entry = attrs.evolve(entry, halt_until=until)
            start = window[moves.index(max(moves))]
            records.append(
                BreakerTripped(
                    entry.market.symbol, "dynamic", start, entry.mark, ratio_text(max(moves)), until
                )
            )
    return entry, tuple(records)
