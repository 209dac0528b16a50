"""The invariant catalogue: theorems and per-market checks (spec/invariants.md).

Every proof evaluates the reference's own functions on z3 integer terms (through
:mod:`liqproofs.symbolic`); where a rule is written with Fractions in the reference, a small
z3 model of it is proved and a Hypothesis test (tests/symbolic/test_models.py) demands that
model and reference agree on random inputs. A counterexample to a per-market check is replayed
through the reference, concretely, before it is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import z3
from attrs import frozen

from liqproofs import soundness
from liqproofs.prove import Counterexample, Outcome, Proved, Unknown, prove
from liqproofs.symbolic import symbolic_backend
from liqspec.base.conventions import Ratio, decimal_text, div_ceil, div_floor
from liqspec.base.errors import InputError
from liqspec.engine.execution import bound_price, get_liquidation_fee
from liqspec.engine.insurance import get_fund_payment, get_share
from liqspec.model.margin import (
    get_initial_for_notional,
    get_maintenance_for_notional,
    get_size_rate,
    is_below_maintenance,
)
from liqspec.model.market_rules import validate_market
from liqspec.model.markets import (
    FeeLimit,
    FeeRule,
    Market,
    TierMode,
    format_price,
    format_size,
    get_value,
)

__all__ = ["CATALOGUE", "Check", "Invariant", "Result", "run_market", "run_theorems"]


@frozen
class Invariant:
    """One entry of spec/invariants.md."""

    id: str
    statement: str
    scope: str  # "theorem" (every valid parameter set) or "market" (one concrete market)


@frozen
class Result:
    """The outcome of one proof, with its timing and, for a counterexample, the replay."""

    invariant: Invariant
    subject: str
    outcome: Outcome
    seconds: float
    replay: str = ""

    @property
    def holds(self) -> bool:
        """Whether the invariant was proved."""
        return isinstance(self.outcome, Proved)


Check = Callable[[], tuple[Outcome, str]]
MarketCheck = Callable[[Market], tuple[Outcome, str]]


def _ints(*names: str) -> list[Any]:
    return [z3.Int(name) for name in names]


def _value(outcome: Outcome, name: str) -> int:
    assert isinstance(outcome, Counterexample)  # noqa: S101 - only called on counterexamples
    return int(dict(outcome.values)[name])


# --- theorems (any parameters) -----------------------------------------------------------------


def _trigger() -> tuple[Outcome, str]:
    """INV-TRIGGER: equity >= MM is never liquidatable (strict); equity > MM (inclusive)."""
    equity, maintenance = _ints("equity", "maintenance")
    with symbolic_backend():
        strict = is_below_maintenance(equity, maintenance, strict=True)
        inclusive = is_below_maintenance(equity, maintenance, strict=False)
    claim = z3.And(
        z3.Implies(equity >= maintenance, z3.Not(strict)),
        z3.Implies(equity > maintenance, z3.Not(inclusive)),
    )
    return prove([maintenance >= 0], claim), ""


def _rounding() -> tuple[Outcome, str]:
    """INV-ROUNDING: div_floor and div_ceil land in their rounding intervals (CONV-5, CONV-6)."""
    a, b = _ints("a", "b")
    with symbolic_backend():
        low, high = div_floor(a, b), div_ceil(a, b)
    claim = z3.And(low * b <= a, a < (low + 1) * b, (high - 1) * b < a, a <= high * b)
    return prove([b > 0], claim), ""


def _fee() -> tuple[Outcome, str]:
    """INV-FEE: 0 <= fee <= nominal, and fee <= surplus whenever the surplus is >= 0 (LIQ-8)."""
    nominal, surplus = _ints("nominal", "surplus")
    with symbolic_backend():
        fee = get_liquidation_fee(nominal, surplus)
    claim = z3.And(fee >= 0, fee <= nominal, z3.Implies(surplus >= 0, fee <= surplus))
    return prove([nominal >= 0], claim), ""


def _ratio() -> tuple[Outcome, str]:
    """INV-RATIO: a fill within the bankruptcy quote, after the fee, never lowers E/MM (LIQ-6)."""
    eb, mb, ea, ma, nominal = _ints(
        "equity_before", "mm_before", "equity_after", "mm_after", "nominal"
    )
    with symbolic_backend():
        surplus = ea - div_ceil(eb * ma, mb)
        fee = get_liquidation_fee(nominal, surplus)
    acceptable = ea * mb >= eb * ma
    hypotheses = [mb > 0, ma >= 0, ma <= mb, nominal >= 0, acceptable]
    return prove(hypotheses, (ea - fee) * mb >= eb * ma), ""


def _fund() -> tuple[Outcome, str]:
    """INV-FUND: the fund's payment never overdraws it, nor exceeds deficit or cap (INS-2)."""
    deficit, fund, cap = _ints("deficit", "fund", "cap")
    with symbolic_backend():
        paid = get_fund_payment(deficit, fund, cap)
    claim = z3.And(paid >= 0, fund - paid >= 0, paid <= deficit, z3.Implies(cap > 0, paid <= cap))
    return prove([deficit >= 0, fund >= 0, cap >= 0], claim), ""


