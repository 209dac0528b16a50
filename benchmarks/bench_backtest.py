"""Benchmark: `liqspec backtest` at a venue's scale, and its fast path against the engine.

Run with `make bench` (or `python benchmarks/bench_backtest.py --help`). It generates its
inputs with `liqspec generate` (seeded) in a temporary folder, then prints:

- end to end: `liqspec backtest` as a user runs it (a subprocess: reading the CSVs, the run,
  writing positions.csv, intervals.csv, summary.json and report.md; plots excluded, then
  included), over --positions positions and --points one-minute marks, with its peak memory;
- side by side, in this process: the fast path and the engine route on the same smaller
  backtest (--small-positions x --small-points), their ratio, and whether their facts
  (BT-5) are equal.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from liqspec.backtest.inputs import load_path, load_population
from liqspec.backtest.routes import make_backtest, run_engine, run_fast
from liqspec.base.files import get_bundled
from liqspec.model.market_files import load_market

LIQSPEC = [sys.executable, "-m", "liqspec.cli"]


def _generate(folder: Path, positions: int, points: int, seed: int) -> tuple[Path, Path]:
    path, population = folder / f"path-{points}.csv", folder / f"population-{positions}.csv"
    subprocess.run([*LIQSPEC, "generate", "path", "--points", str(points), "--seed", str(seed),
                    "-o", str(path)], check=True)  # fmt: skip
    subprocess.run([*LIQSPEC, "generate", "population", "--positions", str(positions),
                    "--seed", str(seed + 1), "-o", str(population)], check=True)  # fmt: skip
    return path, population


def end_to_end(folder: Path, positions: int, points: int) -> None:
    path, population = _generate(folder, positions, points, seed=1)
    for plots in (False, True):
        command = [*LIQSPEC, "backtest", "--path", str(path), "--population", str(population),
                   "--fund", "100000000", "--out", str(folder / "out"), "--json"]  # fmt: skip
        if not plots:
            command.append("--no-plots")
        start = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        route = '"route": "fast-path"' in done.stdout
        print(f"end to end, {positions:,} positions x {points:,} marks, plots "
              f"{'included' if plots else 'excluded'}: {elapsed:.1f} s "
              f"(fast path: {route}; peak memory so far {peak:,.0f} MB)")  # fmt: skip


def side_by_side(folder: Path, positions: int, points: int) -> None:
    path, population = _generate(folder, positions, points, seed=3)
    market = load_market(get_bundled("markets", "binance-btcusdt-2024-10-24.toml"))
    markets = {market.symbol: market}
    backtest = make_backtest(
        markets, {market.symbol: load_path(path, market)},
        load_population(population, markets), {market.fund: 10**16},
    )  # fmt: skip
    start = time.perf_counter()
    fast = run_fast(backtest)
    fast_time = time.perf_counter() - start
    start = time.perf_counter()
    engine = run_engine(backtest)
    engine_time = time.perf_counter() - start
    equal = fast.get_facts() == engine.get_facts()
    print(f"side by side, {positions:,} positions x {points:,} marks: fast path "
          f"{fast_time:.2f} s, engine route {engine_time:.1f} s "
          f"({engine_time / fast_time:,.0f}x); {len(engine.closes):,} closes; "
          f"facts equal: {equal}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=100_000)
    parser.add_argument("--points", type=int, default=525_600, help="one-minute marks (a year)")
    parser.add_argument("--small-positions", type=int, default=10_000)
    parser.add_argument("--small-points", type=int, default=1440, help="a day of minutes")
    args = parser.parse_args()
    if min(args.positions, args.points, args.small_positions, args.small_points) < 2:
        parser.error("every size must be at least 2")
    with tempfile.TemporaryDirectory() as folder:
        end_to_end(Path(folder), args.positions, args.points)
        side_by_side(Path(folder), args.small_positions, args.small_points)


if __name__ == "__main__":
    main()
