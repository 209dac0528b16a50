"""CrossHair contracts on the integer kernel (spec/04-margin.md), beyond those in its docstrings.

Each function states a property of the engine's own integer functions as a postcondition;
``run_crosshair.py`` asks CrossHair to confirm every one over all paths.
"""

from __future__ import annotations

from liqspec.base.conventions import div_ceil
from liqspec.model.margin import get_tier_maintenance, is_below_maintenance


def tier_maintenance_is_monotone(notional: int, mmr_num: int, mmr_den: int, amount: int) -> bool:
    """MARGIN-4: one more quantum of notional never lowers maintenance, nor raises it by > 1.

    pre: notional >= 0 and 0 < mmr_num < mmr_den and amount >= 0
    post: __return__
    """
    here = get_tier_maintenance(notional, mmr_num, mmr_den, amount)
    there = get_tier_maintenance(notional + 1, mmr_num, mmr_den, amount)
    return here <= there <= here + 1


def maintenance_is_continuous_at_a_floor(
    floor: int, lower_num: int, upper_num: int, den: int, lower_amount: int
) -> bool:
    """MARKET-10: with the recursion's amount, both tiers give the same MM at the floor.

    pre: floor >= 0 and 0 < lower_num <= upper_num < den and lower_amount >= 0
    pre: (floor * (upper_num - lower_num)) % den == 0
    post: __return__
    """
    upper_amount = lower_amount + floor * (upper_num - lower_num) // den
    below = get_tier_maintenance(floor, lower_num, den, lower_amount)
    above = get_tier_maintenance(floor, upper_num, den, upper_amount)
    return below == above


def initial_covers_maintenance(
    notional: int, mmr_num: int, imr_num: int, den: int, amount: int
) -> bool:
    """MARGIN-6: a higher rate and a non-negative amount make IM >= MM.

    pre: notional >= 0 and 0 < mmr_num < imr_num <= den and amount >= 0
    post: __return__
    """
    return div_ceil(notional * imr_num, den) >= get_tier_maintenance(notional, mmr_num, den, amount)


def strict_trigger_spares_equality(equity: int) -> bool:
    """MARGIN-9, INV-TRIGGER: at equity == MM the strict trigger holds back, inclusive fires.

    post: __return__
    """
    spared = not is_below_maintenance(equity, equity, strict=True)
    return spared and is_below_maintenance(equity, equity, strict=False)


def inverse_value_rounds_up(size: int, factor: int, price: int) -> bool:
    """MARGIN-1: ceil(size x K / P) x P covers size x K, by less than one price step.

    pre: size > 0 and factor > 0 and price > 0
    post: __return__
    """
    value = div_ceil(size * factor, price)
    return value * price >= size * factor > (value - 1) * price
