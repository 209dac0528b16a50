"""The catalogue, continued: prices, funds, marks, halts and risk (spec/invariants.md).

Same style as :mod:`liqproofs.catalogue`, which lists these entries with its own: each proof
calls the reference's functions on z3 terms (CONV-9), checks its hypotheses satisfiable first
and runs under the deterministic ``rlimit``; a per-market counterexample is replayed through
the reference, concretely. Where a rule is written with Fractions or loops in the reference, a
small model is proved and ``tests/symbolic/test_models.py`` demands model = reference.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import attrs
import z3

from liqproofs.prove import Counterexample, Outcome, Proved, prove
from liqproofs.symbolic import symbolic_backend
from liqspec.base.conventions import Ratio, div_ceil, div_floor, smax
from liqspec.engine.execution import get_step_cost, get_step_risk
from liqspec.engine.insurance import get_fund_payment, get_share
from liqspec.model.accounts import Position, Side
from liqspec.model.margin import (
    get_maintenance_for_notional,
    get_notional,
    get_unrealized_pnl,
    is_below_maintenance,
    select_by_tier,
)
from liqspec.model.market_rules import make_market
from liqspec.model.markets import ContractKind, Market, Tier, TierMode, Trigger, get_value

__all__ = ["MARKET_CHECKS", "THEOREMS"]

Check = Callable[[], tuple[Outcome, str]]
MarketCheck = Callable[[Market], tuple[Outcome, str]]


def _ints(*names: str, context: Any = None) -> list[Any]:
    return [z3.Int(name, ctx=context) for name in names]


def _value(outcome: Outcome, name: str) -> int:
    assert isinstance(outcome, Counterexample)  # noqa: S101 - only called on counterexamples
    return int(dict(outcome.values)[name])


def _first_failure(outcomes: list[tuple[Outcome, str]]) -> tuple[Outcome, str]:
    return next((o for o in outcomes if not isinstance(o[0], Proved)), (Proved(), ""))


# --- one leg of a unit, as the price searches see it (PRICE-2, PRICE-5) -------------------------
#
# A unit's other legs stay at their marks: they add a constant to equity and a constant >= 0 to
# MM. So does this leg's close-fee estimate (MARGIN-7: it depends on the entry, not on price).
# With ``others`` (collateral + other PnL) and ``others_mm`` symbolic, one leg covers isolated
# units, cross units with one leg, and cross units with many.


@attrs.frozen
class _Leg:
    market: Market
    position: Position
    others: Any
    others_mm: Any

    def equity(self, price: Any) -> Any:
        return self.others + get_unrealized_pnl(self.market, self.position, price)

    def maintenance(self, price: Any) -> Any:
        notional = get_notional(self.market, self.position, price)
        tiers = get_maintenance_for_notional(self.market, notional, self.position.size)
        return self.others_mm + self.market.risk_multiplier.apply_up(tiers)

    def liquidatable(self, price: Any) -> Any:
        strict = self.market.trigger is Trigger.STRICT
        return is_below_maintenance(self.equity(price), self.maintenance(price), strict=strict)


def _leg(market: Market, side: Side, context: Any) -> tuple[_Leg, list[Any]]:
    names = ("size", "entry_value", "others", "others_mm")
    size, entry, others, others_mm = _ints(*names, context=context)
    leg = _Leg(market, Position(market.symbol, side, size, entry), others, others_mm)
    return leg, [size >= 1, entry >= 1, others_mm >= 0]


def _on_grid(market: Market, *prices: Any) -> list[Any]:
    return [c for p in prices for c in (p >= 1, p <= market.max_price)]


def _shape() -> Market:
    """Return a small valid market; theorems replace the fields they quantify over."""
    one = Ratio(1, 1)
    return make_market(
        symbol="SHAPE", contract=ContractKind.LINEAR, base_asset="B", quote_asset="Q",
        settle_asset="Q", price_tick=one, lot_size=one, contract_value=one, settle_quantum=one,
        max_price=10**6, tiers=(Tier(0, 10**9, Ratio.of(1, 100), Ratio.of(1, 50), 0),),
        tier_mode=TierMode.CONTINUOUS,
    )  # fmt: skip


def _value_order(market: Market, size: Any, low: Any, high: Any) -> Any:
    """INV-VALUE-MONOTONE for low < high: a cut (proved as a theorem) the inverse proofs use."""
    v_low, v_high = get_value(market, size, low), get_value(market, size, high)
    return v_low <= v_high if market.contract is ContractKind.LINEAR else v_low >= v_high


def _value_monotone() -> tuple[Outcome, str]:
    """INV-VALUE-MONOTONE: V(q, P) is non-decreasing in P (linear), non-increasing (inverse)."""
    size, k, low, high = _ints("size", "value_factor", "price", "price_higher")
    outcomes = []
    for kind in ContractKind:
        market = attrs.evolve(_shape(), contract=kind, value_factor=k)
        with symbolic_backend():
            claim = _value_order(market, size, low, high)
        hypotheses = [size >= 1, k >= 1, low >= 1, high > low]
        outcomes.append((prove(hypotheses, claim), f"{kind.value}"))
    return _first_failure(outcomes)


def _replay_trigger(leg: _Leg, outcome: Outcome, prices: tuple[str, str]) -> str:
    if not isinstance(outcome, Counterexample):
        return ""
    values = dict(outcome.values)
    concrete = _Leg(
        leg.market,
        Position(leg.market.symbol, leg.position.side, _value(outcome, "size"),
                 _value(outcome, "entry_value")),
        int(values.get("others", 0)), int(values.get("others_mm", 0)),
    )  # fmt: skip
    first, second = (_value(outcome, p) for p in prices)
    a, b = concrete.liquidatable(first), concrete.liquidatable(second)
    verdict = "confirmed" if (not a and b) else "NOT confirmed"
    return (
        f"replayed: {leg.position.side.name.lower()}, liquidatable at {first}: {a}, "
        f"at the safer {second}: {b}; {verdict}"
    )


def _lp_sound(market: Market) -> tuple[Outcome, str]:
    """INV-LP-SOUND: not liquidatable at P implies not liquidatable at any safer price.

    Continuous tiers (or entry valuation): on the whole grid; step tiers: while the leg's
    notional stays in one tier. With L the published price (liq(L), not liq(L + s)): every
    safer price is safe, every price from the adverse end to L is liquidatable.
    """
    for side in Side:
        context = z3.Context()  # a query of its own: z3's speed must not depend on history
        leg, hypotheses = _leg(market, side, context)
        price, safer = _ints("price", "price_safer", context=context)
        s = int(side)
        with symbolic_backend():
            here, there = leg.liquidatable(price), leg.liquidatable(safer)
            v_here = get_value(market, leg.position.size, price)
            v_there = get_value(market, leg.position.size, safer)
        hypotheses += [*_on_grid(market, price, safer), (safer - price) * s > 0, z3.Not(here)]
        if market.tier_mode is TierMode.STEP:
            hypotheses += [(v_here < t.cap) == (v_there < t.cap) for t in market.tiers[:-1]]
        if market.contract is ContractKind.INVERSE:  # INV-VALUE-MONOTONE: z3 needs it
            hypotheses.append((v_there - v_here) * s <= 0)
        outcome = prove(hypotheses, z3.Not(there))
        if not isinstance(outcome, Proved):
            return outcome, _replay_trigger(leg, outcome, ("price", "price_safer"))
    return Proved(), ""


def _bp_sound(market: Market) -> tuple[Outcome, str]:
    """INV-BP-SOUND: equity >= 0 at P implies >= 0 at every safer price; B = exact, rounded.

    With B the published bankruptcy price (equity(B) >= 0 > equity(B - s)): linear, B is the
    exact root (PRICE-7) rounded toward safety; inverse longs likewise.
    """
    for side in Side:
        context = z3.Context()  # a query of its own: z3's speed must not depend on history
        leg, hypotheses = _leg(market, side, context)
        price, safer = _ints("price", "price_safer", context=context)
        s, size, entry, others = int(side), leg.position.size, leg.position.entry_value, leg.others
        with symbolic_backend():
            here, there = leg.equity(price), leg.equity(safer)
            before = leg.equity(price - s)
            low, high = (price, safer) if s > 0 else (safer, price)
            cut = _value_order(market, size, low, high)
        monotone = [*hypotheses, *_on_grid(market, price, safer), (safer - price) * s > 0]
        if market.contract is ContractKind.INVERSE:
            monotone.append(cut)
        outcome = prove([*monotone, here >= 0], there >= 0)
        if isinstance(outcome, Proved):
            published = [*hypotheses, *_on_grid(market, price, price - s), here >= 0, before < 0]
            scale = size * market.value_factor
            if market.contract is ContractKind.LINEAR:  # 0 <= s (B - P0) < 1, P0 = (E - sC)/qK
                gap = s * (price * scale - (entry - s * others))
                steps = z3.And(here - before == scale, gap == here)  # one tick is worth q K
                outcome = prove(hypotheses, steps)
                if isinstance(outcome, Proved):  # the cut, then the rounding, over its atoms
                    h, b, g, w = _ints("equity_at_b", "equity_before_b", "gap", "tick_value")
                    atoms = [h >= 0, b < 0, h - b == w, g == h]
                    outcome = prove(atoms, z3.And(g >= 0, g < w))
            elif s > 0:  # B = ceil(P0), P0 = qK / (E + C)
                claim = z3.And(entry + others > 0, (price - 1) * (entry + others) < scale,
                               scale <= price * (entry + others))  # fmt: skip
                outcome = prove(published, claim)
        if not isinstance(outcome, Proved):
            return outcome, ""
    return Proved(), ""


def _polynomials(terms: Any) -> Any:
    """Normalize to sums of monomials (same terms, faster for z3's non-linear arithmetic)."""
    if isinstance(terms, list):
        return [z3.simplify(t, som=True) for t in terms]
    return z3.simplify(terms, som=True)


def _bankrupt_liquidatable(market: Market) -> tuple[Outcome, str]:
    """INV-BANKRUPT-LIQ: MM >= 0 at every notional, so equity < 0 is liquidatable (PRICE-9).

    On a size-linear market, at every size (MARGIN-13).
    """
    notional, equity, others_mm, size = _ints("notional", "equity", "others_mm", "size")
    sized = market.table.size_rate is not None
    with symbolic_backend():
        unscaled = get_maintenance_for_notional(market, notional, size if sized else 0)
        mm = market.risk_multiplier.apply_up(unscaled)
        strict = is_below_maintenance(equity, others_mm + mm, strict=True)
        inclusive = is_below_maintenance(equity, others_mm + mm, strict=False)
    hypotheses = [notional >= 0, equity < 0, others_mm >= 0, size >= 0]
    outcome = prove(hypotheses, z3.And(mm >= 0, strict, inclusive), minimize=notional)
    replay = ""
    if isinstance(outcome, Counterexample):
        n, q = _value(outcome, "notional"), _value(outcome, "size") if sized else 0
        mv = market.risk_multiplier.apply_up(get_maintenance_for_notional(market, n, q))
        replay = f"replayed: MM({n} quantums) = {mv}: {'confirmed' if mv < 0 else 'NOT confirmed'}"
    return outcome, replay


# --- theorems ----------------------------------------------------------------------------------


def _risk_monotone() -> tuple[Outcome, str]:
    """INV-RISK-MONOTONE: a higher multiplier never lowers a maintenance margin (RISK-4).

    ceil(x m1) <= ceil(x m2) for 1 <= m1 <= m2 and x >= 0, by the reference's Ratio.apply_up;
    the fee estimate does not depend on m, so every leg's MM and every unit's sum follow.
    """
    x, n1, d1, n2, d2, fee = _ints("maintenance", "m1_num", "m1_den", "m2_num", "m2_den", "fee")
    with symbolic_backend():
        low = Ratio(n1, d1).apply_up(x) + fee
        high = Ratio(n2, d2).apply_up(x) + fee
    hypotheses = [x >= 0, fee >= 0, d1 >= 1, d2 >= 1, n1 >= d1, n1 * d2 <= n2 * d1]
    return prove(hypotheses, z3.And(low <= high, low >= x + fee)), ""


def _exit_threshold() -> tuple[Outcome, str]:
    """INV-EXIT: T = MM + ceil(MM x buffer) >= MM; leaving at E >= T is not liquidatable.

    Strict trigger always; inclusive when buffer > 0 and MM > 0 (LIQ-2, MARGIN-9).
    """
    mm, bn, bd, equity = _ints("maintenance", "buffer_num", "buffer_den", "equity")
    with symbolic_backend():
        threshold = mm + Ratio(bn, bd).apply_up(mm)
        strict = is_below_maintenance(equity, mm, strict=True)
        inclusive = is_below_maintenance(equity, mm, strict=False)
    hypotheses = [mm >= 0, bn >= 0, bd >= 1, equity >= threshold]
    claim = z3.And(
        threshold >= mm, z3.Not(strict), z3.Implies(z3.And(bn > 0, mm > 0), z3.Not(inclusive))
    )
    return prove(hypotheses, claim), ""


def _mark_toward_index() -> tuple[Outcome, str]:
    """INV-MARK-TOWARD: rounding (and the grid clamp) never lengthens a move from the index.

    Model of MARK-4 (``round_toward``, then 1..max_price): the value n/d, the index I.
    """
    n, d, index, top = _ints("value_num", "value_den", "index", "max_price")
    with symbolic_backend():
        rounded = z3.If(n >= index * d, div_floor(n, d), div_ceil(n, d))
        mark = z3.If(rounded < 1, 1, z3.If(rounded > top, top, rounded))
    moved = n - index * d  # the move of the value, in 1/d ticks
    hypotheses = [d >= 1, index >= 1, top >= index]
    claim = z3.If(
        moved >= 0,
        z3.And(mark >= index, (mark - index) * d <= moved),
        z3.And(mark <= index, (index - mark) * d <= -moved),
    )
    return prove(hypotheses, claim), ""


def _cascade_monotone() -> tuple[Outcome, str]:
    """INV-CASCADE-MONOTONE: a selling round of a cascade never raises the derived mark.

    Model of MARK-2, MARK-3 and MARK-4 between two rounds of one step (STRESS-3), on exact
    rationals: index I and basis 0 fixed, the fair band's half-width w = I x fair_band >= 0,
    the smoothed candidate s fixed (rounds print trades, not books). Round 2 prints the trade
    p2, at or below the best bid b1 that stood before its fills, and leaves the best bid
    b2 <= b1 (an emptied bid side is modelled as b2 = 1, which changes no clamp as p2 >= 1)
    and the asks untouched. By symmetry (prices mirrored about the index) a buying round
    never lowers the mark.
    """
    p1, p2, b1, b2, ask, index, top = _ints(
        "trade_1", "trade_2", "bid_1", "bid_2", "ask", "index", "max_price"
    )
    width, smoothed = z3.Reals("band_width smoothed")

    def toward(floor: Any, ceiling: Any) -> Any:  # MARK-4 (value >= I iff floor >= I), 1..top
        rounded = z3.If(floor >= index, floor, ceiling)
        return z3.If(rounded < 1, 1, z3.If(rounded > top, top, rounded))

    def clamp(value: Any, low: Any, high: Any) -> Any:
        return z3.If(value < low, low, z3.If(value > high, high, value))

    def clamped(trade: Any, bid: Any) -> Any:  # MARK-3, before rounding
        inside = z3.ToReal(clamp(trade, bid, ask))
        return clamp(inside, index - width, index + width)

    def median(trade: Any) -> Any:  # MARK-2, before rounding: the middle of I, s and the trade
        fair = z3.ToReal(index)
        low, high = z3.If(fair <= smoothed, fair, smoothed), z3.If(fair <= smoothed, smoothed, fair)
        return clamp(z3.ToReal(trade), low, high)

    hypotheses = [
        index >= 1, index <= top, width >= 0,
        b2 >= 1, b2 <= b1, b1 < ask, ask <= top, p2 >= 1, p2 <= p1, p1 <= top, p2 <= b1,
    ]  # fmt: skip
    values = z3.And(clamped(p2, b2) <= clamped(p1, b1), median(p2) <= median(p1))
    lower, upper = z3.Reals("value_lower value_upper")
    floors, ceilings = _ints("floor_lower", "floor_upper"), _ints("ceil_lower", "ceil_upper")
    rounded = [  # floor and ceiling by their defining inequalities (CONV-5, CONV-6)
        z3.And(f <= v, v < f + 1, c - 1 < v, v <= c)
        for v, f, c in zip((lower, upper), floors, ceilings, strict=True)
    ]
    rounding = toward(floors[0], ceilings[0]) <= toward(floors[1], ceilings[1])
    side = (lower >= z3.ToReal(index)) == (floors[0] >= index)  # I is on the grid
    outcomes = [
        (prove(hypotheses, values), "values"),
        (prove([rounded[0]], side), "side of the index"),
        (prove([index >= 1, index <= top, lower <= upper, *rounded], rounding), "rounding"),
    ]
    return _first_failure(outcomes)


def _deficit_conserved() -> tuple[Outcome, str]:
    """INV-DEFICIT-CONSERVE: takeover, fund, ADL or socialization create or destroy no value.

    Model of chapter 8.1 with the reference's get_fund_payment and get_share: the account
    (valued at the mark) moves by -g + (c - max(0, -g)), the fund by max(0, g) - paid, the
    counterparties by minus their shares (their closes at the mark move nothing,
    INV-CONSERVE-CLOSE); c = paid + what the shares cover. The sum is 0.
    """
    gain, balance, fund, cap, total, a, b, c = _ints(
        "gain", "balance_after_close", "fund", "cap", "lots", "a", "b", "allocated"
    )
    flat = z3.Bool("no_position_left")
    with symbolic_backend():
        subsidy = smax(0, -gain)
        residual = z3.If(z3.And(flat, balance < 0), -balance, 0)
        deficit = subsidy + residual
        paid = get_fund_payment(deficit, fund, cap)
        rest = deficit - paid
        shares = [get_share(rest, 0, a, total), get_share(rest, a, b, total),
                  get_share(rest, b, c, total)]  # fmt: skip
        covered = paid + div_floor(rest * c, total)  # the reference's deficit x allocated // T
        funds = smax(0, gain) - paid
    account = -gain + covered - subsidy
    counterparties = -sum(shares)
    hypotheses = [fund >= 0, cap >= 0, total >= 1, a >= 0, a <= b, b <= c, c <= total]
    claim = z3.And(account + funds + counterparties == 0, fund - paid >= 0, covered <= deficit)
    return prove(hypotheses, claim), ""


def _least_target() -> tuple[Outcome, str]:
    """INV-LEAST-TARGET: for a monotone condition the target search returns the least size.

    Model of ``_smallest`` (LIQ-4, CONV-14): a monotone condition on 1..q is a threshold
    ``d >= t``; given holds(q), each bisection step of last_true keeps its invariant
    (holds(inside), not holds(outside), outside < inside) and shrinks the gap, and at gap 1
    ``inside`` is the least d >= 1 that holds: it restores the target and no smaller d does.
    """
    q, t, inside, outside = _ints("size", "threshold", "inside", "outside")

    def holds(lots: Any) -> Any:
        return z3.And(lots > 0, lots >= t)

    with symbolic_backend():
        middle = div_floor(inside + outside, 2)
    step_in = z3.If(holds(middle), middle, inside)
    step_out = z3.If(holds(middle), outside, middle)

    def invariant(i: Any, o: Any) -> Any:
        return z3.And(o >= 0, o < i, i <= q, holds(i), z3.Not(holds(o)))

    start = z3.Implies(holds(q), invariant(q, 0))
    keeps = z3.Implies(
        z3.And(invariant(inside, outside), inside - outside > 1),
        z3.And(invariant(step_in, step_out), step_in - step_out < inside - outside),
    )
    ends = z3.Implies(
        z3.And(invariant(inside, outside), inside - outside == 1),
        z3.And(holds(inside), z3.Or(inside == 1, z3.Not(holds(inside - 1)))),
    )
    return prove([q >= 1], z3.And(start, keeps, ends)), ""


def _optimal_monotone() -> tuple[Outcome, str]:
    """INV-OPTIMAL-MONOTONE: a larger risk weight never chooses fewer lots (LIQ-11).

    On the engine's own cost, impact + w x exposed^2 (get_step_cost, get_step_risk), for three
    candidates d1 < d2 < d3 whose exposed value falls (e1 >= e2 >= e3 >= 0): the choice of
    least cost, ties the fewest lots, under weight wa is at most the choice under wb >= wa.
    Single crossing is what makes it so, and it is also proved pairwise: if a larger target
    is weakly preferred at the smaller weight, it is at the larger one.
    """
    i1, i2, i3, e1, e2, e3 = _ints("impact_1", "impact_2", "impact_3", "exposed_1",
                                   "exposed_2", "exposed_3")  # fmt: skip
    wa, wb = z3.Reals("weight_a weight_b")

    def choice(weight: Any) -> Any:
        costs = [
            get_step_cost(i, get_step_risk(weight, e)) for i, e in ((i1, e1), (i2, e2), (i3, e3))
        ]
        first = z3.And(costs[0] <= costs[1], costs[0] <= costs[2])
        return z3.If(first, 1, z3.If(costs[1] <= costs[2], 2, 3))

    def prefers_larger(weight: Any) -> Any:  # d2 weakly before d1
        return get_step_cost(i2, get_step_risk(weight, e2)) <= get_step_cost(
            i1, get_step_risk(weight, e1)
        )

    hypotheses = [wa >= 0, wb >= wa, e1 >= e2, e2 >= e3, e3 >= 0]
    claim = z3.And(choice(wa) <= choice(wb), z3.Implies(prefers_larger(wa), prefers_larger(wb)))
    return prove(hypotheses, claim), ""


def _halt_once() -> tuple[Outcome, str]:
    """INV-HALT-ONCE: a level trips at most once per reference, in order; halts never shorten.

    Model of process_breakers' level rule (BRK-3, 11.1) over three mark changes under one
    reference: each reaches its highest level r_i (-1 for none); it trips iff r_i >= tripped,
    then tripped := r_i + 1 and the halt ends at max(running end, its own end).
    """
    r = _ints("reached_1", "reached_2", "reached_3")
    ends = _ints("end_1", "end_2", "end_3")
    tripped, until = z3.IntVal(0), z3.Int("until_0")
    fired, untils = [], [until]
    for reached, end in zip(r, ends, strict=True):
        trips = reached >= tripped
        fired.append((trips, reached))
        tripped = z3.If(trips, reached + 1, tripped)
        until = z3.If(trips, z3.If(end > until, end, until), until)
        untils.append(until)
    pairs = [(fired[i], fired[j]) for i in range(3) for j in range(i + 1, 3)]
    once = [z3.Implies(z3.And(ti, tj), lj > li) for (ti, li), (tj, lj) in pairs]
    longer = [untils[i] <= untils[i + 1] for i in range(3)]
    return prove([x >= -1 for x in r], z3.And(*once, *longer)), ""


def _symbolic_tiers(count: int) -> tuple[list[Tier], list[Any]]:
    """``count`` tiers, every floor, cap, rate and amount symbolic, under MARKET-2..10."""
    tiers: list[Tier] = []
    rules: list[Any] = []
    cum = z3.IntVal(0)
    floor = z3.IntVal(0)
    for i in range(count):
        cap, mn, md, inum, iden, amount = _ints(*(f"{x}_{i}" for x in
                                                   ("cap", "mmr_num", "mmr_den", "imr_num",
                                                    "imr_den", "amount")))  # fmt: skip
        rules += [cap > floor, md >= 1, mn >= 1, mn < md, iden >= 1, inum * md > mn * iden,
                  inum <= iden]  # fmt: skip
        if tiers:  # rates do not decrease; the amount by the recursion of MARKET-10
            prev = tiers[-1]
            step = floor * (mn * prev.mmr.den - prev.mmr.num * md)
            rules += [mn * prev.mmr.den >= prev.mmr.num * md,
                      inum * prev.imr.den >= prev.imr.num * iden,
                      amount * md * prev.mmr.den == cum * md * prev.mmr.den + step]  # fmt: skip
        else:
            rules.append(amount == 0)
        tiers.append(Tier(floor, cap, Ratio(mn, md), Ratio(inum, iden), amount))
        cum, floor = amount, cap
    return tiers, rules


SYMBOLIC_TIERS = 3
"""Tiers of the symbolic-table theorem (2: 0.16 s, 3: 0.6 s, 4: 1.1 s measured here)."""


def _tiers_symbolic() -> tuple[Outcome, str]:
    """INV-TIERS-SYMBOLIC: every tier table of SYMBOLIC_TIERS tiers the rules allow is sound.

    On the reference's own functions, with every floor, cap, rate and amount symbolic: MM is
    non-decreasing, IM >= MM, and the unrounded MM agrees on both sides of each floor.
    """
    tiers, rules = _symbolic_tiers(SYMBOLIC_TIERS)
    market = attrs.evolve(_shape(), tiers=tuple(tiers))
    (n,) = _ints("notional")
    with symbolic_backend():
        here = get_maintenance_for_notional(market, n)
        there = get_maintenance_for_notional(market, n + 1)
        initial = select_by_tier(market, n, lambda t: t.imr.apply_up(n))
    continuous = [
        (t.floor * t.mmr.num - t.maintenance_amount * t.mmr.den) * p.mmr.den
        == (t.floor * p.mmr.num - p.maintenance_amount * p.mmr.den) * t.mmr.den
        for p, t in pairwise(tiers)
    ]
    outcomes = [
        (prove([*rules, n >= 0], here <= there), "monotone"),
        (prove([*rules, n >= 0], initial >= here), "IM >= MM"),
        (prove(rules, z3.And(*continuous)), "continuous"),
    ]
    return _first_failure(outcomes)


THEOREMS: dict[str, tuple[str, Check]] = {
    "INV-VALUE-MONOTONE": ("V(q, P) is monotone in P (linear up, inverse down)", _value_monotone),
    "INV-RISK-MONOTONE": ("a higher multiplier never lowers a maintenance margin", _risk_monotone),
    "INV-EXIT": ("leaving liquidation at E >= T is not liquidatable", _exit_threshold),
    "INV-MARK-TOWARD": ("mark rounding never lengthens a move from the index", _mark_toward_index),
    "INV-CASCADE-MONOTONE": ("a selling cascade round never raises the mark", _cascade_monotone),
    "INV-DEFICIT-CONSERVE": ("fund, ADL and socialization conserve value", _deficit_conserved),
    "INV-LEAST-TARGET": ("a monotone target search returns the least size", _least_target),
    "INV-OPTIMAL-MONOTONE": ("a larger risk weight never chooses fewer lots", _optimal_monotone),
    "INV-HALT-ONCE": ("a halt level trips once per reference; halts never shorten", _halt_once),
    "INV-TIERS-SYMBOLIC": (
        "every 3-tier table: MM monotone, continuous, IM >= MM",
        _tiers_symbolic,
    ),
}

MARKET_CHECKS: dict[str, tuple[str, MarketCheck]] = {
    "INV-LP-SOUND": ("the published liquidation price is the boundary, both sides", _lp_sound),
    "INV-BP-SOUND": ("the published bankruptcy price is the rounded root, both sides", _bp_sound),
    "INV-BANKRUPT-LIQ": ("negative equity is liquidatable (MM >= 0)", _bankrupt_liquidatable),
}
