"""Benchmark: conformance cases per second through the protocol, and the full suite's time.

Run with `make bench`. Drives the reference adapter (`liqspec adapter`) with the runner: the
full suite once (every kind, startup included), then the cheap function-level kinds
(maintenance, fee, shares) repeated to 5,000 cases, excluding startup.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from liqspec.conformance.reports import summary_line
from liqspec.conformance.runner import Runner, run_suite

ROOT = Path(__file__).resolve().parent.parent
VECTORS = [json.loads(p.read_text()) for p in sorted((ROOT / "spec" / "vectors").rglob("*.json"))]
COMMAND = [sys.executable, "-m", "liqspec.cli", "adapter"]


def main() -> None:
    """Print the figures."""
    start = time.perf_counter()
    reports = run_suite(VECTORS, COMMAND)
    elapsed = time.perf_counter() - start
    print(f"full suite, {len(VECTORS)} vectors: {elapsed:.2f} s ({summary_line(reports)})")
    for kinds in (("maintenance", "fee", "shares"), ("margin",), ("scenario",)):
        cases = [v for v in VECTORS if v["kind"] in kinds]
        runner = Runner(COMMAND, timeout=10)
        runner.start()
        repeat = max(1, 5_000 // len(cases)) if "maintenance" in kinds else 3
        start = time.perf_counter()
        for _ in range(repeat):
            for vector in cases:
                runner.request({"type": "case", "id": vector["id"], "kind": vector["kind"],
                                "input": vector["input"]})  # fmt: skip
        elapsed = time.perf_counter() - start
        runner.stop()
        count = repeat * len(cases)
        print(
            f"{'+'.join(kinds)}: {count / elapsed:,.0f} cases/s ({count:,} cases, {elapsed:.2f} s)"
        )


if __name__ == "__main__":
    main()
