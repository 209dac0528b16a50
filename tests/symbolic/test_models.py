"""Where a proof uses a z3 model instead of the reference, model and reference must agree.

INV-CONSERVE-CLOSE is proved on a model of STATE-9 (linear values); INV-ADJUST on a model of
RISK-2 and RISK-3. Each test evaluates the model's formulas and the reference's functions on
the same random inputs and demands equality (spec/invariants.md).
"""

from __future__ import annotations

from fractions import Fraction

import attrs
from hypothesis import given
from hypothesis import strategies as st

from liqspec import (
    ContractKind,
    Market,
    Ratio,
    Side,
    get_unrealized_pnl,
    get_value,
    open_position,
)
from liqspec.engine.risk import get_next_multiplier, get_target_multiplier
from liqspec.engine.state import close_part
from liqspec.model.markets import RiskParams
from tests.properties.strategies import market_and_size


@given(market_and_size(contract=ContractKind.LINEAR), st.data())
def test_close_model_matches_the_reference(pair: tuple[Market, int], data: st.DataObject) -> None:
    """INV-CONSERVE-CLOSE: the model's realized PnL and remainder equal close_part's."""
    market, size = pair
    side = data.draw(st.sampled_from(Side))
    entry = data.draw(st.integers(1, market.max_price))
    price = data.draw(st.integers(1, market.max_price))
    closed = data.draw(st.integers(1, size))
    position = open_position(market, side, size, entry)
    realized, left = close_part(market, position, closed, price)
    k, s, e = market.value_factor, int(side), position.entry_value
    split = e * closed // size  # the reference's split (STATE-9)
    model_realized = s * ((size * k * price - (size - closed) * k * price) - split)
    assert realized == model_realized
    remaining_pnl = get_unrealized_pnl(market, left, price) if left else 0
    assert realized + remaining_pnl == get_unrealized_pnl(market, position, price)
    assert get_value(market, size, price) == size * k * price


RISK = st.builds(
    RiskParams,
    vol_window=st.just(4),
    vol_threshold=st.integers(0, 5_000),
    slope=st.builds(Ratio.of, st.integers(0, 100), st.just(100_000)),
    max_multiplier=st.builds(Ratio.of, st.integers(100, 300), st.just(100)),
    max_step=st.builds(Ratio.of, st.integers(1, 50), st.just(100)),
    hysteresis=st.builds(Ratio.of, st.integers(0, 10), st.just(100)),
)


@given(RISK, st.integers(0, 10**6), st.fractions(1, 3))
def test_adjust_model_matches_the_reference(
    params: RiskParams, vol: int, current: Fraction
) -> None:
    """INV-ADJUST: the model's target and next step equal the reference's."""
    top = Fraction(params.max_multiplier.num, params.max_multiplier.den)
    current = min(current, top)
    slope = Fraction(params.slope.num, params.slope.den)
    raw = 1 + slope * max(0, vol - params.vol_threshold)
    model_target = raw if raw < top else top
    assert get_target_multiplier(params, vol) == model_target
    step = Fraction(params.max_step.num, params.max_step.den)
    band = Fraction(params.hysteresis.num, params.hysteresis.den)
    gap = model_target - current
    moved = current + (step if gap > step else -step if gap < -step else gap)
    model_new = current if abs(gap) <= band else max(Fraction(1), min(top, moved))
    assert get_next_multiplier(params, current, model_target) == model_new
    assert attrs.evolve(params) == params
