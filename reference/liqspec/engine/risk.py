"""Dynamic risk adjustment: volatility, the margin multiplier, phase-in (spec/12-risk.md)."""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise

import attrs

from liqspec.base.conventions import Ratio, div_ceil, isqrt_ceil, ratio_text
from liqspec.engine.records import RiskAdjusted
from liqspec.engine.state import MarketState
from liqspec.model.market_rules import validate_market
from liqspec.model.markets import Market, RiskParams, VolatilitySource

__all__ = [
    "apply_parameters",
    "get_combined_target",
    "get_next_multiplier",
    "get_risk_volatility",
    "get_target_multiplier",
    "get_volatility",
    "process_risk",
]


def get_volatility(history: tuple[tuple[int, int], ...], window: int) -> int | None:
    """RISK-1: realized volatility of the last ``window`` mark returns, in ppm, rounded up.

    vol = ceil_sqrt(ceil(10^12 x sum(((p_i - p_{i-1}) / p_{i-1})^2) / window)); None while
    fewer than window + 1 marks are known.

    >>> get_volatility(((0, 100), (1, 101), (2, 100)), 2)  # returns +1%, -0.99%
    9951
    """
    marks = [price for _, price in history]
    if window < 1 or len(marks) < window + 1:
        return None
    recent = marks[-(window + 1) :]
    squares = sum(
        (Fraction(now - before, before) ** 2 for before, now in pairwise(recent)),
        Fraction(0),
    )
    scaled = squares * 10**12 / window
    return isqrt_ceil(div_ceil(scaled.numerator, scaled.denominator))


def get_risk_volatility(entry: MarketState, time: int) -> tuple[int | None, str]:
    """RISK-8: the volatility the market's ``source`` selects at ``time``, and its source word.

    ``realised`` is RISK-1's estimate; ``implied`` the last implied-volatility event, when it
    is at most ``implied_max_age`` old; ``max`` the larger of the two (ties: realised). When
    the source wants an implied value and none is fresh, the realised one stands in, named
    ``realised-fallback``; ``none`` when there is nothing at all.
    """
    params = entry.market.risk
    realised = get_volatility(entry.history, params.vol_window)
    fresh = entry.implied is not None and time - entry.implied[0] <= params.implied_max_age
    if params.source is VolatilitySource.REALISED or not fresh:
        word = "realised" if params.source is VolatilitySource.REALISED else "realised-fallback"
        return realised, ("none" if realised is None else word)
    assert entry.implied is not None  # noqa: S101 - fresh implies known
    implied = entry.implied[1]
    if params.source is VolatilitySource.IMPLIED or realised is None or implied > realised:
        return implied, "implied"
    return realised, "realised"


def get_target_multiplier(params: RiskParams, volatility: int) -> Fraction:
    """RISK-2: 1 + slope x max(0, vol - threshold), capped at max_multiplier; non-decreasing."""
    excess = max(0, volatility - params.vol_threshold)
    raw = 1 + Fraction(params.slope.num, params.slope.den) * excess
    return min(raw, Fraction(params.max_multiplier.num, params.max_multiplier.den))


def get_combined_target(
    params: RiskParams, volatility: int | None, preempt: Fraction, current: Fraction
) -> Fraction:
    """RISK-7: the larger of the volatility part and RISK-7's target, at most max_multiplier.

    The volatility part is RISK-2's target; without an estimate, 1 on a market with no
    volatility source (``vol_window`` 0, ``source`` realised), else ``current``: RISK-8's
    silent rule holds the multiplier and RISK-7 cannot pull it down.

    >>> params = RiskParams(slope=Ratio.of(1, 1000), max_multiplier=Ratio(2, 1))
    >>> [str(get_combined_target(params, v, Fraction(3, 2), Fraction(1))) for v in (None, 900)]
    ['3/2', '19/10']
    >>> held = RiskParams(vol_window=4, max_multiplier=Ratio(2, 1))  # no estimate yet: hold
    >>> str(get_combined_target(held, None, Fraction(1), Fraction(6, 5)))
    '6/5'
    """
    silent = params.vol_window == 0 and params.source is VolatilitySource.REALISED
    if volatility is not None:
        by_volatility = get_target_multiplier(params, volatility)
    else:
        by_volatility = Fraction(1) if silent else current
    top = Fraction(params.max_multiplier.num, params.max_multiplier.den)
    return min(max(by_volatility, preempt), top)


def get_next_multiplier(params: RiskParams, current: Fraction, target: Fraction) -> Fraction:
    """RISK-3: move toward the target by at most max_step, and only past the hysteresis band."""
    gap = target - current
    if abs(gap) <= Fraction(params.hysteresis.num, params.hysteresis.den):
        return current
    step = Fraction(params.max_step.num, params.max_step.den)
    moved = current + max(-step, min(step, gap))
    top = Fraction(params.max_multiplier.num, params.max_multiplier.den)
    return max(Fraction(1), min(top, moved))


def apply_parameters(entry: MarketState, market: Market, time: int) -> MarketState:
    """RISK-5: install new parameters; the old ones stay for the phase-in window (RISK-6).

    A change during a running phase-in keeps the parameters from before the first change and
    the first change's start, and extends the window: grandfathering never shortens.
    """
    validate_market(market)
    market = attrs.evolve(market, open_interest=entry.market.open_interest)  # state (MARGIN-12)
    window = market.risk.phase_in
    if not window:
        return attrs.evolve(entry, market=market, previous=None)
    if entry.previous is not None and time < entry.phase_end:
        return attrs.evolve(entry, market=market, phase_end=time + window)
    return attrs.evolve(
        entry, market=market, previous=entry.market, phase_start=time, phase_end=time + window
    )


def process_risk(entry: MarketState, time: int) -> tuple[MarketState, tuple[RiskAdjusted, ...]]:
    """RISK-1..RISK-5: at most once per interval, re-estimate and adjust the multiplier.

    The target is RISK-2's, or RISK-7's last preemptive target when that is higher; with
    RISK-7 on, a market without a volatility estimate adjusts toward RISK-7's alone.
    """
    params = entry.market.risk
    if time < entry.last_adjust + params.interval:
        return entry, ()
    volatility, source = get_risk_volatility(entry, time)
    if volatility is None and not params.preempt_shock.num:
        return entry, ()
    entry = attrs.evolve(entry, last_adjust=time)
    old = entry.market.risk_multiplier
    current = Fraction(old.num, old.den)
    target = get_combined_target(params, volatility, entry.preempt_target, current)
    new = get_next_multiplier(params, current, target)
    if new == current:
        return entry, ()
    market = attrs.evolve(entry.market, risk_multiplier=Ratio.of(new.numerator, new.denominator))
    entry = (
        apply_parameters(entry, market, time)
        if new > current
        else attrs.evolve(entry, market=market)
    )
    record = RiskAdjusted(
        entry.market.symbol, volatility or 0, source, ratio_text(target), ratio_text(current),
        ratio_text(new),
        entry.phase_end if new > current else time,
    )  # fmt: skip
    return entry, (record,)