def _shares() -> tuple[Outcome, str]:
    """INV-ADL-EXACT: shares of consecutive slices sum exactly to the deficit (INS-3)."""
    deficit, total, a, b = _ints("deficit", "total", "a", "b")
    with symbolic_backend():
        parts = [get_share(deficit, 0, a, total), get_share(deficit, a, b, total),
                 get_share(deficit, b, total, total)]  # fmt: skip
    hypotheses = [total > 0, deficit >= 0, a >= 0, a <= b, b <= total]
    claim = z3.And(sum(parts) == deficit, *(p >= 0 for p in parts))
    return prove(hypotheses, claim), ""


def _close() -> tuple[Outcome, str]:
    """INV-CONSERVE-CLOSE: closing d lots at P leaves equity at P unchanged (STATE-9, model)."""
    q, d, entry, price, k, s = _ints("q", "d", "entry_value", "price", "k", "side")
    split = z3.Int("closed_entry")

    def value(lots: Any) -> Any:  # linear value (MARGIN-1)
        return lots * k * price

    realized = s * ((value(q) - value(q - d)) - split)
    after = realized + s * (value(q - d) - (entry - split))
    before = s * (value(q) - entry)
    hypotheses = [q >= 1, d >= 1, d <= q, k >= 1, price >= 1, z3.Or(s == 1, s == -1)]
    return prove(hypotheses, after == before), ""


def _phase_in() -> tuple[Outcome, str]:
    """INV-PHASE-IN: healthy under the old rules => not liquidatable with min(old, new) (RISK-6)."""
    equity, old, new = _ints("equity", "mm_old", "mm_new")
    used = z3.If(old <= new, old, new)
    with symbolic_backend():
        liquidatable = is_below_maintenance(equity, used, strict=True)
    return prove([old >= 0, new >= 0, equity >= old], z3.Not(liquidatable)), ""


def _adjust() -> tuple[Outcome, str]:
    """INV-ADJUST: target monotone and bounded; steps rate-limited (RISK-2, RISK-3, model)."""
    v1, v2, threshold = _ints("vol_1", "vol_2", "threshold")
    slope, top, step, band, current = z3.Reals("slope max_multiplier max_step hysteresis current")

    def target(vol: Any) -> Any:
        raw = 1 + slope * z3.If(vol > threshold, vol - threshold, 0)
        return z3.If(raw < top, raw, top)

    gap = target(v1) - current
    moved = current + z3.If(gap > step, step, z3.If(gap < -step, -step, gap))
    new = z3.If(
        z3.If(gap >= 0, gap, -gap) <= band,
        current,
        z3.If(moved < 1, 1, z3.If(moved > top, top, moved)),
    )
    hypotheses = [slope >= 0, top >= 1, step > 0, band >= 0, current >= 1, current <= top,
                  v1 >= 0, v2 >= v1, threshold >= 0]  # fmt: skip
    claim = z3.And(target(v1) >= 1, target(v1) <= target(v2), target(v2) <= top,
                   new - current <= step, current - new <= step, new >= 1, new <= top)  # fmt: skip
    return prove(hypotheses, claim), ""


