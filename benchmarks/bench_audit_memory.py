"""Benchmark: `liqspec audit` streams a log, so its memory does not grow with the log's length.

Run with `python benchmarks/bench_audit_memory.py` (add `--lines 1000000` for the issue's
million events). Two logs are written line by line, never held in memory, each at the given
length and at a tenth of it:

- a log of AUDIT-1: 200 accounts at leverage 2 on Binance BTCUSDT, then marks that walk by
  up to 0.02% a line and a clock tick every tenth line. No account comes near maintenance,
  so the reference would take no action and the venue's records are empty: the log has no
  finding;
- a Hyperliquid `node_fills_by_block` stream (AUDIT-9): each line a block with one trade
  between two of 200 users, each fill stating its start position, so every fill is checked
  for continuity.

Each audit runs in its own process; the figures are its lines per second and its peak
resident memory (the child's own ru_maxrss). Bounded memory means the peak at the full length
is about the peak at a tenth.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from liqspec.base.files import load_document

ROOT = Path(__file__).resolve().parent.parent
BINANCE = ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml"
HYPERLIQUID = ROOT / "spec" / "markets" / "hyperliquid-btc-2024.toml"


def write_log(path: Path, lines: int, seed: int) -> None:
    """Write a finding-free log of AUDIT-1 with ``lines`` event lines."""
    draw = random.Random(seed)  # noqa: S311 - a benchmark's workload, not a secret
    accounts = [
        {"id": f"a{i}", "asset": "USDT", "balance": "30000", "positions": [
            {"market": "BTCUSDT", "side": draw.choice(["long", "short"]), "size": "1",
             "entry_price": "60000"}]}
        for i in range(200)
    ]  # fmt: skip
    header = {
        "format": 1,
        "scenario": {"name": "memory", "description": "a long quiet log",
                     "markets": [load_document(BINANCE)]},
        "funds": {"USDT": "1000000"},
        "marks": {"BTCUSDT": "60000"},
        "accounts": accounts,
    }  # fmt: skip
    mark = 600_000
    with path.open("w") as out:
        out.write(json.dumps(header) + "\n")
        for k in range(lines):
            if k % 10 == 9:
                event = {"kind": "clock", "time": str(k)}
            else:
                mark = min(max(mark + draw.randint(-120, 120), 560_000), 640_000)
                event = {"kind": "mark", "market": "BTCUSDT", "price": f"{mark / 10:.1f}"}
            out.write(json.dumps({"event": event, "records": []}) + "\n")


def write_fills(path: Path, lines: int, seed: int) -> None:
    """Write a Hyperliquid stream of ``lines`` blocks, one trade each, starts consistent."""
    draw = random.Random(seed)  # noqa: S311 - a benchmark's workload, not a secret
    held = [0] * 200
    with path.open("w") as out:
        for k in range(lines):
            buyer, seller = draw.sample(range(200), 2)
            size = draw.randint(1, 1000)  # lots of 0.00001
            events = []
            for user, side, sign in ((buyer, "B", 1), (seller, "A", -1)):
                fill = {"coin": "BTC", "px": str(60000 + draw.randint(-50, 50)),
                        "sz": f"{size / 100000:.5f}", "side": side,
                        "startPosition": f"{held[user] / 100000:.5f}", "tid": k}  # fmt: skip
                held[user] += sign * size
                events.append([f"0x{user:040x}", fill])
            out.write(json.dumps({"block_number": k, "events": events}) + "\n")


_CHILD = """
import resource, sys, time
from liqspec.cli import main
started = time.perf_counter()
try:
    main(sys.argv[1:])
except SystemExit:
    pass
seconds = time.perf_counter() - started
sys.stderr.write(f"{seconds} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
"""


def audit(*args: str) -> tuple[float, float]:
    """Run ``liqspec audit`` in a child process; return its seconds and peak memory in MB.

    The seconds are the command's own, after Python and liqspec are imported.
    """
    done = subprocess.run([sys.executable, "-c", _CHILD, "audit", *args, "--json"],
                          capture_output=True, check=False, text=True)  # fmt: skip
    report = json.loads(done.stdout)
    assert report["findings"] == [], report["findings"][:3]
    seconds, peak = done.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(peak) / 1024


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for length in (args.lines // 10, args.lines):
            log, fills = Path(folder) / "log.jsonl", Path(folder) / "fills.jsonl"
            write_log(log, length, args.seed)
            write_fills(fills, length, args.seed)
            seconds, peak = audit(str(log))
            print(f"liqspec log, {length:,} events ({log.stat().st_size / 1e6:.0f} MB): "
                  f"{length / seconds:,.0f} events/s, peak memory {peak:.0f} MB")  # fmt: skip
            seconds, peak = audit(str(fills), "--format", "hyperliquid-node-fills",
                                  "--market", str(HYPERLIQUID))  # fmt: skip
            print(f"hyperliquid stream, {length:,} blocks ({fills.stat().st_size / 1e6:.0f} MB): "
                  f"{length / seconds:,.0f} lines/s, peak memory {peak:.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
