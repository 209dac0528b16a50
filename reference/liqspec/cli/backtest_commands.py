"""``liqspec backtest`` and ``liqspec generate``: parameter sets replayed on price paths.

The semantics are spec/14-backtest.md; this module reads the inputs, chooses nothing the spec
does not (the route is BT-7's), and prints or writes the report.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import attrs
import click
from rich.table import Table

from liqspec.backtest.generators import (
    PathModel,
    PathSpec,
    PopulationSpec,
    generate_path,
    generate_population,
    path_csv,
)
from liqspec.backtest.inputs import MAX_TICKS, MarkPath, load_path, load_population
from liqspec.backtest.report import (
    OUTCOME_COLUMNS,
    check_interval,
    get_aggregates,
    get_comparison,
    get_outcomes,
    get_summary,
    interval_rows,
    outcome_rows,
    to_csv,
    write_outputs,
)
from liqspec.backtest.routes import Backtest, Result, get_start_prices, make_backtest, run
from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import get_bundled
from liqspec.cli.app import EXIT_OK, console, guarded, load_markets, main, print_json, progress_bar
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
    bad debt did. There is no book: every close is a takeover at the bankruptcy price.

    The population is CSV, id,mode,market,side,size,entry_price,wallet: the cross lines of
    one id form one margin unit with one wallet; each isolated line is a unit of its own.
    --fund gives every insurance fund the same starting balance.

    Where every unit holds one position on a continuous-tier market without risk adjustment
    or breakers, and the fund covers every deficit, the fast path finds the engine's result
    from each position's liquidation price (BT-6); elsewhere the engine replays every mark,
    with a progress bar, and the summary says why (BT-7). With --compare the second market
    file replaces its symbol's and everything runs again: "first" is the run of --market.

    Exit 0 after a run; 2 for bad input, with one line naming the file, line, field, value
    and rule.

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
        inputs = _Inputs(market_files, path_files, population, fund)
        setup = inputs.load()
        check_interval(setup, interval)
        if compare_file is not None:  # refuse a bad second file before the first run
            other = inputs.load(compare_file)
        result, outcomes, prices = _run(setup, force_engine, as_json)
        report: dict[str, Any] = get_summary(setup, result, outcomes)
        files = _files(setup, result=result, outcomes=outcomes, prices=prices, interval=interval)
        if compare_file is not None:
            result_b, outcomes_b, _ = _run(other, force_engine, as_json)
            counts, rows = get_comparison(outcomes, outcomes_b)
            report["compare"] = {
                "market": str(compare_file), "changes": counts,
                "second": get_summary(other, result_b, outcomes_b),
            }  # fmt: skip
            files["compare.csv"] = to_csv(rows, ("unit", "market", "first", "second", "change"))
        report["seconds"] = round(time.perf_counter() - started, 3)
        files["summary.json"] = json.dumps(report, indent=2, sort_keys=True) + "\n"
        plotted = out_dir is not None and not no_plots
        files["report.md"] = _markdown(report, plotted=plotted)
        if out_dir is not None:
            write_outputs(out_dir, files)
            if plotted:
                _plot(setup, result=result, outcomes=outcomes, prices=prices,
                      interval=interval, out_dir=out_dir)  # fmt: skip
                files["backtest.png"] = ""
        if as_json:
            print_json(report)
        else:
            _print_summary(report, out_dir, sorted(files) if out_dir is not None else [])
        return EXIT_OK

    guarded(as_json, action)


@attrs.frozen
class _Inputs:
    """The files a backtest names, loaded once per parameter set (BT-1..BT-3)."""

    market_files: tuple[Path, ...]
    path_files: tuple[str, ...]
    population: Path | None
    fund: str

    def load(self, replacement: Path | None = None) -> Backtest:
        """Load every input; with ``replacement``, that market file in place of its symbol's."""
        files = self.market_files or (get_bundled(*_SAMPLE_MARKET),)
        markets = load_markets(files)
        sources = {
            market.symbol: str(file) for market, file in zip(markets.values(), files, strict=True)
        }
        if replacement is not None:
            market = load_market(replacement)
            if market.symbol not in markets:
                detail = f"compare a market the run has: {', '.join(markets)}"
                raise InputError(Reason.UNKNOWN_MARKET, "--compare", market.symbol, detail,
                                 str(replacement))  # fmt: skip
            markets[market.symbol], sources[market.symbol] = market, str(replacement)
        paths, path_sources = self._paths(markets)
        units = load_population(self.population or get_bundled(*_SAMPLE_POPULATION), markets)
        funds = {market.fund: self._fund(market) for market in markets.values()}
        try:
            return make_backtest(markets, paths, units, funds)
        except InputError as error:  # name the file the field belongs to
            kind, _, symbol = error.field.partition(":")[0].partition(".")
            source = (path_sources if kind == "path" else sources).get(symbol)
            raise error.located(source) if source else error from None

    def _paths(self, markets: dict[str, Market]) -> tuple[dict[str, MarkPath], dict[str, str]]:
        paths: dict[str, MarkPath] = {}
        sources: dict[str, str] = {}
        for entry in self.path_files or (str(get_bundled(*_SAMPLE_PATH)),):
            symbol, equals, file = entry.partition("=")
            if not equals or symbol not in markets:  # a file name may hold "=" too
                if len(markets) != 1:
                    detail = "with several markets, name each path's market: SYMBOL=FILE"
                    raise InputError(Reason.MISSING_KEY, "--path", entry, detail)
                symbol, file = next(iter(markets)), entry
            if not file:
                raise InputError(Reason.MISSING_KEY, "--path", entry, "SYMBOL=FILE needs a file")
            if symbol in paths:
                detail = f"two paths for {symbol}: {sources[symbol]} and {file}"
                raise InputError(Reason.DUPLICATE_MARKET, "--path", entry, detail)
            paths[symbol], sources[symbol] = load_path(Path(file), markets[symbol]), file
        return paths, sources

    def _fund(self, market: Market) -> int:
        amount = to_units(self.fund, market.settle_quantum, "--fund", "settlement quantum")
        if amount < 0:
            detail = "a fund is never negative (INS-2)"
            raise InputError(Reason.NEGATIVE_BALANCE, "--fund", self.fund, detail)
        return amount


