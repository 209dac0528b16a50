"""Properties of margin (spec/04-margin.md).

Invariants exercised: INV-MM-MONOTONE, INV-MM-SLOPE, INV-MM-CONTINUOUS, INV-IM-GE-MM, and on
random tables INV-TIERS-SYMBOLIC (its theorem covers every valid 3-tier table).
"""

from __future__ import annotations

from fractions import Fraction

import attrs
from hypothesis import given
from hypothesis import strategies as st

from liqspec import (
    ContractKind,
    MarginUnit,
    Market,
    Ratio,
    TierMode,
    get_initial_margin,
    get_maintenance_for_notional,
    get_maintenance_margin,
    get_unrealized_pnl,
    get_value,
    is_liquidatable,
)
from liqspec.model.margin import (
    get_equity,
    get_leg_terms,
    get_maintenance_requirement,
    get_margin_ratio,
    get_unit_terms,
)
from liqspec.model.prices import get_bankruptcy_price, get_liquidation_price

from .strategies import market_and_size, units


@given(market_and_size(tier_mode=TierMode.CONTINUOUS), st.data())
def test_continuous_maintenance_is_continuous_and_non_decreasing(
    pair: tuple[Market, int], data: st.DataObject
) -> None:
    """MARGIN-4: exact MM agrees on both sides of every floor; rounded MM never decreases."""
    market, _ = pair
    for lower, upper in zip(market.tiers, market.tiers[1:], strict=False):
        floor = upper.floor
        below = Fraction(floor * lower.mmr.num, lower.mmr.den) - lower.maintenance_amount
        above = Fraction(floor * upper.mmr.num, upper.mmr.den) - upper.maintenance_amount
        assert below == above
    top = market.tiers[-1].cap * 2
    notional = data.draw(
        st.one_of(st.integers(0, top), st.sampled_from([t.floor for t in market.tiers]))
    )
    step = data.draw(st.integers(1, 10**6))
    here = get_maintenance_for_notional(market, notional)
    there = get_maintenance_for_notional(market, notional + step)
    assert here <= there <= here + step  # non-decreasing, slope below 1 (mmr < 1)
    assert get_maintenance_for_notional(market, notional + 1) - here <= 1


@given(market_and_size(tier_mode=TierMode.STEP), st.integers(0, 10**15))
def test_step_maintenance_is_the_tier_rate_on_the_whole_notional(
    pair: tuple[Market, int], notional: int
) -> None:
    """MARGIN-5: step tiers apply one rate to the whole notional, rounded up."""
    market, _ = pair
    tier = next((t for t in market.tiers if notional < t.cap), market.tiers[-1])
    exact = Fraction(notional * tier.mmr.num, tier.mmr.den)
    assert get_maintenance_for_notional(market, notional) == -(
        -exact.numerator // exact.denominator
    )


@given(units(), st.data())
def test_initial_margin_covers_maintenance(unit: MarginUnit, data: st.DataObject) -> None:
    """MARGIN-6: IM >= MM for every position at every price."""
    for leg in unit.legs:
        price = data.draw(st.integers(1, leg.market.max_price))
        assert get_initial_margin(leg.market, leg.position, price) >= get_maintenance_margin(
            leg.market, leg.position, price
        )


@given(market_and_size(contract=ContractKind.INVERSE), st.data())
def test_inverse_value_is_rounded_up_once(pair: tuple[Market, int], data: st.DataObject) -> None:
    """MARGIN-1: V(P) = ceil(size x K / P)."""
    market, size = pair
    price = data.draw(st.integers(1, market.max_price))
    value = get_value(market, size, price)
    exact = size * market.value_factor
    assert value * price >= exact > (value - 1) * price


@given(units())
def test_margin_functions_never_raise_and_agree(unit: MarginUnit) -> None:
    """Every query answers on any valid input; the ratio and the trigger agree (MARGIN-9, 11)."""
    equity, maintenance = get_equity(unit), get_maintenance_requirement(unit)
    ratio = get_margin_ratio(unit)
    assert (ratio is None) == (equity <= 0)
    if ratio is not None and ratio.num * equity != maintenance * ratio.den:
        raise AssertionError(ratio)
    if equity < maintenance:
        assert is_liquidatable(unit)
    if equity > maintenance:
        assert not is_liquidatable(unit)
    for index in range(len(unit.legs)):
        get_liquidation_price(unit, index)
        get_bankruptcy_price(unit, index)


@given(units(), st.data())
def test_the_integer_kernel_is_the_rules(unit: MarginUnit, data: st.DataObject) -> None:
    """MARGIN-2, MARGIN-8, MARGIN-10: the kernel's (PnL, MM) and (equity, MM) are the rules'.

    Drawn with a risk multiplier (RISK-4) and Bybit's close fee (MARGIN-7) as well, at the
    leg's mark and at any grid price.
    """
    legs = []
    for leg in unit.legs:
        market = attrs.evolve(
            leg.market,
            risk_multiplier=Ratio.of(data.draw(st.integers(100, 400)), 100),
            close_fee_in_margin=leg.market.contract is ContractKind.LINEAR
            and data.draw(st.booleans()),
            taker_fee=Ratio.of(data.draw(st.integers(0, 100)), 10_000),
        )
        legs.append(attrs.evolve(leg, market=market))
        for price in (leg.mark, data.draw(st.integers(1, market.max_price))):
            pnl = get_unrealized_pnl(market, leg.position, price)
            maintenance = get_maintenance_margin(market, leg.position, price)
            assert get_leg_terms(market, leg.position, price) == (pnl, maintenance)
    unit = attrs.evolve(unit, legs=tuple(legs))
    equity = unit.collateral + sum(get_unrealized_pnl(x.market, x.position, x.mark) for x in legs)
    maintenance = sum(get_maintenance_margin(x.market, x.position, x.mark) for x in legs)
    assert get_unit_terms(unit) == (equity, maintenance)


@given(market_and_size(size_linear=True), st.data())
def test_size_linear_maintenance_grows_with_the_size_at_most_by_the_value_added(
    pair: tuple[Market, int], data: st.DataObject
) -> None:
    """MARGIN-13, INV-MM-SIZE: at one price, d more lots raise MM by 0 to their value.

    And MM is the published form, ceil(q x V(1, P) x min(m0 + k x lot x q, cap)).
    """
    market, size = pair
    price = data.draw(st.integers(1, market.max_price))
    added = data.draw(st.integers(1, 10**6))
    slope = Fraction(market.size_slope.num, market.size_slope.den)
    lot = Fraction(market.lot_size.num, market.lot_size.den)
    mmr = Fraction(market.tiers[0].mmr.num, market.tiers[0].mmr.den)
    cap = Fraction(market.size_rate_cap.num, market.size_rate_cap.den)

    def maintenance(lots: int) -> int:
        return get_maintenance_for_notional(market, get_value(market, lots, price), lots)

    exact = get_value(market, size, price) * min(mmr + slope * lot * size, cap)
    assert maintenance(size) == -(-exact.numerator // exact.denominator)
    rise = maintenance(size + added) - maintenance(size)
    assert 0 <= rise <= get_value(market, added, price)
