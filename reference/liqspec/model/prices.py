"""Liquidation and bankruptcy prices on the tick grid (spec/05-prices.md).

Both prices are defined on the market's price grid, the whole ticks 1..max_price, by the
engine's own integer equity and trigger, so a published price is exactly reproducible:

* liquidation price, PRICE-2: walking from the adverse end of the grid (1 for a long, max_price
  for a short) toward safety, the last price of the first run of liquidatable prices;
* bankruptcy price, PRICE-5: walking the same way, the first price at which equity >= 0.

The other legs of the unit are held at their marks. Within one tier's price range the margin
surplus is monotone in price (PRICE-3), so each range is searched by bisection.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from fractions import Fraction

from attrs import frozen

from liqspec.base.conventions import div_ceil, last_true_near
from liqspec.model.accounts import MarginUnit
from liqspec.model.margin import (
    get_close_fee_estimate,
    get_leg_terms,
    get_maintenance_margin,
    get_notional,
    get_size_rate,
    get_tier_index,
    get_unrealized_pnl,
    is_below_maintenance,
)
from liqspec.model.markets import (
    ContractKind,
    Market,
    PriceDisplay,
    Tier,
    TierMode,
    Trigger,
    Valuation,
)

__all__ = [
    "PriceResult",
    "PriceStatus",
    "get_bankruptcy_price",
    "get_displayed_liquidation_price",
    "get_exact_bankruptcy_price",
    "get_exact_liquidation_price",
    "get_liquidation_price",
    "get_range_guess",
    "get_tier_price_ranges",
    "is_bankrupt_at",
    "is_liquidatable_at",
]


class PriceStatus(enum.Enum):
    """Whether a price exists on the grid (PRICE-1)."""

    AT = "price"
    """The condition starts at a grid price, given in ``price``."""
    NEVER = "none"
    """No grid price meets the condition (e.g. a fully collateralised long)."""
    ALWAYS = "always"
    """Every grid price meets the condition."""


@frozen
class PriceResult:
    """A grid price (ticks) or the reason there is none (PRICE-1)."""

    status: PriceStatus
    price: int | None = None


_NEVER = PriceResult(PriceStatus.NEVER)
_ALWAYS = PriceResult(PriceStatus.ALWAYS)


def _others(unit: MarginUnit, index: int) -> tuple[int, int]:
    """Return (collateral + PnL, maintenance) of every leg but ``index``, at their marks."""
    equity, maintenance = unit.collateral, 0
    for j, leg in enumerate(unit.legs):
        if j != index:
            pnl, margin = get_leg_terms(leg.market, leg.position, leg.mark)
            equity, maintenance = equity + pnl, maintenance + margin
    return equity, maintenance


def _surplus_at(unit: MarginUnit, index: int) -> Callable[[int], int]:
    """Return price -> E - MM of the unit with leg ``index`` at that price (PRICE-2)."""
    market, position = unit.legs[index].market, unit.legs[index].position
    base_equity, base_maintenance = _others(unit, index)

    def surplus(price: int) -> int:
        pnl, maintenance = get_leg_terms(market, position, price)
        return base_equity + pnl - base_maintenance - maintenance

    return surplus


def _liquidatable_at(unit: MarginUnit, index: int) -> Callable[[int], bool]:
    surplus = _surplus_at(unit, index)
    strict = unit.trigger is Trigger.STRICT

    def liquidatable(price: int) -> bool:
        return is_below_maintenance(surplus(price), 0, strict=strict)

    return liquidatable


def _bankrupt_at(unit: MarginUnit, index: int) -> Callable[[int], bool]:
    market, position = unit.legs[index].market, unit.legs[index].position
    base_equity, _ = _others(unit, index)

    def bankrupt(price: int) -> bool:
        return base_equity + get_unrealized_pnl(market, position, price) < 0

    return bankrupt


def is_liquidatable_at(unit: MarginUnit, index: int, price: int) -> bool:
    """Return the trigger with leg ``index`` moved to ``price`` and the rest fixed (PRICE-2)."""
    return _liquidatable_at(unit, index)(price)


def is_bankrupt_at(unit: MarginUnit, index: int, price: int) -> bool:
    """Return equity < 0 with leg ``index`` moved to ``price`` and the rest fixed (PRICE-5)."""
    return _bankrupt_at(unit, index)(price)


def get_tier_price_ranges(market: Market, size: int) -> list[tuple[int, int]]:
    """Split the grid 1..max_price into ranges on which ``size`` lots stay in one tier.

    Ascending, non-empty, contiguous (PRICE-3). A cut is the lowest price at which the value
    crosses a tier cap: linear ceil(cap / (size x K)); inverse ceil(size x K / (cap - 1)).
    """
    top, table = market.max_price, market.table
    if table.at_entry or not table.bounds:
        return [(1, top)]
    scale = size * table.factor
    if table.linear:
        cuts = [div_ceil(cap, scale) for cap in table.bounds]
    else:
        cuts = [div_ceil(scale, cap - 1) if cap > 1 else top + 1 for cap in table.bounds]
    starts = [1, *sorted({cut for cut in cuts if 1 < cut <= top})]
    ends = [c - 1 for c in starts[1:]] + [top]
    return list(zip(starts, ends, strict=True))


def get_liquidation_price(unit: MarginUnit, index: int) -> PriceResult:
    """Return the liquidation price of leg ``index``, the others held at their marks (PRICE-2).

    At the returned price the unit is liquidatable, and so at every grid price beyond it on
    the adverse side; one tick toward safety it is not (PRICE-4). On linear continuous
    markets it equals the venues' closed form rounded to the grid (PRICE-8). Within a tier
    range the surplus E - MM is monotone (PRICE-3), so the boundary is searched from the root
    of the surplus's line through the range's ends (:func:`get_range_guess`).
    """
    leg = unit.legs[index]
    side = int(leg.position.side)
    surplus = _surplus_at(unit, index)
    liquidatable = _liquidatable_at(unit, index)
    strict = unit.trigger is Trigger.STRICT
    ranges = get_tier_price_ranges(leg.market, leg.position.size)
    oriented = ranges if side > 0 else [(hi, lo) for lo, hi in reversed(ranges)]
    adverse_end = oriented[0][0]
    for start, end in oriented:
        at_start = surplus(start)
        if not is_below_maintenance(at_start, 0, strict=strict):
            return _NEVER if start == adverse_end else PriceResult(PriceStatus.AT, start - side)
        at_end = surplus(end)
        if is_below_maintenance(at_end, 0, strict=strict):
            continue
        inverse = leg.market.contract is ContractKind.INVERSE
        guess = get_range_guess((start, at_start), (end, at_end), inverse=inverse)
        return PriceResult(PriceStatus.AT, last_true_near(liquidatable, start, end, guess))
    return _ALWAYS


def get_range_guess(first: tuple[int, int], last: tuple[int, int], *, inverse: bool) -> int:
    """Return where the line through two (price, surplus) points crosses 0, on the grid.

    Within a tier range the surplus is linear in the price on linear contracts and in
    1 / price on inverse ones, up to roundings of a quantum: the guess is a tick or two from
    the boundary, which the search then finds exactly (CONV-14).

    >>> get_range_guess((100, -50), (200, 50), inverse=False)
    150
    >>> get_range_guess((100, -50), (200, 50), inverse=True)  # 1 / (1/100 + (1/200 - 1/100) / 2)
    133
    """
    (start, at_start), (end, at_end) = first, last
    share = Fraction(at_start, at_start - at_end)
    if not inverse:
        return math.floor(start + share * (end - start))
    reciprocal = Fraction(1, start) + share * (Fraction(1, end) - Fraction(1, start))
    return math.floor(1 / reciprocal)


def get_bankruptcy_price(unit: MarginUnit, index: int) -> PriceResult:
    """Return the bankruptcy price of leg ``index``, the others held at their marks (PRICE-5).

    The first grid price, walking from the adverse end toward safety, at which equity >= 0:
    rounded toward safety, so closing there never leaves negative equity (PRICE-6). Equity is
    monotone in the price, so the search starts at the exact root (PRICE-7).
    """
    leg = unit.legs[index]
    side = int(leg.position.side)
    bankrupt = _bankrupt_at(unit, index)
    adverse_end, safe_end = (1, leg.market.max_price) if side > 0 else (leg.market.max_price, 1)
    if not bankrupt(adverse_end):
        return _NEVER
    if bankrupt(safe_end):
        return _ALWAYS
    root = get_exact_bankruptcy_price(unit, index)
    guess = adverse_end if root is None else math.floor(root)
    return PriceResult(
        PriceStatus.AT, last_true_near(bankrupt, adverse_end, safe_end, guess) + side
    )


def get_exact_liquidation_price(unit: MarginUnit, index: int) -> Fraction | None:
    """Return the unrounded root of E = MM for leg ``index``, in ticks, if positive (PRICE-10).

    E and MM are the unit's with the leg's value unrounded; MM's rate and maintenance amount
    are those of the tier whose notional range holds the root (the tier at the liquidation
    price), else of the tier at PRICE-2's price, with the risk multiplier and the close-fee
    estimate; other legs enter at their marks. None when PRICE-2 gives no price.
    """
    result = get_liquidation_price(unit, index)
    if result.price is None:
        return None
    leg = unit.legs[index]
    market, position = leg.market, leg.position
    side = int(position.side)
    others, others_mm = _others(unit, index)
    scale = position.size * market.value_factor
    linear = market.contract is ContractKind.LINEAR

    def solve(rate: Fraction, constant: Fraction) -> Fraction | None:
        """Return the root of E = rate x V + constant, V = scale P (linear) or scale / P."""
        if linear:  # others + s(scale P - E0) = rate scale P + c
            slope = scale * (side - rate)
            root = (constant - others + side * position.entry_value) / slope if slope else None
        else:  # others + s(E0 - scale / P) = rate scale / P + c
            room = others + side * position.entry_value - constant
            root = (rate + side) * scale / room if room else None
        return root if root is not None and root > 0 else None

    if market.margin_valuation is Valuation.ENTRY:  # MM does not move with the price
        return solve(Fraction(0), Fraction(get_maintenance_margin(market, position, leg.mark)
                                           + others_mm))  # fmt: skip
    multiplier = Fraction(market.risk_multiplier.num, market.risk_multiplier.den)
    fee = get_close_fee_estimate(market, position)
    at_grid = get_tier_index(market, get_notional(market, position, result.price))
    found = None
    for k, tier in enumerate(market.tiers):  # the tier containing its own root, else L's
        amount = tier.maintenance_amount if market.tier_mode is TierMode.CONTINUOUS else 0
        rate = multiplier * Fraction(*_maintenance_rate(market, tier, position.size))
        root = solve(rate, fee + others_mm - multiplier * amount)
        if root is not None and _holds(market, k, scale * root if linear else scale / root):
            return root
        found = root if k == at_grid else found
    return found


def _maintenance_rate(market: Market, tier: Tier, size: int) -> tuple[int, int]:
    """Return the tier's mmr, or on a size-linear market the rate of ``size`` lots (MARGIN-13)."""
    if market.table.size_rate is None:
        return tier.mmr.num, tier.mmr.den
    return get_size_rate(market.table.size_rate, size)


