"""Compare the liquidation policies on one stress file: the same runs, the same population.

``python scripts/compare_policies.py [STRESS_FILE] [--runs N] [--json] [--plot PNG]`` runs the
stress file's runs (spec/15-stress.md) once per policy of LIQ-4 (``health``, ``tier-step``,
``chunk``, ``optimal``), the market's other parameters unchanged, and prints per policy the
means over the runs of:

- ``steps``: liquidation steps against the book, and ``takeovers`` by the fund (LIQ-9);
- ``liquidated``: notional closed by liquidation, at the mark;
- ``shortfall``: what the liquidation fills fell short of the mark, summed over every step's
  fills: the price impact the liquidated traders paid (LIQ-11's impact cost, after the fact);
- ``fees``: liquidation fees credited to the fund (LIQ-8);
- ``drawdown``: the fund's largest fall from its start; ``bad debt`` and ``ADL`` (chapter 8);
- ``low``: the lowest mark of the run, and ``dip``: its fall from the path's start. The path is
  the same for every policy, so a deeper dip is price impact the liquidations caused.

The default file is ``spec/stress/policies.toml``, whose ``[liquidation]`` table sets the
cooldown and ``risk_aversion`` that ``chunk`` and ``optimal`` read. Exit 0, or 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from liqspec.base.conventions import decimal_text
from liqspec.base.errors import InputError
from liqspec.engine.execution import get_executed_value
from liqspec.engine.records import FundChange, LiquidationStep, Record, Takeover
from liqspec.engine.state import Event, State
from liqspec.model.markets import ContractKind, Market, Policy, format_amount, format_price
from liqspec.stress.cascade import get_population, process_run
from liqspec.stress.plan import StressPlan, load_stress

ROOT = Path(__file__).resolve().parent.parent
POLICIES = (Policy.HEALTH, Policy.TIER_STEP, Policy.CHUNK, Policy.OPTIMAL)
FIGURES = (
    "steps", "takeovers", "liquidated", "shortfall", "fees", "drawdown", "bad_debt", "adl",
    "low", "dip",
)  # fmt: skip


@attrs.define
class Tally:
    """What one run's liquidations did, from its records."""

    market: Market
    steps: int = 0
    takeovers: int = 0
    shortfall: int = 0
    fees: int = 0

    def __call__(
        self, _step: int, _event: Event, after: State, records: tuple[Record, ...]
    ) -> None:
        """Count one event's liquidation records (the stress tool's tracer)."""
        mark = after.markets[self.market.symbol].mark
        for record in records:
            if isinstance(record, LiquidationStep):
                self.steps += 1
                self.shortfall += get_shortfall(self.market, record, mark)
            elif isinstance(record, Takeover):
                self.takeovers += 1
            elif isinstance(record, FundChange) and record.cause == "liquidation-fee":
                self.fees += record.delta


def get_shortfall(market: Market, step: LiquidationStep, mark: int) -> int:
    """Quantums the step's fills fell short of the same lots at the mark: LIQ-11's I(d)."""
    held = abs(step.position_before)
    selling = 1 if step.side == "sell" else -1
    direction = selling * (1 if market.contract is ContractKind.LINEAR else -1)
    at_mark = get_executed_value(market, held, ((mark, step.executed),))
    return direction * (at_mark - get_executed_value(market, held, step.levels))


def with_policy(plan: StressPlan, policy: Policy) -> StressPlan:
    """Return the plan with its market's liquidation policy replaced."""
    liquidation = attrs.evolve(plan.market.liquidation, policy=policy)
    return attrs.evolve(plan, market=attrs.evolve(plan.market, liquidation=liquidation))


def compare(plan: StressPlan, runs: int) -> dict[str, list[dict[str, int]]]:
    """Per policy, one row of figures per run (amounts in quantums, prices in ticks)."""
    units = get_population(plan)
    table: dict[str, list[dict[str, int]]] = {}
    for policy in POLICIES:
        varied = with_policy(plan, policy)
        rows = []
        for run in range(runs):
            tally = Tally(varied.market)
            result = process_run(varied, units, run, trace=tally)
            rows.append({
                "steps": tally.steps, "takeovers": tally.takeovers,
                "liquidated": result.liquidated_long + result.liquidated_short,
                "shortfall": tally.shortfall, "fees": tally.fees,
                "drawdown": result.fund_drawdown, "bad_debt": result.bad_debt,
                "adl": result.adl_notional, "low": result.mark_low,
            })  # fmt: skip
            print(f"{policy.value}: run {run + 1}/{runs}", file=sys.stderr)
        table[policy.value] = rows
    return table


