"""Margin: value, PnL, initial and maintenance margin, equity and the trigger (spec/04-margin.md).

Per-position functions take ``(market, position, price)`` so that a price can be varied (or be
a solver term) without building new objects. Per-unit functions take a
:class:`~liqspec.model.accounts.MarginUnit` of plain integers and run on the integer kernel,
which a property test holds equal to the per-position rules. All amounts are integers in
settlement quantums.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from liqspec.base.conventions import Ratio, div_ceil, ite, smin
from liqspec.model.accounts import MarginUnit, Position
from liqspec.model.markets import (
    ContractKind,
    Market,
    Tier,
    TierMode,
    Trigger,
    Valuation,
    get_size_rate_terms,
    get_value,
)

__all__ = [
    "get_close_fee_estimate",
    "get_equity",
    "get_initial_for_notional",
    "get_initial_margin",
    "get_initial_rate",
    "get_initial_requirement",
    "get_maintenance_for_notional",
    "get_maintenance_margin",
    "get_maintenance_requirement",
    "get_margin_ratio",
    "get_notional",
    "get_open_interest_rate",
    "get_size_rate",
    "get_tier_index",
    "get_tier_maintenance",
    "get_unrealized_pnl",
    "get_value",
    "is_below_maintenance",
    "is_liquidatable",
]


# --- one position ------------------------------------------------------------------------------


def get_unrealized_pnl(market: Market, position: Position, price: int) -> int:
    """Return the position's PnL at ``price``, in quantums (MARGIN-2).

    With E the entry value: linear s x (V(price) - E); inverse s x (E - V(price)).
    """
    change = get_value(market, position.size, price) - position.entry_value
    direction = 1 if market.contract is ContractKind.LINEAR else -1
    return int(position.side) * direction * change


def get_notional(market: Market, position: Position, price: int) -> int:
    """Return the notional the requirements use: V(price), or E at entry valuation (MARGIN-3)."""
    if market.margin_valuation is Valuation.ENTRY:
        return position.entry_value
    return get_value(market, position.size, price)


def get_tier_index(market: Market, notional: int) -> int:
    """Return the index of the tier whose [floor, cap) holds ``notional`` (MARGIN-4).

    A notional at or above the last cap uses the last tier. Caps increase (MARKET-6), so the
    index is the number of caps below the last one that are at or below the notional.
    """
    return bisect_right(market.table.bounds, notional)


def select_by_tier(market: Market, notional: int, formula: Callable[[Tier], int]) -> int:
    """Evaluate ``formula`` on the tier of ``notional``; an ``ite`` chain on solver terms."""
    if isinstance(notional, int):
        return formula(market.tiers[get_tier_index(market, notional)])
    result = formula(market.tiers[-1])
    for tier in reversed(market.tiers[:-1]):
        result = ite(notional < tier.cap, formula(tier), result)
    return result


def get_tier_maintenance(notional: int, mmr_num: int, mmr_den: int, amount: int) -> int:
    """Return ceil(notional x mmr_num / mmr_den) - amount: one tier's formula (MARGIN-4).

    pre: notional >= 0 and 0 < mmr_num < mmr_den and amount >= 0
    post: (__return__ + amount) * mmr_den >= notional * mmr_num
    post: (__return__ + amount - 1) * mmr_den < notional * mmr_num

    >>> get_tier_maintenance(600_000, 13, 2000, 950)  # Binance tier 3 at its floor: 3900 - 950
    2950
    """
    return div_ceil(notional * mmr_num, mmr_den) - amount


def get_size_rate(terms: tuple[int, int, int, int], size: int) -> tuple[int, int]:
    """Return (numerator, denominator) of a size-linear rate, min(a + b x q, c) / d (MARGIN-13).

    ``terms`` come from :func:`~liqspec.model.markets.get_size_rate_terms`; works on solver
    terms.

    >>> terms = (200_000, 1, 10_000_000, 20_000_000)  # 1% + 0.005% per BTC, lots of 0.001
    >>> get_size_rate(terms, 25_000)  # 25 BTC: 1.125%
    (225000, 20000000)
    >>> get_size_rate(terms, 10**10)  # capped at 50%
    (10000000, 20000000)
    """
    base, per_lot, cap, den = terms
    return smin(base + per_lot * size, cap), den


def get_maintenance_for_notional(market: Market, notional: int, size: int = 0) -> int:
    """Return the maintenance margin of ``notional`` quantums, rounded up (MARGIN-4, MARGIN-5).

    Continuous tiers: ceil(N x mmr) - maintenance amount of N's tier.
    Step tiers: ceil(N x mmr), the rate of N's tier applied to the whole notional.
    Size-linear markets: ceil(N x m(q)), the rate of a position of ``size`` lots (MARGIN-13).
    """
    if market.table.size_rate is not None:
        num, den = get_size_rate(market.table.size_rate, size)
        return div_ceil(notional * num, den)
    continuous = market.tier_mode is TierMode.CONTINUOUS
    return select_by_tier(
        market,
        notional,
        lambda t: get_tier_maintenance(
            notional, t.mmr.num, t.mmr.den, t.maintenance_amount if continuous else 0
        ),
    )


def get_initial_for_notional(market: Market, notional: int, size: int = 0) -> int:
    """Return ceil(N x imr) of ``notional``'s tier, or of a ``size``-lot position (MARGIN-13).

    The rate before open interest and chosen leverage (MARGIN-6), as the proofs compare it.
    """
    if market.table.size_rate is not None:
        terms = get_size_rate_terms(market, market.tiers[0].imr)
        num, den = get_size_rate(terms, size)
        return div_ceil(notional * num, den)
    return select_by_tier(market, notional, lambda t: t.imr.apply_up(notional))


def get_open_interest_rate(rate: Ratio, caps: tuple[int, int], open_notional: int) -> Ratio:
    """Return ``rate`` raised toward 1 as the open notional crosses the caps (MARGIN-12).

    Between the caps the rate gains ``(1 - rate) x (open_notional - lower) / (upper - lower)``,
    truncated to a whole ppm (dYdX's open-interest-based IMF); an upper cap of 0 turns it off.

    >>> caps = (1_000_000, 2_000_000)
    >>> [str(get_open_interest_rate(Ratio(1, 5), caps, n)) for n in (0, 1_234_567, 2_000_000)]
    ['0.2', '0.387653', '1']
    """
    lower, upper = caps
    if upper == 0 or open_notional <= lower:
        return rate
    if open_notional >= upper:
        return Ratio(1, 1)
    gained = (rate.den - rate.num) * (open_notional - lower) * 10**6
    ppm = gained // (rate.den * (upper - lower))
    return Ratio.of(rate.num * 10**6 + ppm * rate.den, rate.den * 10**6)


def get_initial_rate(
    market: Market, position: Position, notional: int, open_notional: int = 0
) -> Ratio:
    """Return the initial margin rate: the tier's, or 1/leverage if higher (MARGIN-6).

    The tier's rate first grows with the position's size (MARGIN-13), then with the market's
    open notional (MARGIN-12).
    """
    tier_rate = market.tiers[get_tier_index(market, notional)].imr
    if market.table.size_rate is not None:
        num, den = get_size_rate(get_size_rate_terms(market, tier_rate), position.size)
        tier_rate = Ratio.of(num, den)
    tier_rate = get_open_interest_rate(tier_rate, market.open_interest_caps, open_notional)
    own = position.chosen_imr
    return own if own is not None and tier_rate < own else tier_rate


def get_close_fee_estimate(market: Market, position: Position) -> int:
    """Return the fee to close at the estimated bankruptcy price, or 0 (MARGIN-7).

    Only when ``close_fee_in_margin`` is set (Bybit's convention): ceil(taker fee x entry
    value x (1 - s x imr)) with imr the position's initial rate and s the side on a linear
    contract, the opposite side on an inverse one. The bankruptcy price is estimated from
    entry (x (1 - imr) for a linear long, x lev / (lev + 1) for an inverse one), and an
    inverse value is 1/price: so the inverse long's value there is entry value x (1 + imr).
    """
    if not market.close_fee_in_margin:
        return 0
    imr = get_initial_rate(market, position, position.entry_value)
    fee = market.taker_fee
    side = int(position.side) * (1 if market.contract is ContractKind.LINEAR else -1)
    num = position.entry_value * (imr.den - side * imr.num) * fee.num
    return div_ceil(num, imr.den * fee.den)


def get_maintenance_margin(market: Market, position: Position, price: int) -> int:
    """Return the position's maintenance margin at ``price``, in quantums (MARGIN-8).

    The tier maintenance is scaled by the market's risk multiplier, rounded up (RISK-4).
    """
    notional = get_notional(market, position, price)
    unscaled = get_maintenance_for_notional(market, notional, position.size)
    scaled = market.risk_multiplier.apply_up(unscaled)
    return scaled + get_close_fee_estimate(market, position)


def get_initial_margin(market: Market, position: Position, price: int) -> int:
    """Return the position's initial margin at ``price``, in quantums (MARGIN-6, RISK-4).

    The market's open interest is valued at ``price`` for MARGIN-12.
    """
    notional = get_notional(market, position, price)
    open_notional = get_value(market, market.open_interest, price) if market.open_interest else 0
    rate = get_initial_rate(market, position, notional, open_notional)
    scaled = market.risk_multiplier.apply_up(rate.apply_up(notional))
    return scaled + get_close_fee_estimate(market, position)


# --- the integer kernel ------------------------------------------------------------------------


def get_leg_terms(market: Market, position: Position, price: int) -> tuple[int, int]:
    """Return (PnL, maintenance margin) of one position at ``price``, integers only.

    The same values as :func:`get_unrealized_pnl` and :func:`get_maintenance_margin`
    (MARGIN-2, MARGIN-8), computed in one pass over the market's precomputed table; a property
    test holds the two routes equal. Integers only: solver terms take the rule functions.
    """
    table = market.table
    if table.linear:
        value = position.size * price * table.factor
        pnl = position.side * (value - position.entry_value)
    else:
        value = -((-position.size * table.factor) // price)
        pnl = position.side * (position.entry_value - value)
    notional = position.entry_value if table.at_entry else value
    if table.size_rate is None:
        num, den, amount = table.rates[bisect_right(table.bounds, notional)]
    else:
        (num, den), amount = get_size_rate(table.size_rate, position.size), 0
    maintenance = -((-notional * num) // den) - amount
    if table.risk is not None:
        maintenance = table.risk.apply_up(maintenance)
    if table.close_fee:
        maintenance += get_close_fee_estimate(market, position)
    return pnl, maintenance


def get_unit_terms(unit: MarginUnit) -> tuple[int, int]:
    """Return (equity, maintenance requirement) of the unit (MARGIN-8, MARGIN-10)."""
    equity, maintenance = unit.collateral, 0
    for leg in unit.legs:
        pnl, margin = get_leg_terms(leg.market, leg.position, leg.mark)
        equity, maintenance = equity + pnl, maintenance + margin
    return equity, maintenance


# --- one margin unit ---------------------------------------------------------------------------


def get_equity(unit: MarginUnit) -> int:
    """Return collateral plus the PnL of every leg at its mark (MARGIN-10)."""
    return get_unit_terms(unit)[0]


def get_maintenance_requirement(unit: MarginUnit) -> int:
    """Return the sum of the legs' maintenance margins (MARGIN-8)."""
    return get_unit_terms(unit)[1]


def get_initial_requirement(unit: MarginUnit) -> int:
    """Return the sum of the legs' initial margins (MARGIN-6)."""
    return sum(get_initial_margin(leg.market, leg.position, leg.mark) for leg in unit.legs)


def get_margin_ratio(unit: MarginUnit) -> Ratio | None:
    """Return maintenance requirement / equity, or None when equity <= 0 (MARGIN-11)."""
    equity = get_equity(unit)
    if equity <= 0:
        return None
    return Ratio.of(get_maintenance_requirement(unit), equity)


def is_below_maintenance(equity: int, maintenance: int, *, strict: bool) -> bool:
    """Return the trigger: equity < MM (strict) or equity <= MM (inclusive) (MARGIN-9).

    post: __return__ == ((equity < maintenance) or (not strict and equity == maintenance))

    >>> is_below_maintenance(100, 100, strict=True), is_below_maintenance(100, 100, strict=False)
    (False, True)
    """
    return equity < maintenance if strict else equity <= maintenance


def is_liquidatable(unit: MarginUnit) -> bool:
    """Return whether the unit must be liquidated: it has a leg and the trigger holds (MARGIN-9).

    MM is never negative, so a unit with negative equity is always liquidatable (PRICE-9).
    """
    if not unit.legs:
        return False
    equity, maintenance = get_unit_terms(unit)
    return is_below_maintenance(equity, maintenance, strict=unit.trigger is Trigger.STRICT)
