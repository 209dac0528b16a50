"""Mark derivation, circuit breakers and risk adjustment (spec/10, 11, 12)."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from math import isqrt
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqspec import Ratio, Side, load_market
from liqspec.base.errors import EventRejectedError, Reason
from liqspec.engine.records import (
    BreakerTripped,
    LiquidationStep,
    LiquidationWaiting,
    MarkDerived,
    Record,
    RiskAdjusted,
    Takeover,
)
from liqspec.engine.risk import (
    get_combined_target,
    get_next_multiplier,
    get_risk_volatility,
    get_target_multiplier,
    get_volatility,
)
from liqspec.engine.state import (
    AccountState,
    Book,
    BookUpdate,
    Clock,
    Fill,
    IndexUpdate,
    Level,
    MarketState,
    MarkUpdate,
    ParameterChange,
    ReferenceUpdate,
    State,
    TradeUpdate,
    apply_fill,
    get_unit,
)
from liqspec.engine.transition import process_event
from liqspec.model.market_rules import validate_market
from liqspec.model.markets import HaltAction, MarkSource, RiskParams, VolatilitySource
from tests.data import MARKETS

BINANCE = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")
USDT = 10**8


def px(price: str) -> int:
    return int(Fraction(price) * 10)


def with_params(**tables: Any) -> Any:
    market = BINANCE
    for name, changes in tables.items():
        market = attrs.evolve(market, **{name: attrs.evolve(getattr(market, name), **changes)})
    validate_market(market)
    return market


def one_long(market: Any, balance: str, mark: str = "60000", **entry: Any) -> State:
    account = apply_fill(AccountState("ann", "USDT", 0), market, 1000, px("60000"))
    account = attrs.evolve(account, balance=int(Fraction(balance) * USDT))
    book = Book((Level(px("59990"), 5000),), (Level(px("60010"), 5000),))
    state_entry = MarketState(market, px(mark), book, reference=px(mark), **entry)
    other = AccountState("bob", "USDT", 50_000 * USDT)
    return State(0, {"BTCUSDT": state_entry}, {"ann": account, "bob": other}, {"USDT": 10**12})


def kinds(records: tuple[Record, ...], kind: type) -> list[Any]:
    return [r for r in records if isinstance(r, kind)]


# --- mark price --------------------------------------------------------------------------------


def test_median_mark_ignores_a_wick_and_rounds_toward_the_index() -> None:
    market = with_params(mark={"source": MarkSource.MEDIAN})
    state = one_long(market, "5000")
    state, records = process_event(state, IndexUpdate("BTCUSDT", px("60000"), Fraction(1, 3000)))
    # I x (1 + b) = 600,000 x 3001/3000 = 600,200 ticks exactly; no samples, no trade: all three
    (derived,) = kinds(records, MarkDerived)
    assert derived.mark == 600_200
    state, _ = process_event(
        state, BookUpdate("BTCUSDT", Book((Level(599_990, 1),), (Level(600_020, 1),)))
    )
    state, records = process_event(state, TradeUpdate("BTCUSDT", 552_000))
    # candidates 600,200; 600,000 + (600,005 - 600,000) = 600,005; 552,000 -> median 600,005
    assert state.markets["BTCUSDT"].mark == 600_005


def test_clamped_mark_stays_in_the_book_and_near_fair() -> None:
    market = with_params(mark={"source": MarkSource.CLAMPED, "fair_band": Ratio.of(1, 100)})
    state = one_long(market, "5000")
    state, _ = process_event(state, IndexUpdate("BTCUSDT", px("60000"), Fraction(0)))
    state, _ = process_event(state, TradeUpdate("BTCUSDT", px("50000")))
    # last 50,000 -> into [59,990, 60,010] -> 59,990 (within 1% of fair 60,000)
    assert state.markets["BTCUSDT"].mark == px("59990")


def test_mark_events_are_refused_when_the_mark_is_derived() -> None:
    state = one_long(with_params(mark={"source": MarkSource.MEDIAN}), "5000")
    with pytest.raises(EventRejectedError) as caught:
        process_event(state, MarkUpdate("BTCUSDT", px("59000")))
    assert caught.value.reason is Reason.MARK_DERIVED


# --- breakers ----------------------------------------------------------------------------------

HALTS = {"halt_levels": (Ratio.of(7, 100), Ratio.of(13, 100)), "halt_durations": (900, 0)}


def test_halt_levels_trip_once_each_and_the_highest_reached() -> None:
    state = one_long(with_params(breakers=HALTS), "50000")
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("55700")))  # -7.17%
    assert [r.breaker for r in kinds(records, BreakerTripped)] == ["halt-level-1"]
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("55600")))
    assert kinds(records, BreakerTripped) == []  # level 1 does not trip twice
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("52000")))  # -13.3%
    (tripped,) = kinds(records, BreakerTripped)
    assert tripped.breaker == "halt-level-2"
    state, _ = process_event(state, Clock(10_000))
    with pytest.raises(EventRejectedError) as caught:  # duration 0: until a new reference
        process_event(state, Fill("bob", "BTCUSDT", Side.LONG, 1, px("52000")))
    assert caught.value.reason is Reason.HALTED
    state, _ = process_event(state, ReferenceUpdate("BTCUSDT", px("52000")))
    process_event(state, Fill("bob", "BTCUSDT", Side.LONG, 1, px("52000")))


def test_dynamic_breaker_pauses_after_a_fast_move() -> None:
    params = {"dynamic_move": Ratio.of(3, 100), "dynamic_window": 60, "dynamic_pause": 120}
    state = one_long(with_params(breakers=params), "50000", history=((0, px("60000")),))
    state, _ = process_event(state, Clock(30))
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58100")))  # -3.17% in 30 s
    (tripped,) = kinds(records, BreakerTripped)
    assert (tripped.breaker, tripped.until) == ("dynamic", 150)


@pytest.mark.parametrize(
    ("action", "expected"),
    [(HaltAction.PAUSE, LiquidationWaiting), (HaltAction.TAKEOVER_ONLY, Takeover),
     (HaltAction.CONTINUE, LiquidationStep)],
)  # fmt: skip
def test_what_liquidation_does_while_halted(action: HaltAction, expected: type) -> None:
    state = one_long(with_params(breakers={**HALTS, "while_halted": action}), "4300")
    book = Book((Level(px("55700"), 5000),), (Level(px("55900"), 5000),))
    state, _ = process_event(state, BookUpdate("BTCUSDT", book))
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("55750")))
    assert kinds(records, BreakerTripped)
    assert kinds(records, expected)


def test_divergence_gates_liquidation() -> None:
    market = with_params(breakers={"divergence": Ratio.of(2, 100)})
    state = one_long(market, "600", index=px("60000"))
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58000")))  # 3.3% off index
    assert [r.reason for r in kinds(records, LiquidationWaiting)] == ["divergence"]
    state, records = process_event(state, IndexUpdate("BTCUSDT", px("58000"), Fraction(0)))
    assert kinds(records, LiquidationStep) or kinds(records, Takeover)  # the gate lifted


def test_a_stale_mark_gates_liquidation() -> None:
    market = with_params(breakers={"stale_after": 100})
    state = one_long(market, "200")  # equity 200 < MM 250: liquidatable at the first event
    state, records = process_event(state, Clock(500))  # the mark last changed at time 0
    assert [r.reason for r in kinds(records, LiquidationWaiting)] == ["stale"]


def test_band_rejects_fills_and_bounds_liquidation() -> None:
    state = one_long(with_params(breakers={"band": Ratio.of(1, 100)}), "600")
    with pytest.raises(EventRejectedError) as caught:
        process_event(state, Fill("bob", "BTCUSDT", Side.LONG, 1, px("59300")))
    assert caught.value.reason is Reason.OUTSIDE_BAND
    book = Book((Level(px("59200"), 300), Level(px("58000"), 5000)), (Level(px("59300"), 1),))
    state, _ = process_event(state, BookUpdate("BTCUSDT", book))
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("59250")))
    for step in kinds(records, LiquidationStep):
        assert all(price >= -(-px("59250") * 99 // 100) for price, _ in step.levels)


# --- risk --------------------------------------------------------------------------------------


def test_volatility_is_the_root_mean_square_return_rounded_up() -> None:
    marks = [100, 103, 99, 104]
    history = tuple(enumerate(marks))
    squares = sum((Fraction(b - a, a) ** 2 for a, b in pairwise(marks)), Fraction(0))
    scaled = squares * 10**12 / 3
    mean_square = -(-scaled.numerator // scaled.denominator)
    root = isqrt(mean_square)
    expected = root if root * root == mean_square else root + 1
    assert get_volatility(history, 3) == expected
    assert get_volatility(history, 4) is None


RISK = RiskParams(
    vol_window=4, vol_threshold=1_000, slope=Ratio.of(1, 10_000), max_multiplier=Ratio.of(3, 2),
    max_step=Ratio.of(1, 10), hysteresis=Ratio.of(1, 100), interval=10, phase_in=60,
)  # fmt: skip


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_target_multiplier_is_monotone_and_bounded(low: int, high: int) -> None:
    """INV-ADJUST: monotone in volatility, between 1 and max_multiplier."""
    low, high = sorted((low, high))
    a, b = get_target_multiplier(RISK, low), get_target_multiplier(RISK, high)
    assert 1 <= a <= b <= Fraction(3, 2)


@given(st.fractions(1, Fraction(3, 2)), st.fractions(1, Fraction(3, 2)))
def test_multiplier_steps_are_rate_limited_with_hysteresis(
    current: Fraction, target: Fraction
) -> None:
    new = get_next_multiplier(RISK, current, target)
    assert abs(new - current) <= Fraction(1, 10)
    assert 1 <= new <= Fraction(3, 2)
    if abs(target - current) <= Fraction(1, 100):
        assert new == current
    else:
        assert abs(target - new) < abs(target - current)  # it moves toward the target


@given(
    st.none() | st.integers(0, 10**6),
    st.fractions(1, Fraction(3, 2)),
    st.fractions(1, Fraction(3, 2)),
    st.fractions(1, Fraction(3, 2)),
)
def test_a_preemptive_target_never_lowers_the_next_multiplier(
    volatility: int | None, preempt_low: Fraction, preempt_high: Fraction, current: Fraction
) -> None:
    """INV-PREEMPT (RISK-7): the combined target is within [1, max] and at least volatility's;
    a higher preemptive target never gives a lower next multiplier than a lower one, nor
    than volatility alone (which holds the multiplier while it has no estimate)."""
    low, high = sorted((preempt_low, preempt_high))
    alone = current if volatility is None else get_target_multiplier(RISK, volatility)
    combined = [get_combined_target(RISK, volatility, p, current) for p in (low, high)]
    assert alone <= combined[0] <= combined[1] <= Fraction(3, 2)
    steps = [get_next_multiplier(RISK, current, goal) for goal in (alone, *combined)]
    assert steps == sorted(steps)


@given(st.lists(st.integers(-300, 300), min_size=5, max_size=30))
def test_adjusted_parameters_always_pass_validation(moves: list[int]) -> None:
    """INV-ADJUST-BOUNDED: every automatic adjustment yields a valid parameter set."""
    market = attrs.evolve(BINANCE, risk=RISK)
    state = one_long(market, "50000", history=((0, px("60000")),))
    mark, time = px("60000"), 0
    for move in moves:
        mark += mark * move // 10_000
        time += 5
        state, _ = process_event(state, Clock(time))
        state, records = process_event(state, MarkUpdate("BTCUSDT", mark))
        for record in kinds(records, RiskAdjusted):
            validate_market(state.markets["BTCUSDT"].market)
            assert Fraction(record.new) <= Fraction(3, 2)


def test_multiplier_scales_maintenance_margin() -> None:
    base = one_long(BINANCE, "1000")
    scaled = one_long(attrs.evolve(BINANCE, risk=RISK, risk_multiplier=Ratio.of(5, 4)), "1000")
    from liqspec import get_maintenance_requirement  # noqa: PLC0415

    mm = get_maintenance_requirement(get_unit(base, base.accounts["ann"]))
    assert get_maintenance_requirement(get_unit(scaled, scaled.accounts["ann"])) == -(-mm * 5 // 4)


@given(st.integers(0, 59), st.fractions(Fraction(11, 10), Fraction(3, 2)))
def test_phase_in_guarantee(elapsed: int, multiplier: Fraction) -> None:
    """RISK-6, INV-PHASE-IN: a healthy account that does nothing survives the change alone."""
    market = attrs.evolve(BINANCE, risk=RISK)
    # equity 260 > MM 250 now, but <= MM x 1.1 = 275 ... 375 under the new parameters
    state = one_long(market, "260")
    assert not kinds(process_event(state, Clock(0))[1], LiquidationStep)
    raised = attrs.evolve(
        market, risk_multiplier=Ratio.of(multiplier.numerator, multiplier.denominator)
    )
    state, _ = process_event(state, ParameterChange(raised))
    state, records = process_event(state, Clock(elapsed))
    assert not kinds(records, LiquidationStep)
    assert not kinds(records, Takeover)
    state, records = process_event(state, Clock(60))  # the phase-in is over
    assert kinds(records, LiquidationStep) or kinds(records, Takeover)


def test_an_account_that_acts_takes_the_new_parameters_at_once() -> None:
    market = attrs.evolve(BINANCE, risk=RISK)
    state = one_long(market, "300")
    raised = attrs.evolve(market, risk_multiplier=Ratio.of(3, 2))
    state, _ = process_event(state, ParameterChange(raised))
    with pytest.raises(EventRejectedError):  # adding exposure needs the new, higher IM
        process_event(state, Fill("ann", "BTCUSDT", Side.LONG, 1, px("60000")))


def test_invalid_parameter_change_is_rejected() -> None:
    state = one_long(BINANCE, "300")
    broken = attrs.evolve(BINANCE, risk_multiplier=Ratio.of(3, 2))  # above max_multiplier 1
    with pytest.raises(EventRejectedError) as caught:
        process_event(state, ParameterChange(broken))
    assert caught.value.reason is Reason.INVALID_PARAMETERS


def test_stale_bids_above_the_band_are_passed_over() -> None:
    """BRK-2 regression (found by the long profile): a stale bid above the band's top."""
    state = one_long(with_params(breakers={"band": Ratio.of(1, 100)}), "1900")  # equity 200
    stale = Book((Level(px("59970"), 200), Level(px("58200"), 5000)), (Level(px("60010"), 1),))
    state, _ = process_event(state, BookUpdate("BTCUSDT", stale))
    state, records = process_event(state, MarkUpdate("BTCUSDT", px("58300")))  # band top 58,883
    steps = kinds(records, LiquidationStep)
    assert steps
    for step in steps:
        assert [price for price, _ in step.levels] == [px("58200")]


