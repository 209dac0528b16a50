"""``liqspec stress``: Monte-Carlo runs with liquidation cascades (spec/15-stress.md).

The semantics are the engine's; this module reads the stress file, hands the runs to an
executor, and prints or writes the report.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import click
from rich.table import Table

from liqspec.backtest.inputs import Unit
from liqspec.backtest.report import to_csv, write_outputs
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import get_bundled, read_regular_file
from liqspec.cli.app import EXIT_FOUND, EXIT_OK, console, guarded, main, print_json, progress_bar
from liqspec.engine.outputs import Units, event_report, record_report
from liqspec.engine.records import Record
from liqspec.engine.state import Event, State
from liqspec.stress.cascade import (
    RunResult,
    get_path_csv,
    get_population,
    get_population_csv,
    process_run,
)
from liqspec.stress.plan import StressPlan, load_stress
from liqspec.stress.report import (
    LEVEL_COLUMNS,
    RUN_COLUMNS,
    STEP_COLUMNS,
    difference_rows,
    journal_record,
    level_rows,
    result_from_journal,
    run_row,
    step_rows,
    stress_report,
    summary_markdown,
)
from liqspec.stress.summary import get_breaches, get_differences, get_summary, run_stress

__all__ = ["stress"]

_SAMPLE = ("stress", "october.toml")


@main.command("stress")
@click.argument("stress_file", required=False, type=click.Path(path_type=Path))
@click.option("--runs", type=click.IntRange(min=1), help="Run only the first N runs of the file.")
@click.option("--run", "only_run", type=click.IntRange(min=0),
              help="Run only run K (from 0), with its steps, as it runs in a batch.")  # fmt: skip
@click.option("--trace", is_flag=True,
              help="With --run: print every engine event and its records, JSON lines.")  # fmt: skip
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local processes computing runs; the report is the same for any.")  # fmt: skip
@click.option("--scheduler", metavar="local|ADDRESS",
              help="Run on Dask distributed: 'local' starts a cluster of --workers processes; "
                   "an address such as tcp://host:8786 uses a running scheduler. Needs the "
                   "dask extra.")  # fmt: skip
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs per executor task (a run of the template takes about 3 s).")  # fmt: skip
@click.option("--compare", "compare_file", type=click.Path(path_type=Path),
              help="A second market file for the same symbol: both run the same runs and "
                   "population; the report adds the paired differences.")  # fmt: skip
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path),
              help="Continue an interrupted batch written with --out DIR: skip the runs in "
                   "DIR/runs.jsonl, compute the rest, then write the report to DIR.")  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Write summary.json, runs.csv, runs.png and report.md here; with --run, "
                   "its path.csv, population.csv, runs.csv, steps.csv, levels.csv (the "
                   "liquidation map), run.png and report.md.")  # fmt: skip
@click.option("--steps", "with_steps", is_flag=True,
              help="With --out DIR: also write every run's steps to DIR/steps/run-K.csv "
                   "(the columns of --run's steps.csv).")  # fmt: skip
@click.option("--no-plots", is_flag=True, help="With --out, skip the PNG (faster).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def stress(
    *,
    stress_file: Path | None,
    runs: int | None,
    only_run: int | None,
    trace: bool,
    workers: int,
    scheduler: str | None,
    batch: int,
    compare_file: Path | None,
    resume_dir: Path | None,
    out_dir: Path | None,
    with_steps: bool,
    no_plots: bool,
    as_json: bool,
) -> None:
    """Stress a parameter set with Monte-Carlo runs and liquidation cascades.

    Each run draws a price path from the file's generator and replays it through the engine
    over one population of positions. At every step the book is a ladder around the index
    that refills at the file's resilience; liquidations fill in it, and each fill's price is
    printed as a trade, which moves the derived mark and may liquidate more: the cascade.
    The report gives, over the runs, VaR95 and VaR99 of bad debt, LaR95 of liquidated
    notional and the share of runs in which the insurance fund ran out; and per run the
    liquidations, cascade rounds, fund drawdown, ADL and largest price impact.

    Run K's seed derives from the file's seed and K alone, so --run K replays one run of a
    batch exactly, on any machine and with any --workers. The runs go to this process, to
    --workers local processes, or with --scheduler to Dask distributed; the report is the
    same byte for byte whichever computes it.

    With --out DIR every run is appended to DIR/runs.jsonl as it completes. Ctrl-C stops
    cleanly and says how many runs were done; --resume DIR computes only the runs the journal
    lacks and writes the same report as an uninterrupted batch.

    Exit 0 when every [limits] entry holds; 1 when one is breached (CI can gate on it);
    2 for bad input, with one line naming the file, field, value and rule; 130 when
    interrupted.

    \b
    Examples:
      liqspec stress                                  # the bundled October template
      liqspec stress my-stress.toml --workers 2 --json
      liqspec stress my-stress.toml --run 3 --trace > run3.jsonl
      liqspec stress my-stress.toml --out report/
      liqspec stress my-stress.toml --scheduler tcp://10.0.0.5:8786 --batch 10
    """

    def action() -> int:
        plan = load_stress(stress_file or get_bundled(*_SAMPLE))
        if trace and only_run is None:
            raise InputError(Reason.CONFLICTING_KEYS, "--trace", "set", "--trace needs --run K")
        if only_run is not None:
            plots = out_dir is not None and not no_plots
            return _one_run(plan, only_run, trace=trace, out_dir=out_dir, plots=plots,
                            as_json=as_json)  # fmt: skip
        chosen = list(range(min(runs or plan.runs, plan.runs)))
        plans = [plan]
        if compare_file is not None:
            plans.append(_second_plan(stress_file or get_bundled(*_SAMPLE), compare_file, plan))
        folder = _folder(out_dir, resume_dir)
        if with_steps and folder is None:
            detail = "--steps writes DIR/steps/: give --out DIR (or --resume DIR)"
            raise InputError(Reason.CONFLICTING_KEYS, "--steps", "set", detail)
        steps_dir = folder / "steps" if with_steps and folder is not None else None
        journal = None if folder is None else Journal(folder, plans, resume=resume_dir is not None)
        units = get_population(plan)
        finished: list[RunResult] = []  # this invocation's runs, for the Ctrl-C message
        executor = _Executor(workers, batch, scheduler)
        try:
            done = _run_sets(plans, chosen, units, journal=journal, executor=executor,
                             finished=finished, quiet=as_json, steps_dir=steps_dir)  # fmt: skip
        except KeyboardInterrupt:
            _interrupted(len(finished), journal, folder)
            return EXIT_INTERRUPTED
        results = done[0]
        summary = get_summary(results, plan.market, units)
        breaches = get_breaches(plan, summary)
        report = stress_report(plan, summary, results, breaches)
        if compare_file is not None:
            second = get_summary(done[1], plans[1].market, units)
            second_breaches = get_breaches(plans[1], second)
            breaches = [*breaches, *second_breaches]
            report["compare"] = {
                "market": str(compare_file),
                "second": stress_report(plans[1], second, done[1], second_breaches),
                "differences": difference_rows(plan.market,
                                               get_differences(results, done[1])),
            }  # fmt: skip
        if folder is not None:
            write_outputs(folder, {
                "summary.json": json.dumps(report, indent=2, sort_keys=True) + "\n",
                "runs.csv": to_csv([run_row(plan.market, r) for r in results], RUN_COLUMNS),
                "report.md": _markdown(report, "runs.png" if not no_plots else None),
            })  # fmt: skip
            if not no_plots:
                from liqspec.stress.plots import plot_runs  # noqa: PLC0415 - loads matplotlib

                plot_runs(plan.market, results, folder / "runs.png")
        if as_json:
            print_json(report)
        else:
            _print_summary(report, workers)
        return EXIT_FOUND if breaches else EXIT_OK

    guarded(as_json, action)


@attrs.frozen
class _Executor:
    workers: int
    batch: int
    scheduler: str | None


def _run_sets(
    plans: list[StressPlan], chosen: list[int], units: tuple[Unit, ...], *,
    journal: Journal | None, executor: _Executor, finished: list[RunResult], quiet: bool,
    steps_dir: Path | None,
) -> list[list[RunResult]]:  # fmt: skip
    """Run ``chosen`` for each parameter set; journal kept runs are not run again.

    With ``steps_dir`` each run's steps are written there as it completes: ``run-K.csv``, or
    ``compare-run-K.csv`` for the compared set.
    """
    done: list[list[RunResult]] = []
    with progress_bar("stress runs", len(chosen) * len(plans), quiet=quiet) as progress:
        for index, plan in enumerate(plans):
            kept = journal.kept(index, chosen) if journal is not None else []
            todo = [k for k in chosen if k not in {r.run for r in kept}]
            write = None if journal is None else journal.writer(index)

            def record(results: list[RunResult], write: Any = write, plan: Any = plan,
                       prefix: str = "compare-" if index else "") -> None:  # fmt: skip
                finished.extend(results)
                if steps_dir is not None:
                    write_outputs(steps_dir, {
                        f"{prefix}run-{r.run}.csv": to_csv(step_rows(plan.market, r),
                                                          STEP_COLUMNS)
                        for r in results
                    })  # fmt: skip
                if write is not None:
                    write(results)

            fresh = run_stress(
                plan, todo, workers=executor.workers, batch=executor.batch,
                scheduler=executor.scheduler, units=units,
                progress=_after(progress, index * len(chosen) + len(kept)), on_results=record,
                keep_steps=steps_dir is not None,
            )  # fmt: skip
            done.append(sorted([*kept, *fresh], key=lambda r: r.run))
    return done


EXIT_INTERRUPTED = 130
"""Stopped by Ctrl-C: the shell's code for SIGINT."""


