"""Benchmark: what an event costs as the population grows (1,000 to 100,000 accounts).

Run with `make bench` (or `python benchmarks/bench_scale.py --sizes 1000,10000`). The accounts
are bench_engine's: one BTCUSDT position each, 5x to 60x, half long, half short. Per size it
prints:

- the first event, which builds the queue index from every account;
- a quiet event: the median of 21 mark moves of a few ticks that liquidate nobody, against
  LIQ-3's scan of every account (what every event cost before the index) in the same run;
- a liquidation event: one mark fall of 1.5% with a deep book, in ms per liquidation step
  (the accounts whose certificates the fall breaks are looked at again within it).

The figures of one size are measured side by side, so their ratio holds on a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench_engine import START, book_around, initial_state

from liqspec.engine.queue import get_liquidation_queue
from liqspec.engine.records import LiquidationStep, Takeover
from liqspec.engine.state import BookUpdate, MarkUpdate, State
from liqspec.engine.transition import process_event


def _timed(state: State, event: MarkUpdate | BookUpdate) -> tuple[State, float, int]:
    start = time.perf_counter()
    state, records = process_event(state, event)
    elapsed = time.perf_counter() - start
    steps = sum(isinstance(r, LiquidationStep | Takeover) for r in records)
    return state, elapsed, steps


def measure(accounts: int) -> None:
    """Print one size's figures."""
    state = initial_state(accounts)
    state, first, _ = _timed(state, MarkUpdate("BTCUSDT", START + 1))
    quiet = []
    for i in range(21):
        state, elapsed, steps = _timed(state, MarkUpdate("BTCUSDT", START + (-1) ** i * (i % 5)))
        assert steps == 0, "a quiet event liquidated someone"
        quiet.append(elapsed)
    start = time.perf_counter()
    get_liquidation_queue(state)
    scan = time.perf_counter() - start
    fallen = START - START * 15 // 1000
    state, _, _ = _timed(state, BookUpdate("BTCUSDT", book_around(fallen)))
    state, falling, steps = _timed(state, MarkUpdate("BTCUSDT", fallen))
    median = statistics.median(quiet)
    print(
        f"{accounts:>7,} accounts: first event {first * 1000:,.0f} ms; "
        f"quiet event {median * 1000:,.3f} ms vs scan {scan * 1000:,.1f} ms "
        f"({scan / median:,.0f}x); 1.5% fall: {steps:,} steps, "
        f"{falling / max(steps, 1) * 1000:,.2f} ms per step"
    )


def main() -> None:
    """Measure each size."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--sizes", type=_sizes, default="1000,10000,100000", help="account counts, comma-separated"
    )
    args = parser.parse_args()
    for size in args.sizes:
        measure(size)


def _sizes(text: str) -> list[int]:
    """Parse ``--sizes``: positive whole numbers separated by commas."""
    parts = text.split(",")
    if not all(part.strip().isdigit() and int(part) > 0 for part in parts):
        message = f"--sizes {text!r}: need positive whole numbers separated by commas"
        raise argparse.ArgumentTypeError(message)
    return [int(part) for part in parts]


if __name__ == "__main__":
    main()
