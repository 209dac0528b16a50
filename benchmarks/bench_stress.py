"""Benchmark: stress runs with cascades, on one process and on a local pool of two.

Run with `make bench` (or `python benchmarks/bench_stress.py --positions 10000 --points 240`).
The bundled October template with the population and path length given; the same runs are
computed on 1 worker and on 2, and the figures checked equal before the times are printed.
Prints seconds per run, the speed-up from 1 to 2 workers, and what 1,000 runs of one day of
minutes would take at that rate (a linear extrapolation in the number of steps, stated so).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import attrs

from liqspec.stress.plan import load_stress
from liqspec.stress.summary import run_stress

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "spec" / "stress" / "october.toml"


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--positions", type=int, default=2_000)
    parser.add_argument("--points", type=int, default=180)
    parser.add_argument("--runs", type=int, default=4)
    args = parser.parse_args()
    plan = load_stress(TEMPLATE)
    path = attrs.evolve(plan.path, points=args.points, crash_at=0.3)
    plan = attrs.evolve(
        plan, path=path, population=attrs.evolve(plan.population, positions=args.positions)
    )
    runs = range(args.runs)
    timings = {}
    results = {}
    for workers in (1, 2):
        started = time.perf_counter()
        results[workers] = run_stress(plan, runs, workers=workers)
        timings[workers] = time.perf_counter() - started
    assert results[1] == results[2], "the pool computed other figures"
    per_run = timings[1] / args.runs
    print(f"stress: {args.positions:,} positions x {args.points} one-minute steps, "
          f"{args.runs} runs of the October template")  # fmt: skip
    print(f"1 worker: {timings[1]:.1f} s ({per_run:.2f} s per run); "
          f"2 workers: {timings[2]:.1f} s; speed-up {timings[1] / timings[2]:.2f}x")  # fmt: skip
    day = per_run * 1440 / args.points
    hours = 1000 * day / (timings[1] / timings[2]) / 3600
    print(f"extrapolated: one day of minutes {day:.0f} s per run; 1,000 such runs on 2 workers "
          f"{hours:.1f} h; runs per hour per worker {3600 / day:.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