class Journal:
    """``DIR/runs.jsonl``: a header naming the parameters, then one line per completed run.

    Lines are appended and flushed as runs complete, so an interrupted batch keeps every run
    it finished, and ``--resume DIR`` computes only the others.
    """

    def __init__(self, folder: Path, plans: list[StressPlan], *, resume: bool) -> None:
        self.path = folder / "runs.jsonl"
        self.fingerprint = hashlib.sha256(repr(plans).encode()).hexdigest()
        self.done: dict[int, dict[int, RunResult]] = {index: {} for index in range(len(plans))}
        if resume:
            self._read()
        else:
            folder.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps({"fingerprint": self.fingerprint}) + "\n")

    def _read(self) -> None:
        where = str(self.path)
        lines = read_regular_file(self.path, limit=MAX_JOURNAL_BYTES).decode().splitlines()
        header = _json_line(lines[0] if lines else "", f"{where}: line 1")
        if header != {"fingerprint": self.fingerprint}:
            detail = "the journal was written for another stress file, market or --compare"
            raise InputError(Reason.CONFLICTING_KEYS, "--resume", str(self.path.parent), detail)
        for number, line in enumerate(lines[1:], start=2):
            set_index, result = result_from_journal(_json_line(line, f"{where}: line {number}"),
                                                    f"{where}: line {number}")  # fmt: skip
            if set_index not in self.done:
                detail = f"set {set_index} of a run with {len(self.done)} parameter set(s)"
                raise InputError(Reason.OUT_OF_RANGE, f"{where}: line {number}", set_index, detail)
            self.done[set_index][result.run] = result

    def kept(self, index: int, chosen: list[int]) -> list[RunResult]:
        """Return the runs of set ``index`` among ``chosen`` that the journal already holds."""
        return [self.done[index][k] for k in chosen if k in self.done[index]]

    def writer(self, index: int) -> Callable[[list[RunResult]], None]:
        """Return a function that appends the runs of set ``index`` as they complete."""

        def write(results: list[RunResult]) -> None:
            with self.path.open("a") as journal:
                for result in results:
                    journal.write(json.dumps(journal_record(index, result)) + "\n")
                    self.done[index][result.run] = result

        return write


