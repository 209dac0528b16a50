"""``liqspec backtest`` and ``liqspec generate``: parameter sets replayed on price paths.

The semantics are spec/14-backtest.md; this module reads the inputs, chooses nothing the spec
does not (the route is BT-7's), and prints or writes the report.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from liqspec.backtest.generators import (
    PathModel,
    PathSpec,
    PopulationSpec,
    generate_path,
    generate_population,
    path_csv,
)
from liqspec.backtest.inputs import load_path, load_population
from liqspec.backtest.report import (
    OUTCOME_COLUMNS,
    check_interval,
    get_aggregates,
    get_comparison,
    get_outcomes,
    get_summary,
    outcome_rows,
    to_csv,
    write_outputs,
)
from liqspec.backtest.routes import Backtest, Result, get_start_prices, make_backtest, run
from liqspec.base.conventions import to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import get_bundled
from liqspec.cli.app import EXIT_OK, console, guarded, load_markets, main, print_json
from liqspec.model.market_files import load_market
from liqspec.model.markets import Market, format_price
from liqspec.model.prices import PriceResult

__all__ = ["backtest", "generate"]

_SAMPLE_MARKET = ("markets", "binance-btcusdt-2024-10-24.toml")
_SAMPLE_PATH = ("backtest", "crash-day.csv")
_SAMPLE_POPULATION = ("backtest", "population.csv")


@main.command("backtest")
@click.option("--market", "market_files", multiple=True, type=click.Path(path_type=Path),
              help="A market file (repeatable). Default: bundled BTCUSDT 2024 tiers.")  # fmt: skip
@click.option("--path", "path_files", multiple=True, metavar="[SYMBOL=]FILE",
              help="A mark path CSV time,price (repeatable: SYMBOL=FILE per market). "
                   "Default: the bundled crash day.")  # fmt: skip
@click.option("--population", type=click.Path(path_type=Path),
              help="A population CSV id,mode,market,side,size,entry_price,wallet. "
                   "Default: the bundled 1,000 positions.")  # fmt: skip
@click.option("--fund", default="0", show_default=True, metavar="AMOUNT",
              help="Starting balance of every insurance fund, in its asset.")  # fmt: skip
@click.option("--interval", default=3600, show_default=True, type=click.IntRange(min=1),
              help="Width of the aggregate intervals, in the path's time units.")  # fmt: skip
@click.option("--compare", "compare_file", type=click.Path(path_type=Path),
              help="A second market file for one symbol: run both, compare.")  # fmt: skip
@click.option("--engine", "force_engine", is_flag=True,
              help="Run the engine on every event even where the fast path applies.")  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Write positions.csv, intervals.csv, summary.json, backtest.png and "
                   "report.md here.")  # fmt: skip
@click.option("--no-plots", is_flag=True, help="With --out, skip the PNG (faster).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def backtest(
    *,
    market_files: tuple[Path, ...],
    path_files: tuple[str, ...],
    population: Path | None,
    fund: str,
    interval: int,
    compare_file: Path | None,
    force_engine: bool,
    out_dir: Path | None,
    no_plots: bool,
    as_json: bool,
) -> None:
    """Replay a mark path over a population of positions (spec/14-backtest.md).

    Every mark of the path is an engine event; the report says who was liquidated, when, at
    what price, the loss beyond bankruptcy the insurance fund absorbed, and what the fund and
    bad debt did. Where every unit holds one position, parameters stay fixed and no book
    fills, the fast path finds the same ledger without visiting every mark (BT-6); elsewhere
    the engine runs, and the summary says why (BT-7).

    \b
    Examples:
      liqspec backtest                                   # the bundled samples
      liqspec backtest --out report/                     # CSVs, PNG and report.md
      liqspec backtest --market spec/markets/binance-btcusdt-2022-02-12.toml \\
          --compare spec/markets/binance-btcusdt-2024-10-24.toml --fund 100000
      liqspec generate path --model crash --depth 0.4 --seed 7 -o path.csv
    """

    def action() -> int:
        started = time.perf_counter()
        setup = _load(market_files, path_files, population, fund)
        check_interval(setup, interval)
        result, outcomes, prices = _run(setup, force_engine, as_json)
        report: dict[str, Any] = get_summary(setup, result, outcomes)
        files = _files(
            setup,
            result=result,
            outcomes=outcomes,
            prices=prices,
            interval=interval,
            summary=report,
        )
        if compare_file is not None:
            other = _with_market(setup, compare_file)
            result_b, outcomes_b, _ = _run(other, force_engine, as_json)
            counts, rows = get_comparison(outcomes, outcomes_b)
            report["compare"] = {
                "market": str(compare_file), "changes": counts,
                "second": get_summary(other, result_b, outcomes_b),
            }  # fmt: skip
            files["compare.csv"] = to_csv(rows, ("unit", "market", "first", "second", "change"))
        if out_dir is not None:
            write_outputs(out_dir, files)
            if not no_plots:
                _plot(
                    setup,
                    result=result,
                    outcomes=outcomes,
                    prices=prices,
                    interval=interval,
                    out_dir=out_dir,
                )
        report["seconds"] = round(time.perf_counter() - started, 3)
        if as_json:
            print_json(report)
        else:
            _print_summary(report, out_dir)
        return EXIT_OK

    guarded(as_json, action)


def _load(
    market_files: tuple[Path, ...], path_files: tuple[str, ...], population: Path | None,
    fund: str,
) -> Backtest:  # fmt: skip
    markets = load_markets(market_files or (get_bundled(*_SAMPLE_MARKET),))
    paths = {}
    for entry in path_files or (str(get_bundled(*_SAMPLE_PATH)),):
        symbol, equals, file = entry.partition("=")
        if not equals:
            if len(markets) != 1:
                detail = "with several markets, name each path's market: SYMBOL=FILE"
                raise InputError(Reason.MISSING_KEY, "--path", entry, detail)
            symbol, file = next(iter(markets)), entry
        if symbol not in markets:
            raise InputError(Reason.UNKNOWN_MARKET, "--path", symbol, "no --market defines it")
        paths[symbol] = load_path(Path(file), markets[symbol])
    units = load_population(population or get_bundled(*_SAMPLE_POPULATION), markets)
    funds = {}
    for market in markets.values():
        amount = to_units(fund, market.settle_quantum, "--fund", "settlement quantum")
        if amount < 0:
            detail = "a fund is never negative (INS-2)"
            raise InputError(Reason.NEGATIVE_BALANCE, "--fund", fund, detail)
        funds[market.fund] = amount
    return make_backtest(markets, paths, units, funds)


def _with_market(setup: Backtest, file: Path) -> Backtest:
    market = load_market(file)
    if market.symbol not in setup.markets:
        detail = f"compare a market the run has: {', '.join(setup.markets)}"
        raise InputError(Reason.UNKNOWN_MARKET, "--compare", market.symbol, detail, str(file))
    markets = {**setup.markets, market.symbol: market}
    return make_backtest(markets, setup.paths, setup.units, setup.funds)


def _run(
    setup: Backtest, force_engine: bool, quiet: bool
) -> tuple[Result, dict[tuple[str, str], Any], dict[tuple[str, str], PriceResult]]:
    prices = get_start_prices(setup)
    with _progress(len(setup.times), quiet) as advance:
        result = run(setup, engine=force_engine, progress=advance, prices=prices)
    return result, get_outcomes(setup, result), prices


@contextmanager
def _progress(total: int, quiet: bool) -> Iterator[Callable[[int], None]]:
    """Show a progress bar on stderr for the engine route, when stderr is a terminal."""
    err = Console(stderr=True)
    columns = (TextColumn("engine route: marks"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(
        *columns, console=err, transient=True, disable=quiet or not err.is_terminal
    ) as bar:
        task = bar.add_task("marks", total=total)
        yield lambda done: bar.update(task, completed=done)


def _files(
    setup: Backtest, *, result: Result, outcomes: dict[tuple[str, str], Any],
    prices: dict[tuple[str, str], PriceResult], interval: int, summary: dict[str, Any],
) -> dict[str, str]:  # fmt: skip
    aggregates = get_aggregates(setup, result, interval)
    return {
        "positions.csv": to_csv(outcome_rows(setup, outcomes, prices), OUTCOME_COLUMNS),
        "intervals.csv": to_csv(aggregates),
        "summary.json": json.dumps(summary, indent=2, sort_keys=True) + "\n",
        "report.md": _markdown(summary),
    }


def _plot(
    setup: Backtest, *, result: Result, outcomes: dict[tuple[str, str], Any],
    prices: dict[tuple[str, str], PriceResult], interval: int, out_dir: Path,
) -> None:  # fmt: skip
    from liqspec.backtest.plots import plot_backtest  # noqa: PLC0415 - matplotlib loads slowly

    aggregates = get_aggregates(setup, result, interval)
    plot_backtest(
        setup,
        result=result,
        outcomes=outcomes,
        prices=prices,
        aggregates=aggregates,
        target=out_dir / "backtest.png",
    )


def _markdown(summary: dict[str, Any]) -> str:
    lines = ["# Backtest report", "", f"Route: **{summary['route']}**."]
    lines.extend(f"- {reason}" for reason in summary["reasons"])
    lines += ["", "| outcome | positions |", "|---|---|"]
    lines.extend(f"| {name} | {count} |" for name, count in summary["outcomes"].items())
    lines += ["", "| fund | start | end | lowest | notional closed | shortfall | bad debt |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for fund, f in summary["funds"].items():
        cells = (fund, f["start"], f["end"], f["lowest"], f["liquidated_notional"],
                 f["shortfall"], f["bad_debt"])  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "![mark path, fund, notional closed, liquidation distance](backtest.png)", ""]
    return "\n".join(lines)


def _print_summary(report: dict[str, Any], out_dir: Path | None) -> None:
    runs = [("", report)]
    if "compare" in report:
        runs = [("first: ", report), ("second: ", report["compare"]["second"])]
    table = Table(title=f"backtest: {report['points']} marks, {report['positions']} positions")
    for name in ("run", "route", "liquidated", "flagged", "deleveraged", "safe", "fund",
                 "end", "lowest", "shortfall", "bad debt"):  # fmt: skip
        table.add_column(name, overflow="fold")
    for label, summary in runs:
        for fund, f in summary["funds"].items():
            o = summary["outcomes"]
            table.add_row(label.rstrip(": ") or "-", summary["route"], str(o["liquidated"]),
                          str(o["flagged"]), str(o["deleveraged"]), str(o["safe"]), fund,
                          f["end"], f["lowest"], f["shortfall"], f["bad_debt"])  # fmt: skip
    console.print(table)
    for label, summary in runs:
        for reason in summary["reasons"]:
            console.print(f"{label}engine route: {reason}")
    if "compare" in report:
        changes = report["compare"]["changes"]
        console.print("second vs first: " + ", ".join(f"{k} {v}" for k, v in changes.items()))
    if out_dir is not None:
        console.print(f"wrote {out_dir}/ (positions.csv, intervals.csv, summary.json, report.md)")
    console.print(f"{report['seconds']} s")


# --- generators ----------------------------------------------------------------------------------


@main.group("generate")
def generate() -> None:
    """Seeded mark paths and populations for backtests (BT-8), written as CSV."""


@generate.command("path")
@click.option("--market", "market_file", type=click.Path(path_type=Path),
              help="The market whose price grid the path uses. Default: BTCUSDT 2024.")  # fmt: skip
@click.option("--model", type=click.Choice([m.value for m in PathModel]), default="gbm",
              show_default=True, help="gbm with jumps, volatility regimes, or crash.")  # fmt: skip
@click.option("--points", default=1440, show_default=True, type=click.IntRange(2, 10_000_000))
@click.option("--step", default=60, show_default=True, type=click.IntRange(min=1),
              help="Time between marks, in seconds.")  # fmt: skip
@click.option("--start", default="60000", show_default=True, help="The first price.")
@click.option("--volatility", default=0.6, show_default=True, type=click.FloatRange(0, 20),
              help="Annualised volatility.")  # fmt: skip
@click.option("--jump-rate", default=2.0, show_default=True, type=click.FloatRange(0, 1e4),
              help="Expected jumps per day.")  # fmt: skip
@click.option("--depth", default=0.3, show_default=True, type=click.FloatRange(0, 0.99),
              help="crash: the fall, as a fraction of the price.")  # fmt: skip
@click.option("--recovery", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="crash: the share of the fall won back.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here, not stdout.")
def generate_path_command(
    *, market_file: Path | None, model: str, points: int, step: int, start: str,
    volatility: float, jump_rate: float, depth: float, recovery: float, seed: int,
    output: Path | None,
) -> None:  # fmt: skip
    """Write a seeded mark path CSV (time,price) on a market's price grid.

    \b
    Example:
      liqspec generate path --model crash --depth 0.4 --points 1440 --seed 7 -o crash.csv
    """

    def action() -> int:
        market = load_market(market_file or get_bundled(*_SAMPLE_MARKET))
        _check_price(market, start, "--start")
        spec = PathSpec(PathModel(model), points, step, start, volatility, jump_rate,
                        depth=depth, recovery=recovery)  # fmt: skip
        times, ticks = generate_path(market, spec, seed)
        _emit(path_csv(market, times, ticks), output)
        return EXIT_OK

    guarded(False, action)  # noqa: FBT003


@generate.command("population")
@click.option("--market", "market_file", type=click.Path(path_type=Path),
              help="The market of the positions. Default: bundled BTCUSDT 2024.")  # fmt: skip
@click.option("--positions", default=1000, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--entry", default="60000", show_default=True,
              help="The entry price of every position (the path's first price).")  # fmt: skip
@click.option("--median-notional", default="20000", show_default=True,
              help="Median notional in the quote asset (lognormal).")  # fmt: skip
@click.option("--leverage", default=10.0, show_default=True, type=click.FloatRange(1, 1000),
              help="Median leverage (lognormal), capped by the tier's maximum.")  # fmt: skip
@click.option("--long-share", default=0.6, show_default=True, type=click.FloatRange(0, 1))
@click.option("--isolated-share", default=0.7, show_default=True, type=click.FloatRange(0, 1))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write here, not stdout.")
def generate_population_command(
    *, market_file: Path | None, positions: int, entry: str, median_notional: str,
    leverage: float, long_share: float, isolated_share: float, seed: int, output: Path | None,
) -> None:  # fmt: skip
    """Write a seeded population CSV: sizes, leverage, sides, cross or isolated.

    \b
    Example:
      liqspec generate population --positions 10000 --leverage 20 --seed 3 -o pop.csv
    """

    def action() -> int:
        market = load_market(market_file or get_bundled(*_SAMPLE_MARKET))
        ticks = _check_price(market, entry, "--entry")
        if to_units(median_notional, market.settle_quantum, "--median-notional", "quantum") <= 0:
            detail = "a median notional is positive"
            raise InputError(Reason.OUT_OF_RANGE, "--median-notional", median_notional, detail)
        spec = PopulationSpec(positions, median_notional, leverage, long_share, isolated_share)
        _emit(generate_population(market, ticks, spec, seed), output)
        return EXIT_OK

    guarded(False, action)  # noqa: FBT003


def _check_price(market: Market, text: str, option: str) -> int:
    ticks = to_units(text, market.price_tick, option, "price tick")
    if not 1 <= ticks <= market.max_price:
        detail = (
            f"a price is positive and at most max_price {format_price(market, market.max_price)}"
        )
        raise InputError(Reason.PRICE_OUT_OF_DOMAIN, option, text, detail)
    return ticks


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
