"""Proof commands: ``prove`` and ``gate`` (spec/invariants.md). z3 is imported on demand."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.cli.app import (
    EXIT_FOUND,
    EXIT_OK,
    console,
    guarded,
    load_markets,
    main,
    print_json,
)
from liqspec.model.accounts import load_account
from liqspec.model.market_files import load_market
from liqspec.model.markets import format_price
from liqspec.stress.cascade import get_population
from liqspec.stress.plan import StressPlan, load_stress
from liqspec.stress.report import stress_report, summary_markdown
from liqspec.stress.summary import get_breaches, get_summary, run_stress


@main.command("prove")
@click.argument("markets", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def prove_command(markets: tuple[Path, ...], as_json: bool) -> None:
    """Prove the invariant catalogue, and check each MARKETS file against it.

    The theorems (spec/invariants.md) hold for every parameter set that passes the market
    rules; each market file is then checked concretely: MM non-decreasing and rising no faster
    than notional (the lemma behind every liquidation price), continuity, IM >= MM, the fee
    covered, multiplier bounds, the price band, and the soundness of its liquidation and
    bankruptcy prices. Market files are read without enforcing the
    market rules, so a broken file yields a counterexample, replayed through the reference,
    instead of a load error. Z3 runs under a deterministic resource limit; "unknown" fails.

    Exit 0 when everything holds, 1 on any counterexample or unknown, 2 on bad input.
    """

    def run_all() -> int:
        from liqproofs.catalogue import run_market, run_theorems  # noqa: PLC0415 - z3 on demand

        loaded = [load_market(path, check=False) for path in markets]
        results = run_theorems()
        for market in loaded:
            results.extend(run_market(market))
        rows = [_result_row(r) for r in results]
        if as_json:
            print_json({"results": rows, "passed": all(r.holds for r in results)})
        else:
            _print_results(rows)
        return EXIT_OK if all(r.holds for r in results) else EXIT_FOUND

    guarded(as_json, run_all)


def _result_row(result: Any) -> dict[str, Any]:
    outcome = result.outcome
    return {
        "id": result.invariant.id,
        "scope": result.invariant.scope,
        "subject": result.subject,
        "result": "proved" if result.holds else type(outcome).__name__.lower(),
        "milliseconds": round(result.seconds * 1000, 1),
        "counterexample": dict(getattr(outcome, "values", ())),
        "reason": getattr(outcome, "reason", ""),
        "replay": result.replay,
    }


def _print_results(rows: list[dict[str, Any]]) -> None:
    table = Table(title="liqspec prove")
    for name in ("invariant", "scope", "subject", "result", "ms"):
        table.add_column(name, justify="right" if name == "ms" else "left")
    for row in rows:
        shown = Text(row["result"], "" if row["result"] == "proved" else "red")
        table.add_row(row["id"], row["scope"], row["subject"], shown, str(row["milliseconds"]))
    console.print(table)
    for row in rows:
        if row["result"] != "proved":
            witness = row["counterexample"] or row["reason"]
            console.print(Text.assemble((row["id"], "red"), f" on {row['subject']}: {witness}"))
            if row["replay"]:
                console.print(f"  {row['replay']}")
    failed = sum(r["result"] != "proved" for r in rows)
    console.print(f"{len(rows) - failed} passed, {failed} failed")


@main.command("gate")
@click.argument("old", type=click.Path(path_type=Path))
@click.argument("new", type=click.Path(path_type=Path))
@click.option("--positions", type=click.Path(path_type=Path), help="An account file to check.")
@click.option("--market", "other_files", multiple=True, type=click.Path(path_type=Path),
              help="Other markets the positions file trades (repeatable).")  # fmt: skip
@click.option("--price", help="Reference price of the panel (default: max_price / 200).")
@click.option(
    "--threshold",
    default="0.1",
    show_default=True,
    help="Report positions whose distance to liquidation shrinks by more than this fraction.",
)
@click.option("--stress", "stress_file", type=click.Path(path_type=Path),
              help="Also run this stress file with NEW as its market; a breached [limits] "
                   "entry fails the gate (spec/15-stress.md).")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --stress: local processes computing the runs.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of Markdown.")
def gate_command(
    *, old: Path, new: Path, positions: Path | None, other_files: tuple[Path, ...],
    price: str | None, threshold: str, stress_file: Path | None, workers: int, as_json: bool,
) -> None:  # fmt: skip
    """Gate a change of market parameters from OLD to NEW (for CI on pull requests).

    Runs every per-market check on NEW, diffs the tier tables (max leverage, maintenance
    amounts), recomputes liquidation and bankruptcy prices for a fixed panel of reference
    positions, and with --positions finds positions the change alone makes liquidatable and
    positions whose distance to liquidation shrinks by more than --threshold. Prints Markdown
    for a pull-request comment, or --json.

    With --stress, the stress file runs with NEW in place of its market (the same paths and
    population as ever, STRESS-1) and a breached [limits] entry fails the gate.

    Exit 0 when the change passes, 1 on a counterexample, a position liquidatable at once or
    a breached stress limit, 2 on bad input.
    """

    def run_gate() -> int:
        from liqproofs.gate import gate, gate_markdown  # noqa: PLC0415 - z3 on demand

        old_market = load_market(old, check=False)
        new_market = load_market(new, check=False)
        if old_market.symbol != new_market.symbol:
            detail = f"OLD is {old_market.symbol}"
            raise InputError(
                Reason.UNKNOWN_MARKET, "market.symbol", new_market.symbol, detail, str(new)
            )
        top = min(old_market.max_price, new_market.max_price)
        ticks = max(1, top // 200)
        if price is not None:
            ticks = to_units(price, old_market.price_tick, "--price", "price tick")
        if not 1 <= ticks <= top:
            shown = format_price(old_market, top)
            detail = f"must be a positive price up to both markets' max_price {shown}"
            raise InputError(Reason.OUT_OF_RANGE, "--price", price, detail)
        others = load_markets(other_files)
        snapshot = None
        if positions is not None:
            snapshot = load_account(positions, {**others, old_market.symbol: old_market})
        num, den = parse_decimal(threshold, "--threshold")
        if num < 0:
            detail = "must be a fraction >= 0 (0.1 reports shrinks of more than 10%)"
            raise InputError(Reason.OUT_OF_RANGE, "--threshold", threshold, detail)
        plan = None if stress_file is None else load_stress(stress_file, market_file=new)
        report = gate(old_market, new_market, price=ticks, snapshot=snapshot, others=others,
                      threshold=Fraction(num, den))  # fmt: skip
        if plan is not None:
            report["stress"] = _gate_stress(plan, workers)
            report["passed"] = report["passed"] and not report["stress"]["breaches"]
        if as_json:
            print_json(report)
        else:
            click.echo(gate_markdown(report), nl=False)
            if plan is not None:
                click.echo(_stress_markdown(report["stress"]), nl=False)
        return EXIT_OK if report["passed"] else EXIT_FOUND

    guarded(as_json, run_gate)


def _gate_stress(plan: StressPlan, workers: int) -> dict[str, Any]:
    """Run ``plan`` and return its summary and breaches, as ``liqspec stress --json`` does."""
    units = get_population(plan)
    results = run_stress(plan, range(plan.runs), workers=workers, units=units)
    summary = get_summary(results, plan.market, units)
    report = stress_report(plan, summary, results, get_breaches(plan, summary))
    return {key: report[key] for key in ("stress", "runs", "seed", "summary", "breaches")}


def _stress_markdown(stress: dict[str, Any]) -> str:
    title = f"### Stress test `{stress['stress']}` ({stress['runs']} runs)"
    return "\n".join(["", title, "", *summary_markdown(stress)]) + "\n"