MAX_JOURNAL_BYTES = 1 << 28
"""A journal holds about 300 bytes per run: 256 MiB is far above a million runs' worth."""


def _json_line(line: str, where: str) -> object:
    try:
        return json.loads(line)
    except ValueError:
        raise InputError(Reason.SYNTAX, where, line[:40], "not a JSON line") from None


def _folder(out_dir: Path | None, resume_dir: Path | None) -> Path | None:
    if out_dir is not None and resume_dir is not None and out_dir != resume_dir:
        detail = "--resume DIR writes its report to DIR: give --out DIR or neither"
        raise InputError(Reason.CONFLICTING_KEYS, "--out", str(out_dir), detail)
    return resume_dir or out_dir


def _interrupted(runs: int, journal: Journal | None, folder: Path | None) -> None:
    kept = "" if journal is None else f"; the journal {journal.path} keeps them"
    then = "" if journal is None else f": continue with --resume {folder}"
    click.echo(f"interrupted after {runs} runs{kept}{then}", err=True)


def _after(progress: Callable[[int], None], ahead: int) -> Callable[[int], None]:
    """Return ``progress`` counting from ``ahead`` runs already done."""
    return lambda done: progress(ahead + done)


def _second_plan(stress_file: Path, market_file: Path, first: StressPlan) -> StressPlan:
    """Load the stress file again with ``market_file`` for its market (STRESS-8)."""
    second = load_stress(stress_file, market_file=market_file)
    grid = ("symbol", "contract", "price_tick", "lot_size", "contract_value", "settle_quantum",
            "max_price")  # fmt: skip
    for name in grid:
        ours, theirs = getattr(first.market, name), getattr(second.market, name)
        if theirs != ours:
            detail = f"the runs share paths and positions: {name} must be {ours} here too"
            field = f"--compare: {name}"
            raise InputError(Reason.COMPARE_INCOMPATIBLE, field, str(theirs), detail,
                             str(market_file))  # fmt: skip
    return second