def _run(
    setup: Backtest, force_engine: bool, quiet: bool
) -> tuple[Result, dict[tuple[str, str], Any], dict[tuple[str, str], PriceResult]]:
    prices = get_start_prices(setup)
    with progress_bar("engine route: marks", len(setup.times), quiet=quiet) as advance:
        result = run(setup, engine=force_engine, progress=advance, prices=prices)
    return result, get_outcomes(setup, result), prices


def _files(
    setup: Backtest, *, result: Result, outcomes: dict[tuple[str, str], Any],
    prices: dict[tuple[str, str], PriceResult], interval: int,
) -> dict[str, str]:  # fmt: skip
    aggregates = get_aggregates(setup, result, interval)
    return {
        "positions.csv": to_csv(outcome_rows(setup, outcomes, prices), OUTCOME_COLUMNS),
        "intervals.csv": to_csv(interval_rows(setup, aggregates)),
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


def _markdown(summary: dict[str, Any], *, plotted: bool) -> str:
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
    if plotted:
        lines += ["", "![mark path, fund, notional closed, liquidation distance](backtest.png)"]
    if "compare" in summary:
        changes = summary["compare"]["changes"]
        listed = ", ".join(f"{k} {v}" for k, v in changes.items())
        market = summary["compare"]["market"]
        lines += ["", f"Compared with {market} (the second run): {listed} (compare.csv)."]
    lines.append("")
    return "\n".join(lines)


def _print_summary(report: dict[str, Any], out_dir: Path | None, written: list[str]) -> None:
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
        console.print(f"wrote {out_dir}/ ({', '.join(written)})")
    console.print(f"{report['seconds']} s")


# --- generators ----------------------------------------------------------------------------------


@main.group("generate")
def generate() -> None:
    """Seeded mark paths and populations for backtests (BT-8), written as CSV."""


_SEED = click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0),
                     help="The seed: one seed, one file (on one numpy version).")  # fmt: skip
