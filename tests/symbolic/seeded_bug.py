"""A deliberately wrong rounding helper: CrossHair must report it, or the run is vacuous."""

from __future__ import annotations


def div_ceil_rounding_down(num: int, den: int) -> int:
    """Claim the ceiling but compute the floor.

    pre: den > 0
    post: (__return__ - 1) * den < num <= __return__ * den
    """
    return num // den
