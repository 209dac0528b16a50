"""Properties of the cascade (spec/15-stress.md) on random small stress runs.

Invariants exercised (spec/invariants.md): INV-CASCADE-MONOTONE (a selling cascade's marks
never rise from round to round), INV-CASCADE-BOUND (a one-sided cascade stops within as many
rounds as the ladder has levels), INV-FUND (never negative, after every event of a run) and
the conservation of value per asset across every event (spec/08-insurance.md), which covers
every cascade round.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import accumulate, pairwise
from math import isqrt

import attrs
import hypothesis
from hypothesis import given, settings
from hypothesis import strategies as st

from liqspec.backtest.generators import PathModel, PathSpec, PopulationSpec
from liqspec.base.conventions import Ratio, div_ceil
from liqspec.engine.records import Deleveraged, Record
from liqspec.engine.state import Event, State, TradeUpdate
from liqspec.model.market_files import load_market
from liqspec.model.markets import MarkParams, MarkSource
from liqspec.stress.cascade import get_full_depth, get_population, process_run
from liqspec.stress.levels import get_liquidation_levels
from liqspec.stress.plan import Ladder, LadderShape, StressPlan
from tests.data import MARKETS

from .conservation import check_conservation

BTCUSDT = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")


@st.composite
def plans(draw: st.DrawFn, *, long_share: float) -> StressPlan:
    """A small stress plan: a crash path, a leveraged population, a thin refilling ladder."""
    source = draw(st.sampled_from([MarkSource.CLAMPED, MarkSource.MEDIAN]))
    band = Ratio.of(draw(st.integers(1, 10)), 100)
    market = attrs.evolve(BTCUSDT, mark=MarkParams(source=source, fair_band=band))
    path = PathSpec(
        model=PathModel.CRASH, points=draw(st.integers(6, 16)), crash_at=0.2,
        depth=draw(st.sampled_from([0.03, 0.08, 0.15])), fall=draw(st.integers(1, 4)),
    )  # fmt: skip
    population = PopulationSpec(
        positions=draw(st.integers(10, 60)), leverage=float(draw(st.integers(10, 80))),
        long_share=long_share, isolated_share=draw(st.sampled_from([0.0, 0.5, 1.0])),
    )  # fmt: skip
    ladder = Ladder(
        levels=draw(st.integers(1, 8)),
        gap=draw(st.integers(1, 100)),
        depth=draw(st.integers(1, 1_000)),
        resilience=Fraction(draw(st.integers(1, 4)), 4),
        shape=draw(st.sampled_from(LadderShape)),
    )
    fund = draw(st.sampled_from([0, 10**11, 10**13]))
    return StressPlan("prop", market, fund, 1, draw(st.integers(0, 2**32)), path, population,
                      ladder)  # fmt: skip


def _run(plan: StressPlan) -> list[tuple[int, Event, State, State, tuple[Record, ...]]]:
    """Return every event of run 0 with the state before and after it."""
    seen: list[tuple[int, Event, State, State, tuple[Record, ...]]] = []
    previous: list[State] = []

    def trace(step: int, event: Event, after: State, records: tuple[Record, ...]) -> None:
        before = previous[-1] if previous else after
        seen.append((step, event, before, after, records))
        previous.append(after)

    process_run(plan, get_population(plan), 0, trace=trace)
    return seen


@settings(max_examples=max(5, settings().max_examples // 4))
@given(plans(long_share=1.0))
def test_a_selling_cascade_never_raises_the_mark_and_stops_within_the_levels(
    plan: StressPlan,
) -> None:
    """INV-CASCADE-MONOTONE and INV-CASCADE-BOUND on a population of longs only."""
    rounds: dict[int, list[int]] = {}
    for step, event, _, after, _ in _run(plan):
        if isinstance(event, TradeUpdate):
            rounds.setdefault(step, []).append(after.markets["BTCUSDT"].mark)
    hypothesis.event(f"most rounds in a step: {max(len(m) - 1 for m in rounds.values())}")
    for marks in rounds.values():  # the opening trade at the index, then one per round
        assert all(later <= earlier for earlier, later in pairwise(marks))
        assert len(marks) - 1 <= plan.ladder.levels


@settings(max_examples=max(5, settings().max_examples // 4))
@given(st.floats(0.0, 1.0).flatmap(lambda share: plans(long_share=share)))
def test_every_round_conserves_value_and_keeps_the_fund_non_negative(plan: StressPlan) -> None:
    """Value per asset moves only by fills with the book; INV-FUND after every event."""
    seen = _run(plan)
    for _, event, before, after, records in seen[1:]:
        check_conservation(before, after, event, records)
        assert all(balance >= 0 for balance in after.funds.values())


@settings(max_examples=max(5, settings().max_examples // 4))
@given(st.floats(0.0, 1.0).flatmap(lambda share: plans(long_share=share)))
def test_the_fund_and_the_waterfall_add_up(plan: StressPlan) -> None:
    """STRESS-5: the fund moves only by its income and its payments; every deficit the fund
    left is covered by ADL or socialization or stays unallocated; the sampled liquidation maps
    are those of the state at their step's end."""
    last: dict[int, State] = {}  # by step
    left = 0

    def trace(step: int, event: Event, after: State, records: tuple[Record, ...]) -> None:
        nonlocal left
        last[step] = after
        for record in records:
            if isinstance(record, Deleveraged):
                covered = sum(share.share for share in record.allocations)
                assert covered + record.unallocated == record.deficit
                left += record.deficit

    result = process_run(plan, get_population(plan), 0, keep_levels=True, trace=trace)
    assert result.fund_start + result.fund_income - result.fund_paid == result.fund_end
    assert result.adl_covered + result.socialized <= left
    if result.adl_covered + result.socialized:
        hypothesis.event("a deficit went past the fund")
    assert result.level_maps
    at_end = {state.time: state for state in last.values()}  # a step's clock sets its time
    for time, levels in result.level_maps:
        assert levels == get_liquidation_levels(at_end[time], "BTCUSDT")


@given(st.integers(1, 10**4), st.integers(1, 200), st.data())
def test_a_square_root_ladder_has_square_root_impact(
    depth: int, levels: int, data: st.DataObject
) -> None:
    """STRESS-2: a sale of q lots into a full `sqrt` ladder reaches level ceil(sqrt(q / depth))."""
    ladder = Ladder(levels=levels, gap=10, depth=depth, shape=LadderShape.SQRT)
    held = list(accumulate(get_full_depth(ladder, k) for k in range(1, levels + 1)))
    assert held[-1] == depth * levels**2
    lots = data.draw(st.integers(1, held[-1]))
    reached = next(k for k, total in enumerate(held, 1) if total >= lots)
    assert reached == isqrt(div_ceil(lots, depth) - 1) + 1
