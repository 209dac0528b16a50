"""Benchmark: events per second of `liqspec audit` on a log with no findings.

Run with `make bench` (or `python benchmarks/bench_audit.py --accounts 1000 --events 20000`).
A seeded market day is built as a scenario: accounts on Binance BTCUSDT at leverages of 2 to
20, a mark that walks by up to 0.02% a step, and a book refreshed every tenth event; the
clock advances a second per event and ticks every tenth. The
reference replays it and writes the log (AUDIT-1), which holds its liquidations; the log is
then audited from the file. Prints the audit's events per second and, as a peer measured in
the same run, the reference's own replay of the same events, and their ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from liqspec.audit.report import audit_file
from liqspec.base.files import load_document
from liqspec.engine.outputs import scenario_report
from liqspec.engine.scenarios import replay, scenario_from_document

ROOT = Path(__file__).resolve().parent.parent
MARKET = ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml"


def build(accounts: int, events: int, seed: int) -> dict[str, Any]:
    """Return the scenario document of the benchmark's market day."""
    draw = random.Random(seed)  # noqa: S311 - a benchmark's workload, not a secret
    rows = []
    for i in range(accounts):
        leverage = draw.choice([2, 3, 5, 10, 20])
        size = draw.randint(1, 500)  # thousandths of a BTC
        wallet = 60_000 * size // 1000 // leverage + 1
        side = draw.choice(["long", "short"])
        rows.append({"id": f"a{i}", "asset": "USDT", "balance": str(wallet), "positions": [
            {"market": "BTCUSDT", "side": side, "size": f"{size / 1000:.3f}",
             "entry_price": "60000"}]})  # fmt: skip
    mark = 600_000  # in ticks of 0.1
    steps: list[dict[str, Any]] = []
    for k in range(events):
        if k % 10 == 5:
            steps.append({"kind": "clock", "time": str(k)})
        elif k % 10 == 0:
            bids = [[f"{(mark - 10 * j) / 10:.1f}", "5"] for j in range(1, 6)]
            asks = [[f"{(mark + 10 * j) / 10:.1f}", "5"] for j in range(1, 6)]
            steps.append({"kind": "book", "market": "BTCUSDT", "bids": bids, "asks": asks})
        else:
            mark += draw.randint(-120, 120)
            steps.append({"kind": "mark", "market": "BTCUSDT", "price": f"{mark / 10:.1f}"})
    return {
        "format": 1,
        "scenario": {
            "name": "bench",
            "description": "a seeded day",
            "markets": [load_document(MARKET)],
        },
        "liquidation": {"BTCUSDT": {"policy": "health", "deleveraging": "adl"}},
        "funds": {"USDT": "1000000"},
        "marks": {"BTCUSDT": "60000"},
        "accounts": rows,
        "events": steps,
    }


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    document = build(args.accounts, args.events, args.seed)
    scenario = scenario_from_document(document)
    started = time.perf_counter()
    for _ in replay(scenario):
        pass
    replayed = time.perf_counter() - started
    report = scenario_report(scenario)
    header = {key: value for key, value in document.items() if key != "events"}
    lines = [header] + [{"event": s["event"], "records": s["records"]} for s in report["steps"]]
    records = [r for s in report["steps"] for r in s["records"]]
    liquidations = sum(r["kind"] == "liquidation-step" for r in records)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))
        size = path.stat().st_size
        started = time.perf_counter()
        auditor, _ = audit_file(path)
        audited = time.perf_counter() - started
    assert auditor.findings == [], auditor.findings[:3]
    print(f"audit: {args.accounts:,} accounts, {args.events:,} events, {liquidations} liquidation "
          f"steps, a {size / 1e6:.1f} MB log")  # fmt: skip
    print(f"audit from the file: {args.events / audited:,.0f} events/s ({audited:.2f} s); "
          f"the reference's own replay: {args.events / replayed:,.0f} events/s "
          f"({replayed:.2f} s); audit / replay time {audited / replayed:.2f}")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the whole benchmark (the log is also built in memory): {peak:.0f} MB")


if __name__ == "__main__":
    main()