def _preempt() -> tuple[Outcome, str]:
    """INV-PREEMPT: RISK-7's target is bounded, monotone, and never lowers margins (model).

    Combined with the volatility part by the maximum (capped at max_multiplier), RISK-3's next
    multiplier is never below what volatility alone gives. The volatility part is any value
    in [1, max]: RISK-2's target, 1 without a volatility source, or the current multiplier
    while a source has no estimate. RISK-6 phases its rises in.
    """
    p1, p2, threshold = _ints("predicted_1", "predicted_2", "threshold")
    target, top, step, band, current, by_vol = z3.Reals(
        "preempt_target max_multiplier max_step hysteresis current volatility_target"
    )

    def preempt(predicted: Any) -> Any:
        return z3.If(predicted > threshold, target, 1)

    def next_multiplier(goal: Any) -> Any:
        gap = goal - current
        moved = current + z3.If(gap > step, step, z3.If(gap < -step, -step, gap))
        return z3.If(z3.If(gap >= 0, gap, -gap) <= band, current,
                     z3.If(moved < 1, 1, z3.If(moved > top, top, moved)))  # fmt: skip

    larger = z3.If(by_vol >= preempt(p1), by_vol, preempt(p1))
    combined = z3.If(larger <= top, larger, top)
    hypotheses = [target >= 1, target <= top, step > 0, band >= 0, current >= 1, current <= top,
                  by_vol >= 1, by_vol <= top, p1 >= 0, p2 >= p1, threshold >= 0]  # fmt: skip
    never_lower = next_multiplier(combined) >= next_multiplier(by_vol)
    claim = z3.And(preempt(p1) >= 1, preempt(p1) <= target, preempt(p1) <= preempt(p2),
                   combined <= top, never_lower)  # fmt: skip
    return prove(hypotheses, claim), ""


# --- per-market checks -------------------------------------------------------------------------


def _mm(market: Market, notional: Any, size: Any = 0) -> Any:
    """MM of a notional (held by ``size`` lots) with the risk multiplier (RISK-4, MARGIN-13)."""
    unscaled = get_maintenance_for_notional(market, notional, size)
    return market.risk_multiplier.apply_up(unscaled)


def _size(market: Market) -> tuple[Any, list[Any]]:
    """Return the size a size-linear market reads (MARGIN-13): a solver integer >= 0, else 0.

    Elsewhere MM reads the notional alone, and the queries stay as they were.
    """
    if market.table.size_rate is None:
        return 0, []
    size = z3.Int("size")
    return size, [size >= 0]


def _size_of(market: Market, outcome: Outcome) -> int:
    """Return the counterexample's size, or 0 when the market's MM does not read one."""
    return 0 if market.table.size_rate is None else _value(outcome, "size")


def _parameters(market: Market) -> tuple[Outcome, str]:
    """INV-PARAMETERS: the market satisfies every market rule (MARKET-2..15)."""
    try:
        validate_market(market)
    except InputError as error:
        witness = Counterexample((("field", error.field), ("rule", error.reason.rule)))
        return witness, f"validate_market: {error}"
    return Proved(), ""


