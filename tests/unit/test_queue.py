"""The queue index finds LIQ-3's queue where its shortcuts would be tempting and wrong.

Each test replays events twice: through the engine as it runs (the index carried from event to
event) and from a state stripped of its index before every event (rebuilt from every account,
the scan). Records and states must be the same.
"""

from __future__ import annotations

import attrs

from liqspec import Ratio, Side
from liqspec.engine.queue import IndexRef
from liqspec.engine.records import LiquidationStarted, Record
from liqspec.engine.state import (
    Clock,
    Deposit,
    Event,
    MarketState,
    MarkUpdate,
    ParameterChange,
    State,
    apply_fill,
)
from liqspec.engine.transition import process_event
from liqspec.model.markets import TierMode
from tests.unit.test_breakers_and_risk import RISK, one_long
from tests.unit.test_liquidation import BINANCE, DEEP_BIDS, LONG_1_BTC, USDT, px, state_with


def replay(state: State, events: list[Event]) -> list[tuple[Record, ...]]:
    """Return each event's records, after checking the index's route against the rebuilt one."""
    fresh, out = state, []
    for event in events:
        state, records = process_event(state, event)
        fresh, again = process_event(attrs.evolve(fresh, queue_index=None), event)
        assert (state, records) == (fresh, again)
        out.append(records)
    return out


def started(records: tuple[Record, ...]) -> list[str]:
    return [r.account for r in records if isinstance(r, LiquidationStarted)]


def test_a_state_left_behind_does_not_reuse_the_index_a_later_one_moved_on() -> None:
    """After a branch took the index forward, the earlier state's index is rebuilt."""
    start, _ = process_event(state_with(BINANCE, "60000", LONG_1_BTC, DEEP_BIDS), Clock(1))
    richer, _ = process_event(start, Deposit("alice", "USDT", 100_000 * USDT))
    assert started(process_event(richer, MarkUpdate("BTCUSDT", px("59230")))[1]) == []
    assert started(replay(start, [MarkUpdate("BTCUSDT", px("59230"))])[0]) == ["alice"]


def test_a_step_tier_cap_inside_a_proposed_range_shrinks_it() -> None:
    """Step tiers: MM jumps by 50 USDT at the 50,000 cap, more than alice's room above MM.

    0.8 BTC at 62490 is worth 49,992 USDT; with 239.968 USDT her equity is 40 above MM. The
    first proposed range reaches past the cap, where she is liquidatable (at 62500 her
    notional is 50,000 and MM 250 > equity 247.968): it must not be her certificate.
    """
    step_tiers = tuple(
        attrs.evolve(tier, maintenance_amount=0, cap=tier.cap if i else 50_000 * USDT)
        for i, tier in enumerate(BINANCE.tiers[:2])
    )
    market = attrs.evolve(BINANCE, tier_mode=TierMode.STEP, tiers=step_tiers)
    alice = {"alice": ("239.968", [(Side.LONG, "0.8", "62490")])}
    state = state_with(market, "62490", alice, [("62400", "5")])
    records = replay(state, [Clock(1), MarkUpdate("BTCUSDT", px("62500"))])
    assert [started(r) for r in records] == [[], ["alice"]]


def test_marks_moving_to_and_fro_inside_a_range_change_nothing() -> None:
    """Small moves either way stay inside alice's certificate; the fall to 59230 does not."""
    state = state_with(BINANCE, "60000", LONG_1_BTC, DEEP_BIDS)
    marks = ["59990", "60010", "59990", "59230"]
    records = replay(state, [MarkUpdate("BTCUSDT", px(m)) for m in marks])
    assert [started(r) for r in records] == [[], [], [], ["alice"]]


def test_an_account_with_one_of_its_markets_in_phase_in_is_watched() -> None:
    """RISK-6 makes MM depend on the time: the phase-in's end alone starts ann's liquidation.

    Ann (1 BTC long, equity 260 over MM 250) also holds one lot of ETHUSDT, which has no
    phase-in; her BTCUSDT leg keeps the old parameters until 60, then MM x 1.5 applies.
    """
    market = attrs.evolve(BINANCE, risk=RISK)
    eth = attrs.evolve(BINANCE, symbol="ETHUSDT")
    state = one_long(market, "260")
    ann = apply_fill(state.accounts["ann"], eth, 1, px("60000"))
    ann = attrs.evolve(ann, balance=state.accounts["ann"].balance)
    eth_entry = MarketState(eth, px("60000"), state.markets["BTCUSDT"].book)
    state = attrs.evolve(
        state,
        markets={**state.markets, "ETHUSDT": eth_entry},
        accounts={**state.accounts, "ann": ann},
    )
    raised = attrs.evolve(market, risk_multiplier=Ratio.of(3, 2))
    records = replay(state, [Clock(0), ParameterChange(raised), Clock(59), Clock(60)])
    assert [started(r) for r in records] == [[], [], [], ["ann"]]


def test_the_heaps_stay_bounded_over_many_recertifications() -> None:
    """Marks swinging 600 USDT break alice's certificate each time; stale entries are dropped."""
    state = state_with(BINANCE, "60000", LONG_1_BTC, DEEP_BIDS)
    events: list[Event] = [MarkUpdate("BTCUSDT", px(m)) for m in ["59700", "60300"] * 100]
    assert not any(started(r) for r in replay(state, events))
    for event in events:
        state, _ = process_event(state, event)
    ref = state.queue_index
    assert isinstance(ref, IndexRef)
    assert ref.index.examined == 1  # every swing looked at alice again
    assert len(ref.index.lows["BTCUSDT"]) + len(ref.index.highs["BTCUSDT"]) <= 2 * (1 + 64) + 2
