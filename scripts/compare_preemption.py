"""Does the preemptive rule (RISK-7) help? The same runs with and without it, paired.

``python scripts/compare_preemption.py [STRESS_FILE ...] [--runs N] [--json]`` runs each stress
file's runs (spec/15-stress.md) twice on one population and the same paths: with the
volatility rule alone (RISK-1..3), then with the volatility rule and RISK-7 feeding one
multiplier. Both arms phase their rises in over the same ``phase_in``. Per file it prints the
paired differences (with RISK-7 minus without) of STRESS-8's figures, with the mean, its 95%
interval and the runs lower / equal / higher, and the cost to traders: per run, the accounts
liquidated with RISK-7 that were not without it (``raised``: liquidated because margins
rose), and the reverse (``spared``).

The arms' parameters are the constants below, on the market's own tiers; the default files
are the shipped crash templates, ``spec/stress/october.toml`` and ``spec/stress/march.toml``.
Exit 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from liqspec.base.conventions import Ratio, decimal_text
from liqspec.base.errors import InputError
from liqspec.engine.records import LiquidationStarted, Record
from liqspec.engine.state import Event, State
from liqspec.model.markets import RiskParams
from liqspec.stress.cascade import RunResult, get_population, process_run
from liqspec.stress.plan import StressPlan, load_stress
from liqspec.stress.report import difference_rows
from liqspec.stress.summary import get_differences

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = (ROOT / "spec" / "stress" / "october.toml", ROOT / "spec" / "stress" / "march.toml")

VOLATILITY = RiskParams(
    vol_window=10, vol_threshold=2_000, slope=Ratio.of(1, 10_000), max_multiplier=Ratio.of(3, 2),
    max_step=Ratio.of(1, 4), hysteresis=Ratio.of(1, 100), interval=60, phase_in=300,
)  # fmt: skip
"""The volatility rule alone: from 2,000 ppm a minute, +0.1 per 1,000 ppm, at most 1.5."""

PREEMPTIVE = attrs.evolve(
    VOLATILITY,
    preempt_shock=Ratio.of(2, 100),
    preempt_threshold=Ratio(5_000_000, 1),
    preempt_target=Ratio.of(3, 2),
    preempt_interval=60,
)
"""And RISK-7: when a 2% move is predicted to liquidate more than 5,000,000 USDT (about a
third of the templates' open interest), the target is 1.5."""


def with_risk(plan: StressPlan, risk: RiskParams) -> StressPlan:
    """Return the plan with its market's ``[risk]`` table replaced."""
    return attrs.evolve(plan, market=attrs.evolve(plan.market, risk=risk))


def run_arm(plan: StressPlan, runs: int, label: str) -> tuple[list[RunResult], list[set[str]]]:
    """Run ``runs`` runs of ``plan``; return the results and each run's liquidated accounts."""
    units = get_population(plan)
    results, liquidated = [], []
    for run in range(runs):
        accounts: set[str] = set()
        results.append(process_run(plan, units, run, trace=_collector(accounts)))
        liquidated.append(accounts)
        print(f"{plan.name} {label}: run {run + 1}/{runs}", file=sys.stderr)
    return results, liquidated


def _collector(accounts: set[str]) -> Callable[[int, Event, State, tuple[Record, ...]], None]:
    """Return a tracer that adds the accounts of every ``liquidation-started`` record."""

    def trace(_step: int, _event: Event, _after: State, records: tuple[Record, ...]) -> None:
        accounts.update(r.account for r in records if isinstance(r, LiquidationStarted))

    return trace


def compare(plan: StressPlan, runs: int) -> dict[str, Any]:
    """Return one file's paired differences and the cost to traders, as text."""
    without, liquidated_without = run_arm(with_risk(plan, VOLATILITY), runs, "volatility")
    with_rule, liquidated_with = run_arm(with_risk(plan, PREEMPTIVE), runs, "with RISK-7")
    raised = [len(b - a) for a, b in zip(liquidated_without, liquidated_with, strict=True)]
    spared = [len(a - b) for a, b in zip(liquidated_without, liquidated_with, strict=True)]
    return {
        "stress": plan.name,
        "runs": runs,
        "differences": difference_rows(plan.market, get_differences(without, with_rule)),
        "raised": {"total": sum(raised), "mean": _mean(raised), "runs_with_any": _any(raised)},
        "spared": {"total": sum(spared), "mean": _mean(spared), "runs_with_any": _any(spared)},
        "exhausted": {
            "without": sum(r.exhausted for r in without),
            "with": sum(r.exhausted for r in with_rule),
        },
    }


def _mean(values: list[int]) -> str:
    return decimal_text(round(Fraction(sum(values), len(values)) * 100), 100)


def _any(values: list[int]) -> int:
    return sum(value > 0 for value in values)


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        message = f"--runs must be at least 1, got {value}"
        raise argparse.ArgumentTypeError(message)
    return value


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, compare each file, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stress_files", nargs="*", type=Path, help="stress files (TOML)")
    parser.add_argument("--runs", type=_at_least_one, default=20, help="runs per file (default 20)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        plans = [load_stress(path) for path in args.stress_files or TEMPLATES]
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = [compare(plan, min(args.runs, plan.runs)) for plan in plans]
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    for entry in report:
        print(f"\n{entry['stress']}: {entry['runs']} runs, with RISK-7 minus without")
        print(f"{'figure':<22}{'mean':>18}{'low95':>18}{'high95':>18}  lower/equal/higher")
        for row in entry["differences"]:
            counts = f"{row['lower']}/{row['equal']}/{row['higher']}"
            print(f"{row['figure']:<22}{row['mean']:>18}{row['low95'] or '-':>18}"
                  f"{row['high95'] or '-':>18}  {counts}")  # fmt: skip
        for name in ("raised", "spared"):
            cost = entry[name]
            print(f"accounts {name}: {cost['total']} in all, {cost['mean']} a run, "
                  f"in {cost['runs_with_any']} runs")  # fmt: skip
        shown = entry["exhausted"]
        print(f"runs with the fund exhausted: {shown['without']} without, {shown['with']} with")
    return 0


if __name__ == "__main__":
    sys.exit(main())