def _mm_monotone(market: Market) -> tuple[Outcome, str]:
    """INV-MM-MONOTONE: one more quantum of notional never lowers MM (MARGIN-4, MARGIN-5).

    On a size-linear market, at every size (MARGIN-13); :func:`_mm_size` varies the size.
    """
    (n,) = _ints("notional")
    q, sized = _size(market)
    with symbolic_backend():
        here, there = _mm(market, n, q), _mm(market, n + 1, q)
    outcome = prove([n >= 0, *sized], here <= there, minimize=n)
    return outcome, _replay_mm(market, outcome, lambda a, b: a > b, "MM(N) > MM(N+1)")


def _replay_mm(
    market: Market, outcome: Outcome, broken: Callable[[int, int], bool], what: str
) -> str:
    if not isinstance(outcome, Counterexample):
        return ""
    n, q = _value(outcome, "notional"), _size_of(market, outcome)
    here, there = _mm(market, n, q), _mm(market, n + 1, q)
    verdict = "confirmed" if broken(here, there) else "NOT confirmed"
    a = _amounts(market)
    return (
        f"replayed: N = {a(n)}: MM(N) = {a(here)}, MM(N + one quantum) = {a(there)}; "
        f"{what} {verdict}"
    )


def _mm_slope(market: Market) -> tuple[Outcome, str]:
    """INV-MM-SLOPE: MM rises by at most d over d quantums (within a tier for step tiers).

    With INV-MM-MONOTONE this makes equity - MM monotone in price on each tier range, the
    lemma behind every liquidation price (PRICE-3, PRICE-4). On a size-linear market, at every
    size: a price move keeps the size, so the rate is constant (MARGIN-13).
    """
    n, d = _ints("notional", "step")
    q, sized = _size(market)
    with symbolic_backend():
        here, there = _mm(market, n, q), _mm(market, n + d, q)
    base = [n >= 0, d >= 1, *sized]
    if market.tier_mode is TierMode.CONTINUOUS:
        ranges = [base]
    else:
        ranges = [[*base, n >= t.floor, n + d < t.cap] for t in market.tiers[:-1]]
        ranges.append([*base, n >= market.tiers[-1].floor])
    for hypotheses in ranges:
        outcome = prove(hypotheses, there - here <= d, minimize=n)
        if not isinstance(outcome, Proved):
            replay = ""
            if isinstance(outcome, Counterexample):
                nv, dv = _value(outcome, "notional"), _value(outcome, "step")
                qv = _size_of(market, outcome)
                rise = _mm(market, nv + dv, qv) - _mm(market, nv, qv)
                verdict = "confirmed" if rise > dv else "NOT confirmed"
                a = _amounts(market)
                replay = (
                    f"replayed: MM({a(nv + dv)}) - MM({a(nv)}) = {a(rise)} > {a(dv)}: {verdict}"
                )
            return outcome, replay
    return Proved(), ""


def _mm_size(market: Market) -> tuple[Outcome, str]:
    """INV-MM-SIZE: at one price, d more lots raise MM by at least 0 and at most their value.

    On a size-linear market MM(q) = ceil(q x P K x r(q)), so the claim rests on the marginal
    rate of F(q) = q x r(q): 0 <= F(q + d) - F(q) <= d, which needs m0 + 2kq <= 1 up to the
    cap, as MARKET-4's 2 cap - mmr < 1 secures (MARGIN-13). Proved in two steps, each in
    the reference's own terms: F's bound on the size rate, then the roundings, over atoms
    (z3 finds no counterexample to the product of the two in its budget). So a position
    grown by d lots, with their value deposited, is never closer to liquidation.
    """
    terms = market.table.size_rate
    if terms is None:
        return Proved(), "no size slope: MM reads the notional alone (INV-MM-SLOPE)"
    q, d = _ints("size", "added")
    den = terms[3]

    def scaled_rate(size: Any) -> Any:  # F(q) x den
        return size * get_size_rate(terms, size)[0]

    with symbolic_backend():
        low, high = scaled_rate(q), scaled_rate(q + d)
    outcome = prove([q >= 0, d >= 1], z3.And(low <= high, high - low <= d * den), minimize=q)
    if isinstance(outcome, Counterexample):
        return outcome, _replay_size(market, _value(outcome, "size"), _value(outcome, "added"))
    if not isinstance(outcome, Proved):
        return outcome, ""
    value, f_low, f_high, lots = _ints("lot_value", "rate_low", "rate_high", "lots")
    with symbolic_backend():
        rise = _rounded(market, value * f_high, den) - _rounded(market, value * f_low, den)
    atoms = [value >= 1, lots >= 1, f_low >= 0, f_low <= f_high, f_high - f_low <= lots * den]
    return prove(atoms, z3.And(rise >= 0, rise <= value * lots)), ""