def _one_run(
    plan: StressPlan, run: int, *, trace: bool, out_dir: Path | None, plots: bool, as_json: bool
) -> int:
    if run >= plan.runs:
        detail = f"the file has runs 0 to {plan.runs - 1}"
        raise InputError(Reason.OUT_OF_RANGE, "--run", run, detail)
    units = get_population(plan)
    tracer = _tracer() if trace else None
    result = process_run(
        plan, units, run, keep_steps=True, keep_levels=out_dir is not None, trace=tracer
    )
    row = run_row(plan.market, result)
    if out_dir is not None:
        report = {"stress": plan.name, "market": plan.market.symbol, "results": [row]}
        write_outputs(out_dir, {
            "path.csv": get_path_csv(plan, run),
            "population.csv": get_population_csv(plan),
            "runs.csv": to_csv([row], RUN_COLUMNS),
            "steps.csv": to_csv(step_rows(plan.market, result), STEP_COLUMNS),
            "levels.csv": to_csv(level_rows(plan.market, result), LEVEL_COLUMNS),
            "report.md": _markdown(report, "run.png" if plots else None),
        })  # fmt: skip
        if plots:
            from liqspec.stress.plots import plot_run  # noqa: PLC0415 - loads matplotlib

            plot_run(plan.market, result, out_dir / "run.png")
    if trace:
        click.echo(json.dumps({"result": row}, sort_keys=True))
    elif as_json:
        print_json({"stress": plan.name, "result": row,
                    "steps": step_rows(plan.market, result)})  # fmt: skip
    else:
        _print_runs([row], f"{plan.name}: run {run}")
    return EXIT_OK


