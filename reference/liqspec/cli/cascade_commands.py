"""``liqspec cascade``: a state's exact liquidation map and what shocks set off (spec/15-stress.md).

The semantics are :mod:`liqspec.stress.prediction`'s; this module reads the scenario and the
shocks, and prints or draws the report.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from liqspec.base.conventions import parse_decimal
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import get_bundled
from liqspec.cli.app import EXIT_FOUND, EXIT_OK, console, guarded, main, print_json
from liqspec.engine.scenarios import load_scenario
from liqspec.stress.prediction import predict
from liqspec.stress.report import cascade_report

__all__ = ["cascade"]

_SAMPLE = ("scenarios", "cascade-two-rounds.toml")
_SHOCKS = ("-1", "-2", "-5", "-10", "-20")
_SCAN = "-0.5:-30:-0.5"
_MOST_SHOCKS = 1000


@main.command("cascade")
@click.argument("scenario_file", required=False, type=click.Path(path_type=Path))
@click.option("--market", "symbol", metavar="SYMBOL",
              help="The market to shock (default: the scenario's only market).")  # fmt: skip
@click.option("--shock", "shocks", multiple=True, metavar="PERCENT",
              help="A shock of the index in percent, signed: -10 is a 10% fall. Repeatable; "
              f"default {', '.join(_SHOCKS)}.")  # fmt: skip
@click.option("--scan", metavar="FROM:TO:STEP", default=_SCAN, show_default=True,
              help="The shocks (percent) searched for the thresholds.")  # fmt: skip
@click.option("--gate", metavar="PERCENT",
              help="Exit 1 if a scanned shock smaller than this exhausts the fund or "
              "triggers ADL.")  # fmt: skip
@click.option("--levels", type=click.IntRange(min=1), default=12, show_default=True,
              help="Liquidation prices shown, the nearest the reference.")  # fmt: skip
@click.option("--plot", "plot_file", type=click.Path(path_type=Path),
              help="Draw the map and the cascades' paths to this PNG.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def cascade(
    *,
    scenario_file: Path | None,
    symbol: str | None,
    shocks: tuple[str, ...],
    scan: str,
    gate: str | None,
    levels: int,
    plot_file: Path | None,
    as_json: bool,
) -> None:
    """Map where a state's positions liquidate, and run the cascades that shocks set off.

    The state is a scenario file's starting state (markets, marks, books, funds, accounts);
    its events are not played. The map lists, per liquidation price, the notional that
    becomes liquidatable there, by side and cumulative from the reference price: exact, from
    each unit's own liquidation price (STRESS-9). A shock moves the index and the book by a
    share, prints a trade at the new index and lets the engine's liquidations fill in the
    book, each fill printed as the next trade, until the mark stops: the stress chapter's
    cascade (STRESS-10). The report gives each shock's final mark, rounds, liquidated
    notional, the fund's loss, what deficits needed beyond the fund (ADL, socialized, bad
    debt), and, over the --scan shocks, the smallest that exhausts the fund and the smallest
    that triggers ADL (STRESS-11).

    Exit 0, or 1 when --gate is given and breached; 2 for bad input.

    \b
    Examples:
      liqspec cascade                                    # the bundled cascade scenario
      liqspec cascade state.toml --shock -5 --shock -15 --json
      liqspec cascade state.toml --scan 1:40:1           # upward shocks, for the shorts
      liqspec cascade state.toml --gate 10               # CI: no exhaustion within 10%
      liqspec cascade state.toml --plot cascade.png
    """

    def action() -> int:
        scenario = load_scenario(scenario_file or get_bundled(*_SAMPLE))
        state = scenario.state
        chosen = _market(sorted(state.markets), symbol)
        asked = [_percent(text, "--shock") for text in shocks or _SHOCKS]
        prediction = predict(state, chosen, asked, _scan(scan))
        limit = None if gate is None else abs(_percent(gate, "--gate"))
        report = cascade_report(prediction)
        breached = [
            t.name
            for t in prediction.thresholds
            if limit is not None and t.shock is not None and abs(t.shock) < limit
        ]
        report["gate"] = None if gate is None else {"percent": gate, "breached": breached}
        if plot_file is not None:
            from liqspec.stress.plots import plot_cascade  # noqa: PLC0415 - loads matplotlib

            plot_cascade(prediction.market, prediction.levels, prediction.shocks, plot_file)
        if as_json:
            print_json(report)
        else:
            _print(report, levels)
        return EXIT_FOUND if breached else EXIT_OK

    guarded(as_json, action)


def _market(symbols: list[str], symbol: str | None) -> str:
    if symbol is None:
        if len(symbols) == 1:
            return symbols[0]
        detail = f"the scenario has several markets: choose one of {', '.join(symbols)}"
        raise InputError(Reason.MISSING_KEY, "--market", None, detail)
    if symbol not in symbols:
        detail = f"not among the scenario's markets ({', '.join(symbols)})"
        raise InputError(Reason.UNKNOWN_MARKET, "--market", symbol, detail)
    return symbol


def _percent(text: str, field: str) -> Fraction:
    """Return a signed percentage as a share; above -100% and at most +1000% (STRESS-10)."""
    num, den = parse_decimal(text, field)
    share = Fraction(num, den * 100)
    if not -1 < share <= 10:
        raise InputError(Reason.OUT_OF_RANGE, field, text, "a percentage above -100, at most 1000")
    return share


def _scan(text: str) -> list[Fraction]:
    """Return the shocks of FROM:TO:STEP: FROM, FROM + STEP, ... up to TO (STRESS-11)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise InputError(Reason.NOT_A_DECIMAL, "--scan", text, "FROM:TO:STEP, in percent")
    start, stop, step = (_percent(part, "--scan") for part in parts)
    if step == 0 or (stop - start) * step < 0:
        detail = "STEP must be non-zero and go from FROM toward TO"
        raise InputError(Reason.OUT_OF_RANGE, "--scan", text, detail)
    count = int((stop - start) / step) + 1
    if count > _MOST_SHOCKS:
        detail = f"at most {_MOST_SHOCKS} shocks"
        raise InputError(Reason.MAGNITUDE, "--scan", text, detail)
    shocks = [start + k * step for k in range(count)]
    if any(abs(b) < abs(a) for a, b in pairwise(shocks)):
        detail = "the shocks must grow in size: FROM and TO on one side of 0"
        raise InputError(Reason.OUT_OF_RANGE, "--scan", text, detail)
    return shocks


