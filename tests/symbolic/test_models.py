"""Where a proof uses a z3 model instead of the reference, model and reference must agree.

INV-CONSERVE-CLOSE is proved on a model of STATE-9 (linear values); INV-ADJUST on a model of
RISK-2 and RISK-3; INV-MARK-TOWARD on a model of MARK-4; INV-HALT-ONCE on a model of the
level rule of BRK-3; INV-LEAST-TARGET on a model of the target search (LIQ-4, CONV-14);
INV-CASCADE-MONOTONE on a model of MARK-2..4 between cascade rounds;
INV-DEFICIT-CONSERVE on a model of chapter 8.1 (its reference is checked after every event
by the conservation property of tests/properties/test_engine.py). Each test evaluates the
model's formulas and the reference's functions on the same random inputs and demands
equality (spec/invariants.md).
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
from liqspec.engine.breakers import process_breakers
from liqspec.engine.execution import _smallest
from liqspec.engine.markprice import derive_mark, round_toward
from liqspec.engine.preemption import get_preempt_target
from liqspec.engine.risk import get_combined_target, get_next_multiplier, get_target_multiplier
from liqspec.engine.state import Book, Level, MarketState, close_part
from liqspec.model.market_files import load_market
from liqspec.model.markets import BreakerParams, MarkParams, MarkSource, RiskParams
from tests.data import MARKETS
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


@given(RISK, st.integers(0, 10**6), st.integers(0, 10**6), st.integers(100, 300), st.data())
def test_preempt_model_matches_the_reference(
    params: RiskParams, predicted: int, threshold: int, target: int, data: st.DataObject
) -> None:
    """INV-PREEMPT: the model's target (preempt_target above the threshold, else 1) and its
    combination with RISK-2's by the maximum are the reference's (RISK-7)."""
    top = Fraction(params.max_multiplier.num, params.max_multiplier.den)
    goal = min(Fraction(target, 100), top)
    params = attrs.evolve(
        params,
        preempt_shock=Ratio.of(1, 10),
        preempt_threshold=Ratio(threshold, 1),
        preempt_target=Ratio.of(goal.numerator, goal.denominator),
    )
    model = goal if predicted > threshold else Fraction(1)
    assert get_preempt_target(params, predicted, Ratio(1, 1)) == model
    volatility = data.draw(st.none() | st.integers(0, 10**6))
    current = data.draw(st.fractions(1, top))
    silent = data.draw(st.booleans())  # no volatility source at all, or one without estimate
    params = attrs.evolve(params, vol_window=0 if silent else params.vol_window)
    held = Fraction(1) if silent else current
    by_volatility = held if volatility is None else get_target_multiplier(params, volatility)
    combined = min(max(by_volatility, model), top)
    assert get_combined_target(params, volatility, model, current) == combined


@given(st.integers(-(10**9), 10**9), st.integers(1, 10**4), st.integers(1, 10**6))
def test_mark_model_matches_the_reference(num: int, den: int, index: int) -> None:
    """INV-MARK-TOWARD: the model's rounding is round_toward's (MARK-4)."""
    value = Fraction(num, den)
    model = num // den if num >= index * den else -((-num) // den)
    assert round_toward(value, index) == model


@given(st.lists(st.fractions(0, Fraction(3, 10)), min_size=1, max_size=8), st.data())
def test_halt_model_matches_the_reference(moves: list[Fraction], data: st.DataObject) -> None:
    """INV-HALT-ONCE: the model's rule (trip r iff r >= tripped, then tripped = r + 1) is the
    reference's, on a market with levels 5%, 10%, 20%."""
    levels = (Ratio.of(1, 20), Ratio.of(1, 10), Ratio.of(1, 5))
    market = attrs.evolve(
        load_market(MARKETS / "hyperliquid-btc-2024.toml"),
        breakers=BreakerParams(halt_levels=levels, halt_durations=(5, 10, 0)),
    )
    reference = 10_000
    entry = MarketState(market, reference, reference=reference)
    tripped = 0
    for time, move in enumerate(moves):
        sign = data.draw(st.sampled_from((1, -1)))
        mark = max(1, reference + sign * int(move * reference))
        entry, records = process_breakers(attrs.evolve(entry, mark=mark), time)
        exact = Fraction(abs(mark - reference), reference)
        reached = max((i for i, lv in enumerate(levels) if exact >= Fraction(lv.num, lv.den)),
                      default=-1)  # fmt: skip
        trips = reached >= tripped
        tripped = reached + 1 if trips else tripped
        assert [r.breaker for r in records] == ([f"halt-level-{reached + 1}"] if trips else [])
        assert entry.tripped == tripped


@given(st.integers(1, 300), st.integers(-5, 400))
def test_target_search_model_matches_the_reference(size: int, threshold: int) -> None:
    """INV-LEAST-TARGET: _smallest on a threshold condition is the model's least d."""
    found = _smallest(lambda lots: lots >= threshold, size)
    model = max(threshold, 1) if threshold <= size else size
    assert found == model


@given(
    st.integers(1_000, 10**6), st.integers(0, 500), st.integers(1, 500), st.integers(-900, 900),
    st.lists(st.integers(-2_000, 2_000), max_size=5), st.integers(1, 20),
    st.sampled_from([MarkSource.CLAMPED, MarkSource.MEDIAN]),
)  # fmt: skip
def test_cascade_model_matches_the_derived_mark(
    index: int, below: int, above: int, move: int, samples: list[int], band: int,
    source: MarkSource,
) -> None:  # fmt: skip
    """INV-CASCADE-MONOTONE: the model's marks (MARK-2, MARK-3, then MARK-4) are derive_mark's,
    with basis 0, a bid and an ask around the index and the last trade anywhere near it."""
    market = attrs.evolve(
        load_market(MARKETS / "binance-btcusdt-2024-10-24.toml"),
        mark=MarkParams(source=source, fair_band=Ratio.of(band, 100)),
    )
    bid, ask, trade = index - below - 1, index + above, max(1, index + move)
    book = Book((Level(bid, 1),), (Level(ask, 1),))
    basis_samples = tuple(Fraction(s) for s in samples)
    entry = MarketState(market, index, book=book, index=index, last_trade=trade,
                        basis_samples=basis_samples)  # fmt: skip
    if source is MarkSource.CLAMPED:
        width = index * Fraction(band, 100)
        value = min(max(Fraction(min(max(trade, bid), ask)), index - width), index + width)
    else:
        mean = sum(basis_samples, Fraction(0)) / len(samples) if samples else Fraction(0)
        smoothed = index + mean
        low, high = min(Fraction(index), smoothed), max(Fraction(index), smoothed)
        value = min(max(Fraction(trade), low), high)
    floor, ceiling = value.numerator // value.denominator, -(-value.numerator // value.denominator)
    model = floor if floor >= index else ceiling  # the proof's rounding: value >= I iff floor >= I
    assert derive_mark(entry) == min(max(model, 1), market.max_price)
