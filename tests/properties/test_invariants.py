"""Hypothesis properties of the catalogue's second part (proofs/liqproofs/soundness.py).

Each test evaluates, on the reference and on random inputs, the statement the proof of the same
id makes (spec/invariants.md): INV-VALUE-MONOTONE, INV-RISK-MONOTONE, INV-EXIT,
INV-MARK-TOWARD, INV-LEAST-TARGET, INV-HALT-ONCE, INV-TIERS-SYMBOLIC, INV-LP-SOUND,
INV-BP-SOUND, INV-BANKRUPT-LIQ.
"""

from __future__ import annotations

from fractions import Fraction

import attrs
from hypothesis import given
from hypothesis import strategies as st

from liqspec import (
    MarginUnit,
    Market,
    PriceStatus,
    Ratio,
    TierMode,
    get_bankruptcy_price,
    get_liquidation_price,
    get_value,
    is_bankrupt_at,
    is_liquidatable_at,
)
from liqspec.engine.breakers import process_breakers
from liqspec.engine.execution import _smallest, get_exit_threshold
from liqspec.engine.markprice import round_toward
from liqspec.engine.state import MarketState
from liqspec.model.margin import (
    get_equity,
    get_initial_margin,
    get_maintenance_for_notional,
    get_maintenance_margin,
    is_liquidatable,
)
from liqspec.model.markets import BreakerParams, LiquidationParams

from .strategies import market_and_size, positions, units


@given(market_and_size(), st.data())
def test_value_is_monotone_in_price(pair: tuple[Market, int], data: st.DataObject) -> None:
    """INV-VALUE-MONOTONE: linear values rise with price, inverse values fall."""
    market, size = pair
    low = data.draw(st.integers(1, market.max_price - 1))
    high = data.draw(st.integers(low + 1, market.max_price))
    a, b = get_value(market, size, low), get_value(market, size, high)
    assert a <= b if market.contract.value == "linear" else a >= b


@given(market_and_size(), st.data(), st.fractions(1, 3), st.fractions(1, 3))
def test_a_higher_multiplier_never_lowers_maintenance(
    pair: tuple[Market, int], data: st.DataObject, m1: Fraction, m2: Fraction
) -> None:
    """INV-RISK-MONOTONE: MM under m1 <= MM under m2 when m1 <= m2, at every price."""
    market, size = pair
    low, high = sorted((m1, m2))
    position = data.draw(positions(market, size))
    price = data.draw(st.integers(1, market.max_price))
    mm = [
        get_maintenance_margin(
            attrs.evolve(market, risk_multiplier=Ratio.of(m.numerator, m.denominator)),
            position,
            price,
        )
        for m in (Fraction(1), low, high)
    ]
    assert mm[0] <= mm[1] <= mm[2]


@given(units(), st.integers(0, 1000))
def test_leaving_liquidation_is_not_liquidatable(unit: MarginUnit, buffer: int) -> None:
    """INV-EXIT: T >= MM; at E >= T a unit is not liquidatable (inclusive: with a buffer)."""
    rate = Ratio.of(buffer, 1000)
    legs = tuple(
        attrs.evolve(
            leg, market=attrs.evolve(leg.market, liquidation=LiquidationParams(buffer=rate))
        )
        for leg in unit.legs
    )
    unit = attrs.evolve(unit, legs=legs)
    threshold = get_exit_threshold(unit)
    mm = sum(get_maintenance_margin(leg.market, leg.position, leg.mark) for leg in legs)
    assert threshold >= mm
    raised = attrs.evolve(unit, collateral=unit.collateral + threshold - get_equity(unit))
    if unit.trigger.value == "strict" or (buffer and mm):
        assert not is_liquidatable(raised)