def _rounded(market: Market, unrounded: Any, den: int) -> Any:
    """MM from its unrounded numerator: ceil(x / den), then the risk multiplier (RISK-4)."""
    return market.risk_multiplier.apply_up(div_ceil(unrounded, den))


def _replay_size(market: Market, size: int, step: int) -> str:
    """Replay INV-MM-SIZE at the top of the price domain, where the roundings matter least."""
    mark = market.max_price
    low = _mm(market, get_value(market, size, mark), size)
    high = _mm(market, get_value(market, size + step, mark), size + step)
    value = get_value(market, step, mark)
    verdict = "confirmed" if not 0 <= high - low <= value else "NOT confirmed"
    a = _amounts(market)
    added = f"{format_size(market, step)} {market.base_asset}"
    return (
        f"replayed at {format_price(market, mark)}: adding {added} raises MM by {a(high - low)}"
        f", and is worth {a(value)}: {verdict}"
    )


def _mm_continuous(market: Market) -> tuple[Outcome, str]:
    """INV-MM-CONTINUOUS: with continuous tiers, unrounded MM agrees on both sides of a floor."""
    if market.tier_mode is not TierMode.CONTINUOUS:
        return Proved(), "step tiers: not continuous by design (MARGIN-5)"
    for lower, upper in zip(market.tiers, market.tiers[1:], strict=False):
        floor = upper.floor
        below = Fraction(floor * lower.mmr.num, lower.mmr.den) - lower.maintenance_amount
        above = Fraction(floor * upper.mmr.num, upper.mmr.den) - upper.maintenance_amount
        if below != above:
            witness = Counterexample((("notional", str(floor)),))
            a = _amounts(market)
            return (
                witness,
                f"replayed: at N = {a(floor)}: lower tier gives {a(below)}, upper {a(above)}",
            )
    return Proved(), ""


def _im_covers_mm(market: Market) -> tuple[Outcome, str]:
    """INV-IM-GE-MM: at every notional (and size, MARGIN-13) IM covers MM."""
    (n,) = _ints("notional")
    q, sized = _size(market)

    def initial(notional: Any, size: Any) -> Any:
        unscaled = get_initial_for_notional(market, notional, size)
        return market.risk_multiplier.apply_up(unscaled)

    with symbolic_backend():
        im, mm = initial(n, q), _mm(market, n, q)
    outcome = prove([n >= 0, *sized], im >= mm, minimize=n)
    replay = ""
    if isinstance(outcome, Counterexample):
        nv, qv = _value(outcome, "notional"), _size_of(market, outcome)
        im, mm = initial(nv, qv), _mm(market, nv, qv)
        a = _amounts(market)
        verdict = "confirmed" if im < mm else "NOT confirmed"
        replay = f"replayed: N = {a(nv)}: IM {a(im)} < MM {a(mm)}: {verdict}"
    return outcome, replay