def test_a_second_change_during_phase_in_keeps_the_original_parameters() -> None:
    """RISK-6, INV-PHASE-IN regression (found by the state machine): chained increases."""
    market = attrs.evolve(BINANCE, risk=RISK)
    state = one_long(market, "260")  # healthy at x1 (MM 250), not at x1.1 (275)
    first = attrs.evolve(market, risk_multiplier=Ratio.of(11, 10))
    second = attrs.evolve(market, risk_multiplier=Ratio.of(6, 5))
    seen: list[Record] = []
    for event in (ParameterChange(first), Clock(30), ParameterChange(second), Clock(89)):
        state, records = process_event(state, event)
        seen.extend(records)
    assert not kinds(tuple(seen), LiquidationStep)  # 89 < 30 + 60: still phasing in
    assert not kinds(tuple(seen), Takeover)
    state, records = process_event(state, Clock(90))
    assert kinds(records, LiquidationStep) or kinds(records, Takeover)


# --- RISK-8: the volatility source ---------------------------------------------------------------

_CALM_HISTORY = ((0, 600_000), (1, 600_100), (2, 600_000))  # two returns of about 1/6000
_CALM_PPM = 167  # ceil(sqrt(10^12 x ((100/600000)^2 + (100/600100)^2) / 2)) = 166.64.. -> 167