def _print(report: dict[str, Any], shown: int) -> None:
    asset = report["settle_asset"]
    console.print(
        f"{report['market']}: reference price {report['reference_price']}, "
        f"mark {report['mark']}; amounts in {asset}"
    )
    rows = sorted(
        report["map"],
        key=lambda row: abs(Fraction(row["price"]) - Fraction(report["reference_price"])),
    )[:shown]
    table = Table(title=f"liquidation map: the {len(rows)} prices nearest the reference")
    for name in ("price", "long", "long, cumulative", "short", "short, cumulative"):
        table.add_column(name, justify="right")
    for row in sorted(rows, key=lambda r: Fraction(r["price"]), reverse=True):
        table.add_row(row["price"], row["long"], row["long_cumulative"], row["short"],
                      row["short_cumulative"])  # fmt: skip
    console.print(table)
    shocks = Table(title="cascades")
    columns = ("shock %", "index", "final mark", "rounds", "accounts", "liquidated",
               "map walk", "fund loss", "beyond the fund", "exhausted")  # fmt: skip
    for name in columns:
        shocks.add_column(name, justify="right")
    for row in report["shocks"]:
        shocks.add_row(
            row["shock_percent"], row["index"], row["mark"], str(row["rounds"]),
            str(row["liquidated_accounts"]), row["liquidated"], row["map_walk"], row["fund_loss"],
            row["adl_need"], "yes" if row["exhausted"] else "no",
        )  # fmt: skip
    console.print(shocks)
    scanned = report["scan"]["shocks_percent"]
    span = f"{scanned[0]}% to {scanned[-1]}%" if scanned else "nothing"
    for threshold in report["scan"]["thresholds"]:
        found = threshold["shock_percent"]
        what = "never, within the scan" if found is None else f"at {found}%"
        trust = "" if threshold["monotone"] else " (not monotone: a larger shock escapes it)"
        console.print(f"{threshold['name']}: {what} (scanned {span}){trust}")
    if report["gate"] is not None:
        breached = report["gate"]["breached"]
        verdict = f"breached: {', '.join(breached)}" if breached else "holds"
        console.print(f"gate {report['gate']['percent']}%: {verdict}")