def mean(values: Sequence[int]) -> Fraction:
    """Return the exact mean."""
    return Fraction(sum(values), len(values))


def render(market: Market, start: int, table: dict[str, list[dict[str, int]]]) -> dict[str, Any]:
    """Means over the runs, as decimal text of the market's units, rounded to 0.01 / 1 tick."""
    shown: dict[str, Any] = {}
    for policy, rows in table.items():
        figures: dict[str, str] = {}
        for name in FIGURES:
            if name == "dip":
                low = mean([row["low"] for row in rows])
                figures[name] = decimal_text(round((start - low) * 10_000 / start), 100) + "%"
            elif name in ("steps", "takeovers"):
                figures[name] = decimal_text(round(mean([r[name] for r in rows]) * 10), 10)
            elif name == "low":
                figures[name] = format_price(market, round(mean([r[name] for r in rows])))
            else:
                quantums = round(mean([r[name] for r in rows]))
                figures[name] = format_amount(market, quantums - quantums % _cent(market))
        shown[policy] = figures
    return shown


def _cent(market: Market) -> int:
    quantum = market.settle_quantum
    return max(1, quantum.den // (100 * quantum.num))


def plot(table: dict[str, list[dict[str, int]]], market: Market, target: Path) -> None:
    """Write one panel per figure: a bar for the mean, a dot per run."""
    import matplotlib  # noqa: PLC0415 - only for --plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    quantum = float(Fraction(market.settle_quantum.num, market.settle_quantum.den))
    asset = market.settle_asset
    panels = (
        ("shortfall", f"shortfall vs mark ({asset})"), ("drawdown", f"fund drawdown ({asset})"),
        ("bad_debt", f"bad debt ({asset})"), ("liquidated", f"liquidated notional ({asset})"),
    )  # fmt: skip
    figure, axes = plt.subplots(1, len(panels), figsize=(14, 3.6))
    names = list(table)
    for axis, (figure_name, title) in zip(axes, panels, strict=True):
        for x, policy in enumerate(names):
            values = [row[figure_name] * quantum for row in table[policy]]
            axis.bar(x, sum(values) / len(values), color="#9ab", width=0.6)
            axis.scatter([x] * len(values), values, s=8, color="#234", zorder=3)
        axis.set_xticks(range(len(names)), names)
        axis.set_title(title, fontsize=10)
    figure.suptitle("liquidation policies on one thin-book crash (bars: mean; dots: runs)")
    figure.tight_layout()
    figure.savefig(target, dpi=110)
    plt.close(figure)


def _positive(text: str) -> int:
    """Parse a whole number >= 1 (an argparse type)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: need a whole number >= 1")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparison and print it; 2 on a bad stress file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stress_file", nargs="?", default=ROOT / "spec/stress/policies.toml")
    parser.add_argument("--runs", type=_positive, help="only the first N runs of the file")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("--plot", type=Path, help="write a PNG of the figures per run")
    args = parser.parse_args(argv)
    if args.plot and not args.plot.parent.is_dir():
        print(f"error: --plot {args.plot}: no folder {args.plot.parent}", file=sys.stderr)
        return 2
    try:
        plan = load_stress(args.stress_file)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    runs = min(plan.runs, args.runs or plan.runs)
    table = compare(plan, runs)
    tick = plan.market.price_tick
    shown = render(plan.market, int(Fraction(plan.path.start) * tick.den / tick.num), table)
    if args.plot:
        plot(table, plan.market, args.plot)
    if args.json:
        print(json.dumps({"runs": runs, "policies": shown}, indent=2, sort_keys=True))
        return 0
    print(f"{plan.name}: means over {runs} runs, the same runs and population for each policy")
    print("| policy | " + " | ".join(FIGURES) + " |")
    print("|---|" + "---|" * len(FIGURES))
    for policy, figures in shown.items():
        print(f"| {policy} | " + " | ".join(figures[name] for name in FIGURES) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