def _holds(market: Market, index: int, notional: Fraction) -> bool:
    """Whether tier ``index`` covers an unrounded notional: [floor, cap), the last unbounded."""
    tier = market.tiers[index]
    return tier.floor <= notional and (index == len(market.tiers) - 1 or notional < tier.cap)


def get_displayed_liquidation_price(unit: MarginUnit, index: int) -> PriceResult:
    """Return the liquidation price as the market's ``price_display`` shows it (PRICE-10).

    ``conservative``: PRICE-2's price. ``nearest-half-up``: the exact root of
    :func:`get_exact_liquidation_price` rounded to the nearest tick, a half up, kept in the
    domain; PRICE-2's status when there is no root.
    """
    result = get_liquidation_price(unit, index)
    market = unit.legs[index].market
    exact = get_exact_liquidation_price(unit, index)
    if market.price_display is PriceDisplay.CONSERVATIVE or exact is None:
        return result
    nearest = math.floor(exact + Fraction(1, 2))
    return PriceResult(PriceStatus.AT, min(market.max_price, max(1, nearest)))


def get_exact_bankruptcy_price(unit: MarginUnit, index: int) -> Fraction | None:
    """Return the unrounded price (in ticks) at which equity is exactly zero, if positive.

    The root of C + s x (V(P) - V(entry)) = 0 (linear) or C + s x (V(entry) - V(P)) = 0
    (inverse) with V unrounded and C the collateral plus the other legs' PnL (PRICE-7).
    """
    leg = unit.legs[index]
    market, position = leg.market, leg.position
    side = int(position.side)
    others, _ = _others(unit, index)
    scale = position.size * market.value_factor
    entry_value = position.entry_value
    if market.contract is ContractKind.LINEAR:
        root = Fraction(entry_value - side * others, scale)
    else:
        denominator = entry_value + side * others
        if denominator <= 0:
            return None
        root = Fraction(scale, denominator)
    return root if root > 0 else None
