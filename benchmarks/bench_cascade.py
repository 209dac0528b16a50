"""Benchmark: what the exact cascade prediction costs per state, by population size.

Run with `python benchmarks/bench_cascade.py [--positions 500 5000 20000]`. For each size, the
October template's population (spec/stress/october.toml) at the start of its path, with a book
of the template's ladder: the time of the liquidation map (STRESS-9), of one shock's full
cascade (STRESS-10, a 5% fall), and of RISK-7's map-walk prediction (both directions). It
prints seconds per state and states per minute, the figures a decision on a learned surrogate
(issue 18, section 4) needs: a surrogate pays only where the exact model is too slow. Last,
what RISK-7 costs a stress run: run 0 of the template without it and with it (a 5% shock,
predicted every 60 s), in the same process, and the ratio.
"""

from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path

import attrs

from liqspec.base.conventions import Ratio
from liqspec.engine.preemption import get_predicted_cascade
from liqspec.engine.state import with_market
from liqspec.stress.cascade import (
    build_ladder_book,
    build_run_state,
    get_full_depth,
    get_population,
    process_run,
)
from liqspec.stress.plan import load_stress
from liqspec.stress.prediction import get_liquidation_map, process_shock

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "spec" / "stress" / "october.toml"


def _timed(action: object) -> float:
    start = time.perf_counter()
    action()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--positions", type=int, nargs="+", default=[500, 5_000, 20_000])
    args = parser.parse_args()
    base = load_stress(TEMPLATE)
    risk = attrs.evolve(base.market.risk, preempt_shock=Ratio.of(5, 100),
                        preempt_threshold=Ratio(1, 1))  # fmt: skip
    print(f"{'positions':>10}{'map s':>10}{'shock s':>10}{'RISK-7 s':>10}{'shocks/min':>12}")
    for positions in args.positions:
        plan = attrs.evolve(
            base,
            market=attrs.evolve(base.market, risk=risk),
            population=attrs.evolve(base.population, positions=positions),
        )
        units = get_population(plan)
        start = int(Fraction(plan.path.start) / Fraction(plan.market.price_tick.num,
                                                         plan.market.price_tick.den))  # fmt: skip
        state = build_run_state(plan, units, 0, start)
        full = tuple(get_full_depth(plan.ladder, k) for k in range(1, plan.ladder.levels + 1))
        book = build_ladder_book(plan.ladder, start, full, full, plan.market.max_price)
        symbol = plan.market.symbol
        state = with_market(state, attrs.evolve(state.markets[symbol], book=book))
        mapped = _timed(lambda s=state, m=symbol: get_liquidation_map(s, m))
        shocked = _timed(lambda s=state, m=symbol: process_shock(s, m, Fraction(-5, 100)))
        predicted = _timed(lambda s=state, m=symbol: get_predicted_cascade(s, m))
        print(f"{positions:>10}{mapped:>10.3f}{shocked:>10.3f}{predicted:>10.3f}"
              f"{60 / shocked:>12.1f}")  # fmt: skip
    units = get_population(base)
    plain = _timed(lambda: process_run(base, units, 0))
    ruled = attrs.evolve(
        base, market=attrs.evolve(base.market, risk=attrs.evolve(risk, preempt_interval=60))
    )
    preempting = _timed(lambda: process_run(ruled, units, 0))
    print(f"one October run: {plain:.2f} s without RISK-7, {preempting:.2f} s with it "
          f"({preempting / plain:.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