_OUTPUT = click.option("-o", "--output", type=click.Path(path_type=Path),
                       help="Write here, not stdout.")  # fmt: skip


@generate.command("path")
@click.option("--market", "market_file", type=click.Path(path_type=Path),
              help="The market whose price grid the path uses. Default: BTCUSDT 2024.")  # fmt: skip
@click.option("--model", type=click.Choice([m.value for m in PathModel]), default="gbm",
              show_default=True,
              help="gbm with jumps, volatility regimes, crash, two-legs, or bridge.")  # fmt: skip
@click.option("--points", default=1440, show_default=True, type=click.IntRange(2, 10_000_000),
              help="Marks to write (525600: a year of minutes).")  # fmt: skip
@click.option("--step", default=60, show_default=True, type=click.IntRange(min=1),
              help="Seconds between marks; times start at 0.")  # fmt: skip
@click.option("--start", default="60000", show_default=True, help="The first price.")
@click.option("--volatility", default=0.6, show_default=True, type=click.FloatRange(0, 20),
              help="Annualised volatility (a year of 365 days of seconds).")  # fmt: skip
@click.option("--jump-rate", default=2.0, show_default=True, type=click.FloatRange(0, 1e4),
              help="Expected jumps per day.")  # fmt: skip
@click.option("--jump-size", default=0.02, show_default=True, type=click.FloatRange(0, 1),
              help="Standard deviation of a jump's log return.")  # fmt: skip
@click.option("--storm", default=3.0, show_default=True, type=click.FloatRange(1, 100),
              help="regimes: stormy volatility as a multiple of the calm one.")  # fmt: skip
@click.option("--switch", default=0.002, show_default=True, type=click.FloatRange(0, 1),
              help="regimes: the chance per step of switching regime.")  # fmt: skip
@click.option("--crash-at", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="crash: where the fall starts, as a fraction of the path.")  # fmt: skip
@click.option("--depth", default=0.3, show_default=True, type=click.FloatRange(0, 0.99),
              help="crash: the fall, as a fraction of the price.")  # fmt: skip
@click.option("--fall", default=30, show_default=True, type=click.IntRange(min=1),
              help="crash: steps the fall takes.")  # fmt: skip
@click.option("--recovery", default=0.5, show_default=True, type=click.FloatRange(0, 1),
              help="crash: the share of the fall won back.")  # fmt: skip
@click.option("--recover", default=240, show_default=True, type=click.IntRange(min=0),
              help="crash, two-legs: steps the recovery takes.")  # fmt: skip
@click.option("--pause", default=30, show_default=True, type=click.IntRange(min=0),
              help="two-legs: steps between the legs.")  # fmt: skip
@_SEED
@_OUTPUT
def generate_path_command(
    *, market_file: Path | None, model: str, points: int, step: int, start: str,
    volatility: float, jump_rate: float, jump_size: float, storm: float, switch: float,
    crash_at: float, depth: float, fall: int, recovery: float, recover: int, pause: int,
    seed: int, output: Path | None,
) -> None:  # fmt: skip
    """Write a seeded mark path CSV (time,price) on a market's price grid (BT-8).

    Log returns are normal with the given volatility, plus Poisson jumps; `regimes` switches
    the volatility between calm and stormy; `crash` adds a fall of --depth over --fall steps
    starting at --crash-at, then wins back --recovery of it over --recover steps; `two-legs`
    falls in two equal legs (in log terms) of --fall steps, --pause steps apart; `bridge`
    pins the path to end --depth below --start. Prices are rounded to the tick and kept
    within the market's price domain.

    \b
    Example:
      liqspec generate path --model crash --depth 0.4 --points 1440 --seed 7 -o crash.csv
    """

    def action() -> int:
        market = load_market(market_file or get_bundled(*_SAMPLE_MARKET))
        _check_grid(market)
        _check_price(market, start, "--start")
        if (points - 1) * step >= 10**18:
            detail = "the last time, (points - 1) x step, must have at most 18 digits (BT-1)"
            raise InputError(Reason.OUT_OF_RANGE, "--step", step, detail)
        spec = PathSpec(
            model=PathModel(model), points=points, step=step, start=start,
            volatility=volatility, jump_rate=jump_rate, jump_size=jump_size, storm=storm,
            switch=switch, crash_at=crash_at, depth=depth, fall=fall, recovery=recovery,
            recover=recover, pause=pause,
        )  # fmt: skip
        times, ticks = generate_path(market, spec, seed)
        _emit(path_csv(market, times, ticks), output)
        return EXIT_OK

    guarded(False, action)  # noqa: FBT003