def _fee_covered(market: Market) -> tuple[Outcome, str]:
    """INV-FEE-COVERED: the maintenance margin can pay the liquidation fees on the notional.

    The fees are the fund's and the liquidator's at its largest ramped rate (LIQ-12); an
    implied fund rate is left out, as it takes at most 19/20 of the room the liquidator's rate
    leaves in the maintenance rate. Under ``fee_limit = surplus`` the fund's fee may take the
    whole surplus (LIQ-8, INV-FEE): the claim is only that its nominal fee is at most N.
    """
    (n,) = _ints("notional")
    q, sized = _size(market)
    params = market.liquidation
    whole = params.fee_limit is FeeLimit.SURPLUS
    top = params.liquidator_fee_max if params.liquidator_fee_step.num else params.liquidator_fee
    fund_rate = Ratio(0, 1) if params.fee_rule is FeeRule.IMPLIED else params.fee
    name = "notional" if whole else "MM"

    def fees(notional: Any) -> Any:
        if whole:
            return params.fee.apply_up(notional)
        return fund_rate.apply_up(notional) + top.apply_up(notional)

    def cover(notional: Any, size: Any) -> Any:
        return notional if whole else _mm(market, notional, size)

    with symbolic_backend():
        fee, bound = fees(n), cover(n, q)
    outcome = prove([n >= 1, *sized], fee <= bound, minimize=n)
    replay = (
        "fee_limit = surplus: the fee is bounded by the notional and the surplus" if whole else ""
    )
    if isinstance(outcome, Counterexample):
        nv = _value(outcome, "notional")
        fv, cv = fees(nv), cover(nv, _size_of(market, outcome))
        a = _amounts(market)
        verdict = "confirmed" if fv > cv else "NOT confirmed"
        replay = f"replayed: N = {a(nv)}: fee {a(fv)} > {name} {a(cv)}: {verdict}"
    return outcome, replay


def _multiplier_bounds(market: Market) -> tuple[Outcome, str]:
    """INV-ADJUST-BOUNDED: no multiplier the market allows lowers margins or reaches MM >= N."""
    (n,) = _ints("notional")
    q, sized = _size(market)
    top = market.risk.max_multiplier
    with symbolic_backend():
        unscaled = get_maintenance_for_notional(market, n, q)
        scaled = top.apply_up(unscaled)
    claim = z3.And(scaled >= unscaled, scaled <= n)
    outcome = prove([n >= 1, *sized], claim, minimize=n)
    replay = ""
    if isinstance(outcome, Counterexample):
        nv = _value(outcome, "notional")
        base = get_maintenance_for_notional(market, nv, _size_of(market, outcome))
        a = _amounts(market)
        replay = (
            f"replayed: N = {a(nv)}: MM {a(base)} scaled by max_multiplier {top} "
            f"is {a(top.apply_up(base))}"
        )
    return outcome, replay


def _band_inward(market: Market) -> tuple[Outcome, str]:
    """INV-BAND: the price band's limits round inward, so no fill leaves the band (BRK-1)."""
    band = market.breakers.band
    if band.num == 0:
        return Proved(), "no band configured"
    (mark,) = _ints("mark")
    with symbolic_backend():
        low = bound_price(mark, band, selling=True)
        high = bound_price(mark, band, selling=False)
    claim = z3.And(
        low * band.den >= mark * (band.den - band.num),
        high * band.den <= mark * (band.den + band.num),
    )
    return prove([mark >= 1, mark <= market.max_price], claim), ""


THEOREMS: dict[str, tuple[str, Check]] = {
    "INV-TRIGGER": ("equity >= MM (strict) / > MM (inclusive) is never liquidatable", _trigger),
    "INV-ROUNDING": ("div_floor and div_ceil round into their intervals", _rounding),
    "INV-FEE": ("0 <= fee <= nominal, and fee <= surplus over the bankruptcy quote", _fee),
    "INV-RATIO": ("a fill within the bankruptcy quote, fee included, keeps E/MM", _ratio),
    "INV-FUND": ("the insurance fund never goes negative", _fund),
    "INV-ADL-EXACT": ("ADL and socialized shares sum exactly to the deficit", _shares),
    "INV-CONSERVE-CLOSE": ("a close at P leaves equity at P unchanged", _close),
    "INV-PHASE-IN": ("a healthy account is not liquidated by a change alone", _phase_in),
    "INV-ADJUST": ("the multiplier is monotone, bounded and rate-limited", _adjust),
    "INV-PREEMPT": ("RISK-7's target is bounded, monotone, and never lowers margins", _preempt),
    **soundness.THEOREMS,
}

