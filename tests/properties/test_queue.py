"""The queue index's certificates (engine/queue.py): sound at every mark of their ranges.

The index leaves an account alone while each of its marks stays in the ranges of its
certificate, so a certificate must keep the account out of liquidation at every such mark.
The engine state machine (test_engine.py) checks the whole index against LIQ-3's scan; this
file checks the argument it rests on, on ranges the index proposes and on arbitrary ones.
"""

from __future__ import annotations

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from liqspec import ContractKind, MarginUnit, get_value, is_liquidatable
from liqspec.base.conventions import last_true
from liqspec.engine.queue import Range, get_proposed_range, is_certified

from .strategies import units


def _ranges(unit: MarginUnit, data: st.DataObject) -> tuple[Range, ...]:
    """The index's proposals for one allowance, or arbitrary ranges holding each mark."""
    if data.draw(st.booleans(), label="arbitrary"):
        return tuple(
            (
                leg.market.symbol,
                data.draw(st.integers(1, leg.mark)),
                data.draw(st.integers(leg.mark, leg.market.max_price)),
            )
            for leg in unit.legs
        )
    allowance = data.draw(st.integers(1, 10**12) | st.integers(1, 1_000), label="allowance")
    return tuple(get_proposed_range(leg, allowance) for leg in unit.legs)


@given(units(), st.data())
def test_a_certificate_holds_at_every_mark_of_its_ranges(
    unit: MarginUnit, data: st.DataObject
) -> None:
    """LIQ-1, LIQ-3: no mark in certified ranges makes the unit liquidatable."""
    ranges = _ranges(unit, data)
    for leg, (_, low, high) in zip(unit.legs, ranges, strict=True):
        assert low <= leg.mark <= high
    certified = is_certified(unit, ranges)
    hypothesis.event(f"certified: {certified}")
    if not certified:
        return
    corners = [(low, high) for _, low, high in ranges]
    for _ in range(4):
        marks = [data.draw(st.sampled_from(ends) | st.integers(*ends)) for ends in corners]
        legs = tuple(attrs.evolve(leg, mark=m) for leg, m in zip(unit.legs, marks, strict=True))
        assert not is_liquidatable(attrs.evolve(unit, legs=legs))


def _moved(unit: MarginUnit, price: int) -> MarginUnit:
    """The unit with its first leg's mark at ``price``."""
    return attrs.evolve(unit, legs=(attrs.evolve(unit.legs[0], mark=price), *unit.legs[1:]))


@given(units(), st.booleans())
def test_a_range_reaching_a_liquidatable_mark_is_never_certified(
    unit: MarginUnit, downward: bool
) -> None:
    """LIQ-1: a range whose end is the first mark that makes the unit liquidatable fails.

    The end is found by bisection from the mark toward the edge of the price domain, so the
    certificate's bound is tested where it is tight.
    """
    leg = unit.legs[0]
    edge = 1 if downward else leg.market.max_price
    if is_liquidatable(unit) or not is_liquidatable(_moved(unit, edge)):
        return
    safe = last_true(lambda p: not is_liquidatable(_moved(unit, p)), leg.mark, edge)
    first = safe + (-1 if downward else 1)
    ranges = [(leg.market.symbol, min(leg.mark, first), max(leg.mark, first))]
    ranges += [(other.market.symbol, other.mark, other.mark) for other in unit.legs[1:]]
    assert not is_certified(unit, tuple(ranges))


@given(st.sampled_from(ContractKind).flatmap(lambda k: units(max_legs=1, contract=k)), st.data())
def test_a_proposed_range_is_the_widest_within_the_allowance(
    unit: MarginUnit, data: st.DataObject
) -> None:
    """The proposal holds the mark and every price whose value is within the allowance."""
    leg = unit.legs[0]
    market, size = leg.market, leg.position.size
    value = get_value(market, size, leg.mark)
    near = st.sampled_from([value - 2, value - 1, value, value + 1]).filter(lambda a: a >= 1)
    allowance = data.draw(
        near | st.integers(1, 100) | st.integers(1, 2 * value + 2), label="allowance"
    )

    def within(price: int) -> bool:
        return abs(get_value(market, size, price) - value) <= allowance

    _, low, high = get_proposed_range(leg, allowance)
    assert 1 <= low <= leg.mark <= high <= market.max_price
    assert within(low)
    assert within(high)
    assert low == 1 or not within(low - 1)
    assert high == market.max_price or not within(high + 1)