@given(st.fractions(Fraction(1, 7), 10**6), st.integers(1, 10**6), st.integers(1, 10**6))
def test_mark_rounding_moves_toward_the_index(value: Fraction, index: int, top: int) -> None:
    """INV-MARK-TOWARD: the rounded, clamped mark is no further from the index than the value."""
    top = max(top, index)
    mark = min(max(round_toward(value, index), 1), top)
    assert abs(mark - index) <= abs(value - index)
    assert (mark >= index) if value >= index else (mark <= index)


@given(st.integers(1, 500), st.integers(-5, 600))
def test_the_target_search_returns_the_least_size(size: int, threshold: int) -> None:
    """INV-LEAST-TARGET: on a monotone condition, _smallest is the least d that holds."""

    def holds(lots: int) -> bool:
        return lots >= threshold

    found = _smallest(holds, size)
    if holds(size):
        assert holds(found)
        assert found == 1 or not holds(found - 1)
    else:
        assert found == size


@given(market_and_size(), st.data())
def test_halt_levels_trip_once_per_reference(pair: tuple[Market, int], data: st.DataObject) -> None:
    """INV-HALT-ONCE: under one reference, each level trips at most once, levels ascending;
    the halt's end never moves earlier."""
    market, _ = pair
    levels = (Ratio.of(1, 20), Ratio.of(1, 10), Ratio.of(1, 5))
    durations = data.draw(st.lists(st.integers(0, 50), min_size=3, max_size=3))
    breakers = BreakerParams(halt_levels=levels, halt_durations=tuple(durations))
    market = attrs.evolve(market, breakers=breakers)
    reference = data.draw(st.integers(10, market.max_price))
    entry = MarketState(market, reference, reference=reference)
    marks = data.draw(st.lists(st.integers(1, market.max_price), min_size=1, max_size=8))
    tripped: list[str] = []
    end = entry.halt_until
    for time, mark in enumerate(marks):
        entry, records = process_breakers(attrs.evolve(entry, mark=mark), time)
        tripped += [r.breaker for r in records]
        if end is None:  # open-ended: only a new reference ends it
            assert entry.halt_until is None
        elif entry.halt_until is not None:
            assert entry.halt_until >= end
        end = entry.halt_until
    assert tripped == sorted(set(tripped))


@given(market_and_size(tier_mode=TierMode.CONTINUOUS), st.data())
def test_tier_tables_are_sound(pair: tuple[Market, int], data: st.DataObject) -> None:
    """INV-TIERS-SYMBOLIC: on random valid tables, MM is monotone and IM >= MM."""
    market, size = pair
    notional = data.draw(st.integers(0, 2 * market.tiers[-1].cap))
    here = get_maintenance_for_notional(market, notional)
    assert here <= get_maintenance_for_notional(market, notional + 1)
    position = data.draw(positions(market, size))
    price = data.draw(st.integers(1, market.max_price))
    assert get_initial_margin(market, position, price) >= get_maintenance_margin(
        market, position, price
    )


@given(units(max_legs=2), st.data())
def test_published_prices_are_boundaries(unit: MarginUnit, data: st.DataObject) -> None:
    """INV-LP-SOUND, INV-BP-SOUND, INV-BANKRUPT-LIQ on a random price of a random unit."""
    leg = unit.legs[0]
    side = int(leg.position.side)
    price = data.draw(st.integers(1, leg.market.max_price))
    lp = get_liquidation_price(unit, 0)
    if lp.status is PriceStatus.AT and lp.price is not None:
        assert is_liquidatable_at(unit, 0, lp.price)
        continuous = leg.market.tier_mode is TierMode.CONTINUOUS
        if continuous and (price - lp.price) * side > 0:
            assert not is_liquidatable_at(unit, 0, price)
        if (price - lp.price) * side <= 0:  # the adverse run, PRICE-2
            assert is_liquidatable_at(unit, 0, price)
    bp = get_bankruptcy_price(unit, 0)
    if bp.status is PriceStatus.AT and bp.price is not None:
        assert is_bankrupt_at(unit, 0, price) == ((price - bp.price) * side < 0)
    if is_bankrupt_at(unit, 0, price):
        assert is_liquidatable_at(unit, 0, price)