@generate.command("population")
@click.option("--market", "market_file", type=click.Path(path_type=Path),
              help="The market of the positions. Default: bundled BTCUSDT 2024.")  # fmt: skip
@click.option("--positions", default=1000, show_default=True, type=click.IntRange(1, 1_000_000),
              help="How many positions (lines) to write.")  # fmt: skip
@click.option("--entry", default="60000", show_default=True,
              help="The entry price of every position (the path's first price).")  # fmt: skip
@click.option("--median-notional", default="20000", show_default=True,
              help="Median notional in the quote asset (lognormal, sigma 1.5).")  # fmt: skip
@click.option("--leverage", default=10.0, show_default=True, type=click.FloatRange(1, 1000),
              help="Median leverage (lognormal, sigma 0.8), capped by the tier's.")  # fmt: skip
@click.option("--long-share", default=0.6, show_default=True, type=click.FloatRange(0, 1),
              help="The chance that a position is long.")  # fmt: skip
@click.option("--isolated-share", default=0.7, show_default=True, type=click.FloatRange(0, 1),
              help="The chance that a position is isolated (else its own cross unit).")  # fmt: skip
@click.option("--whales", default=0, show_default=True, type=click.IntRange(0, 1_000_000),
              help="Large cross accounts added after the others (ids w0, w1, ...).")  # fmt: skip
@click.option("--whale-notional", default="5000000", show_default=True,
              help="Each large account's notional, in the quote asset.")  # fmt: skip
@_SEED
@_OUTPUT
def generate_population_command(
    *, market_file: Path | None, positions: int, entry: str, median_notional: str,
    leverage: float, long_share: float, isolated_share: float, whales: int,
    whale_notional: str, seed: int, output: Path | None,
) -> None:  # fmt: skip
    """Write a seeded population CSV (id,mode,market,side,size,entry_price,wallet) (BT-8).

    Each position is opened at --entry; its wallet is its value at entry over its leverage,
    rounded up to the settlement quantum (the initial margin at that leverage). Ids are p0,
    p1, ...; each cross line is a unit of its own. --whales adds that many cross accounts
    of --whale-notional each (ids w0, w1, ...), drawn after the others so that the other
    lines stay the same: the concentration of a few large accounts.

    \b
    Example:
      liqspec generate population --positions 10000 --leverage 20 --seed 3 -o pop.csv
    """

    def action() -> int:
        market = load_market(market_file or get_bundled(*_SAMPLE_MARKET))
        _check_grid(market)
        ticks = _check_price(market, entry, "--entry")
        for option, text in (("--median-notional", median_notional),
                             ("--whale-notional", whale_notional)):  # fmt: skip
            num, _ = parse_decimal(text, option)
            if num <= 0:
                raise InputError(Reason.OUT_OF_RANGE, option, text, "a notional is positive")
        spec = PopulationSpec(positions, median_notional, leverage, long_share, isolated_share,
                              whales, whale_notional)  # fmt: skip
        _emit(generate_population(market, ticks, spec, seed), output)
        return EXIT_OK

    guarded(False, action)  # noqa: FBT003


def _check_grid(market: Market) -> None:
    if market.max_price >= MAX_TICKS:
        detail = f"a backtest keeps marks as 64-bit integers: max_price below {MAX_TICKS} ticks"
        raise InputError(Reason.OUT_OF_RANGE, "max_price", market.max_price, detail)


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