def _tracer() -> Callable[[int, Event, State, tuple[Record, ...]], None]:
    units: list[Units] = []

    def trace(step: int, event: Event, state: State, records: tuple[Record, ...]) -> None:
        if not units:
            units.append(Units(state))
        line = {
            "step": step,
            "event": event_report(event, units[0]),
            "records": [record_report(r, state, units[0]) for r in records],
        }
        click.echo(json.dumps(line, sort_keys=True))

    return trace


def _print_summary(report: dict[str, Any], workers: int) -> None:
    summary, asset = report["summary"], report["settle_asset"]
    covered = "covered" if summary["fund_covers_2"] else "NOT covered"
    table = Table(title=f"{report['stress']}: {report['runs']} runs on {report['market']}, "
                  f"fund {report['fund']} {asset}")  # fmt: skip
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = (
        ("VaR95 of bad debt", f"{summary['bad_debt_var95']} {asset}"),
        ("VaR99 of bad debt", f"{summary['bad_debt_var99']} {asset}"),
        ("LaR95 of liquidated notional", f"{summary['liquidated_lar95']} {asset}"),
        ("runs where the fund ran out",
         f"{summary['exhausted_runs']} ({summary['exhaustion_probability']})"),
        ("most cascade rounds in a step", str(summary["max_rounds"])),
        ("worst run", f"{summary['worst_run']} (bad debt {summary['worst_bad_debt']} {asset})"),
        ("cover 1 / cover 2 (largest units default)",
         f"{summary['cover_1']} / {summary['cover_2']} {asset} ({covered} by the fund)"),
    )  # fmt: skip
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    _print_runs(report["results"][:10], "first runs" if len(report["results"]) > 10 else "runs")
    if "compare" in report:
        _print_differences(report)
    for breach in report["breaches"]:
        console.print(f"LIMIT BREACHED: {breach['limit']} = {breach['value']} "
                      f"> {breach['allowed']}")  # fmt: skip
    if not report["breaches"]:
        console.print(f"every limit holds ({workers} worker{'s' if workers > 1 else ''})")


def _print_runs(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    shown = ("run", "liquidated_accounts", "liquidated", "bad_debt", "adl_count",
             "fund_drawdown", "max_rounds", "max_impact")  # fmt: skip
    for column in shown:
        table.add_column(column.replace("_", " "), justify="right")
    for row in rows:
        table.add_row(*(str(row[column]) for column in shown))
    console.print(table)


def _markdown(report: dict[str, Any], picture: str | None) -> str:
    """Return a Markdown report: the summary (for a batch), the runs' table and the picture."""
    lines = [f"# Stress test `{report['stress']}` on {report['market']}", ""]
    if "summary" in report:
        lines += [*summary_markdown(report), ""]
    lines += ["| " + " | ".join(RUN_COLUMNS) + " |", "|" + "---|" * len(RUN_COLUMNS)]
    lines += ["| " + " | ".join(str(row[c]) for c in RUN_COLUMNS) + " |"
              for row in report["results"]]  # fmt: skip
    if picture is not None:
        lines += ["", f"![{report['stress']}]({picture})"]
    return "\n".join(lines) + "\n"


def _print_differences(report: dict[str, Any]) -> None:
    compare, asset = report["compare"], report["settle_asset"]
    table = Table(title=f"second parameter set ({compare['market']}) minus first, per run")
    for column in ("figure", "mean", "95% interval", "lower", "equal", "higher"):
        table.add_column(column, justify="right")
    for row in compare["differences"]:
        unit = "" if row["figure"] == "liquidated_accounts" else f" {asset}"
        interval = "-" if row["low95"] is None else f"[{row['low95']}, {row['high95']}]{unit}"
        table.add_row(row["figure"].replace("_", " "), f"{row['mean']}{unit}", interval,
                      str(row["lower"]), str(row["equal"]), str(row["higher"]))  # fmt: skip
    console.print(table)