def _sourced(
    source: str, implied: tuple[int, int] | None, window: int = 2
) -> tuple[int | None, str]:
    """The volatility at time 50 under ``source``, with the implied value (time, ppm)."""
    risk = attrs.evolve(
        BINANCE.risk, vol_window=window, source=VolatilitySource(source), implied_max_age=30
    )
    entry = MarketState(attrs.evolve(BINANCE, risk=risk), 600_000, history=_CALM_HISTORY)
    return get_risk_volatility(attrs.evolve(entry, implied=implied), 50)


def test_the_calm_history_has_its_hand_worked_estimate() -> None:
    assert get_volatility(_CALM_HISTORY, 2) == _CALM_PPM


@pytest.mark.parametrize(
    ("source", "implied", "expected"),
    [
        ("realised", (40, 9000), (_CALM_PPM, "realised")),  # the feed is ignored
        ("implied", (40, 9000), (9000, "implied")),
        ("implied", (20, 9000), (9000, "implied")),  # 30 old: still fresh
        ("implied", (19, 9000), (_CALM_PPM, "realised-fallback")),  # 31 old: stale
        ("implied", None, (_CALM_PPM, "realised-fallback")),
        ("max", (40, 9000), (9000, "implied")),
        ("max", (40, 100), (_CALM_PPM, "realised")),
        ("max", (40, _CALM_PPM), (_CALM_PPM, "realised")),  # a tie is realised
        ("max", (10, 9000), (_CALM_PPM, "realised-fallback")),
    ],
)
def test_the_source_chooses_the_volatility(
    source: str, implied: tuple[int, int] | None, expected: tuple[int, str]
) -> None:
    assert _sourced(source, implied) == expected


@pytest.mark.parametrize(
    ("source", "implied", "expected"),
    [
        ("realised", (40, 9000), (None, "none")),  # no realised estimate, the feed ignored
        ("implied", (40, 9000), (9000, "implied")),  # the feed alone drives it
        ("implied", (10, 9000), (None, "none")),  # stale, and nothing to fall back on
        ("max", (40, 9000), (9000, "implied")),  # the implied value alone
        ("max", None, (None, "none")),
    ],
)
def test_without_a_volatility_window(
    source: str, implied: tuple[int, int] | None, expected: tuple[int | None, str]
) -> None:
    """RISK-8 with vol_window 0: RISK-1 gives nothing, so only a fresh implied value counts."""
    assert _sourced(source, implied, window=0) == expected
