"""Benchmark: `liqspec prove` on every bundled market and `liqspec gate` on a 12-tier change.

Run with `make bench`. Each command runs as a user would run it (a new process, imports and
z3 included), three times; the best and the median wall time are printed, against the targets
of 10 s (prove) and 5 s (gate) on this 2-core machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKETS = sorted(str(p) for p in (ROOT / "spec" / "markets").glob("*.toml"))
OLD = str(ROOT / "spec" / "markets" / "binance-btcusdt-2022-02-12.toml")
NEW = str(ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml")


def timed(args: list[str], runs: int = 3) -> tuple[float, float, int]:
    """Return best and median seconds of ``runs`` runs of ``liqspec args``, and the exit code."""
    seconds, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "liqspec.cli", *args], capture_output=True, check=False
        )
        seconds.append(time.perf_counter() - start)
        code = done.returncode
    return min(seconds), statistics.median(seconds), code


def main() -> None:
    """Print the figures."""
    best, median, code = timed(["prove", *MARKETS])
    print(f"prove, {len(MARKETS)} markets + theorems: best {best:.2f} s, median {median:.2f} s "
          f"(target <= 10 s; exit {code})")  # fmt: skip
    best, median, code = timed(["gate", OLD, NEW])
    print(f"gate, 12-tier change (Binance BTCUSDT 2022 -> 2024): best {best:.2f} s, "
          f"median {median:.2f} s (target <= 5 s; exit {code})")  # fmt: skip


if __name__ == "__main__":
    main()