MARKET_CHECKS: dict[str, tuple[str, MarketCheck]] = {
    "INV-PARAMETERS": ("the market satisfies every market rule", _parameters),
    "INV-MM-MONOTONE": ("MM is non-decreasing in notional", _mm_monotone),
    "INV-MM-SLOPE": ("MM rises by at most the notional added (liquidation-price lemma)", _mm_slope),
    "INV-MM-SIZE": ("d more lots raise MM by at most their value (size-linear rates)", _mm_size),
    "INV-MM-CONTINUOUS": ("continuous tiers give a continuous MM", _mm_continuous),
    "INV-IM-GE-MM": ("IM >= MM at every notional", _im_covers_mm),
    "INV-FEE-COVERED": ("MM (or, fee_limit = surplus, N) can pay the fee", _fee_covered),
    "INV-ADJUST-BOUNDED": (
        "the risk multiplier never lowers margins nor makes MM > N",
        _multiplier_bounds,
    ),
    "INV-BAND": ("the price band rounds inward", _band_inward),
    **soundness.MARKET_CHECKS,
}

CATALOGUE: dict[str, Invariant] = {
    **{key: Invariant(key, text, "theorem") for key, (text, _) in THEOREMS.items()},
    **{key: Invariant(key, text, "market") for key, (text, _) in MARKET_CHECKS.items()},
}


def _timed(invariant: Invariant, subject: str, check: Check) -> Result:
    start = time.perf_counter()
    try:
        outcome, replay = check()
    except (ArithmeticError, ValueError, z3.Z3Exception) as error:
        outcome, replay = Unknown(f"{type(error).__name__}: {error}"), ""
    return Result(invariant, subject, outcome, time.perf_counter() - start, replay)


def run_theorems() -> list[Result]:
    """Prove every theorem of the catalogue."""
    return [_timed(CATALOGUE[key], "theorem", check) for key, (_, check) in THEOREMS.items()]


def run_market(market: Market) -> list[Result]:
    """Run every per-market check on one (possibly broken) market.

    Counterexamples are shown in the market's units: notionals as amounts of the settlement
    asset, marks as prices (CONV-10: decimals as the file wrote them, never base units).
    """
    return [
        _timed(
            CATALOGUE[key],
            market.symbol,
            lambda c=check: _in_units(market, *c(market)),  # type: ignore[misc]
        )
        for key, (_, check) in MARKET_CHECKS.items()
    ]


def _amounts(market: Market) -> Callable[[int | Fraction], str]:
    """Return a renderer of quantums (or a fraction of them) as amounts of the settle asset."""
    quantum = market.settle_quantum

    def amount(quantums: int | Fraction) -> str:
        value = Fraction(quantums)
        text = decimal_text(value.numerator * quantum.num, value.denominator * quantum.den)
        return f"{text} {market.settle_asset}"

    return amount


def _in_units(market: Market, outcome: Outcome, replay: str) -> tuple[Outcome, str]:
    """Render a counterexample's integer values in the market's units."""
    if not isinstance(outcome, Counterexample):
        return outcome, replay
    amount = _amounts(market)
    shown = []
    for name, value in outcome.values:
        if name in {"notional", "step"} and value.lstrip("-").isdigit():
            value = amount(int(value))  # noqa: PLW2901 - the same value, in the asset's units
        elif name == "mark" and value.isdigit():
            value = format_price(market, int(value))  # noqa: PLW2901
        elif name in {"size", "added"} and value.isdigit():
            value = format_size(market, int(value))  # noqa: PLW2901
        shown.append((name, value))
    return Counterexample(tuple(shown)), replay
