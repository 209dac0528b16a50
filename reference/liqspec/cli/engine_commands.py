"""Commands on files: ``check-market``, ``margin`` and ``run``, and their tables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from liqspec.audit.log import get_log_lines
from liqspec.backtest.report import write_outputs
from liqspec.cli.app import (
    EXIT_FOUND,
    EXIT_OK,
    console,
    guarded,
    load_markets,
    main,
    print_json,
)
from liqspec.engine.outputs import account_report, market_report, scenario_report
from liqspec.engine.scenarios import load_scenario
from liqspec.model.accounts import load_account
from liqspec.model.market_files import load_market


@main.command("check-market")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def check_market(files: tuple[Path, ...], as_json: bool) -> None:
    """Validate market parameter FILES and print their tier tables.

    Each FILE is a TOML market file (spec/02-markets.md). The table shows, per tier, the
    notional range, the maintenance and initial margin rates, the maximum leverage and the
    maintenance amount derived by the recursion of MARKET-10. Exits 2 on the first file that
    breaks a rule, naming the field, the value and the rule.
    """

    def run() -> int:
        markets = [load_market(path) for path in files]
        if as_json:
            print_json({"markets": [market_report(m) for m in markets]})
        else:
            for market in markets:
                _print_market(market_report(market))
        return EXIT_OK

    guarded(as_json, run)


def _print_market(report: dict[str, Any]) -> None:
    source = report["source"]
    console.print(
        Text.assemble(
            (report["symbol"], "bold"),
            f"  {report['contract']}, settles in {report['settle_asset']}, "
            f"{report['tier_mode']} tiers, trigger {report['trigger']}, "
            f"margins at {report['margin_valuation']} value",
        )
    )
    console.print(f"  source: {source['venue']}, {source['reference']} (as of {source['as_of']})")
    console.print(
        f"  tick {report['price_tick']}, lot {report['lot_size']}, quantum "
        f"{report['settle_quantum']}, max price {report['max_price']}"
    )
    table = Table(title=f"{report['symbol']} tiers (notional in {report['settle_asset']})")
    for name in ("tier", "floor", "cap", "MMR", "IMR", "max leverage", "maintenance amount"):
        table.add_column(name, justify="right")
    for tier in report["tiers"]:
        table.add_row(
            str(tier["tier"]),
            tier["floor"],
            tier["cap"],
            tier["mmr_percent"],
            tier["imr_percent"],
            tier["max_leverage"] + "x",
            tier["maintenance_amount"],
        )
    console.print(table)


@main.command("margin")
@click.option(
    "--market",
    "market_files",
    multiple=True,
    required=True,
    type=click.Path(path_type=Path),
    help="A market file; repeat for every market the account trades.",
)
@click.option(
    "--account",
    "account_file",
    required=True,
    type=click.Path(path_type=Path),
    help="An account file, TOML or JSON (spec/03-accounts.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option(
    "--fail-if-liquidatable",
    is_flag=True,
    help="Exit 1 when any margin unit of the account is liquidatable (for scripts and CI).",
)
def margin(
    market_files: tuple[Path, ...], account_file: Path, as_json: bool, fail_if_liquidatable: bool
) -> None:
    """Compute margin, trigger, liquidation and bankruptcy prices of an account.

    Per position: notional at mark, tier, unrealized PnL, initial and maintenance margin,
    liquidation price and bankruptcy price (other positions held at their marks). Per margin
    unit (the cross pool, and each isolated position): equity, requirements, margin ratio
    (maintenance / equity) and whether it is liquidatable under the market's trigger.

    A price shows "none" when no price in the market's domain reaches it and "always" when
    every price does.
    """

    def run() -> int:
        markets = load_markets(market_files)
        report = account_report(load_account(account_file, markets), markets)
        if as_json:
            print_json(report)
        else:
            _print_account(report)
        return EXIT_FOUND if fail_if_liquidatable and report["liquidatable"] else EXIT_OK

    guarded(as_json, run)


def _print_account(report: dict[str, Any]) -> None:
    console.print(
        Text.assemble((f"account {report['account']}", "bold"), f" ({report['collateral_asset']})")
    )
    for unit in report["units"]:
        state = ("LIQUIDATABLE", "red") if unit["liquidatable"] else ("healthy", "green")
        console.print(
            Text.assemble(
                "\n",
                (unit["unit"], "bold"),
                f" ({unit['asset']}): ",
                state,
                f"  equity {unit['equity']}  maintenance {unit['maintenance_margin']}"
                f"  initial {unit['initial_margin']}  margin ratio {unit['margin_ratio']}"
                f"  (trigger {unit['trigger']})",
            )
        )
        if not unit["positions"]:
            continue
        table = Table()
        columns = (
            "market", "side", "size", "entry", "mark", "notional", "tier",
            "uPnL", "IM", "MM", "liq. price", "bankr. price",
        )  # fmt: skip
        for name in columns:
            table.add_column(
                name, justify="left" if name in {"market", "side"} else "right", overflow="fold"
            )
        for p in unit["positions"]:
            table.add_row(
                p["market"],
                p["side"],
                p["size"],
                p["entry_price"],
                p["mark_price"],
                p["notional"],
                str(p["tier"]),
                p["unrealized_pnl"],
                p["initial_margin"],
                p["maintenance_margin"],
                p["liquidation_price"]
                + (
                    f" (shown {p['liquidation_price_displayed']})"
                    if "liquidation_price_displayed" in p
                    else ""
                ),
                p["bankruptcy_price"],
            )
        console.print(table)


@main.command("run")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--log", "log_file", type=click.Path(path_type=Path),
              help="Also write the replay as an audit log (JSON lines, spec/16-audit.md) "
                   "that `liqspec audit` reads.")  # fmt: skip
def run(scenario: Path, as_json: bool, log_file: Path | None) -> None:
    """Replay a SCENARIO file and print every output record.

    A scenario (spec/06-state.md, STATE-10) gives markets, funds, marks, books, accounts and a
    list of events. Each event goes through the transition function; the records it produces
    (liquidation steps with the book levels consumed and the limit price and why, fees,
    insurance fund changes, takeovers, ADL allocations with their ranking scores) are printed
    in order, then the final balances. A rejected event is shown with its reason and leaves
    the state unchanged.

    \b
    Examples:
      liqspec run spec/scenarios/partial-restored-by-one-step.toml
      liqspec run spec/scenarios/adl-after-fund-exhausted.toml --log adl.jsonl
    """

    def replay_all() -> int:
        report = scenario_report(load_scenario(scenario))
        if log_file is not None:
            lines = get_log_lines(scenario)
            text = "".join(json.dumps(line, sort_keys=True) + "\n" for line in lines)
            write_outputs(log_file.parent, {log_file.name: text})
        if as_json:
            print_json(report)
        else:
            _print_run(report)
        return EXIT_OK

    guarded(as_json, replay_all)


def _details(entry: dict[str, Any]) -> str:
    return "  ".join(f"{k}={_compact(v)}" for k, v in entry.items() if k != "kind")


def _compact(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_compact(v)}" for k, v in value.items()) + "}"
    return str(value)


_ECHOES = {
    "mark-set", "book-set", "clock-set", "deposited", "withdrawn", "index-set", "trade-set",
    "reference-set", "filled",
}  # fmt: skip
"""Records that repeat their event: shown in JSON, left out of the table."""


def _print_run(report: dict[str, Any]) -> None:
    console.print(Text.assemble((report["scenario"], "bold"), f": {report['description']}"))
    table = Table(show_lines=False)
    for name in ("#", "record", "details"):
        table.add_column(name, overflow="fold")
    for step in report["steps"]:
        event = step["event"]
        table.add_row(str(step["index"]), Text(event["kind"], "bold"), _details(event))
        if step["rejected"]:
            rejected = step["rejected"]
            detail = f"{rejected['detail']} [{rejected['rule']} {rejected['reason']}]"
            table.add_row("", Text("rejected", "red"), detail)
        for record in step["records"]:
            if (record["kind"] in _ECHOES and record["kind"] != "mark-set") or (
                record["kind"] == "mark-set" and event["kind"] == "mark"
            ):
                continue
            table.add_row("", record["kind"], _details(record))
    console.print(table)
    final = report["final"]
    console.print(f"final (time {final['time']}): funds {_compact(final['funds'])}")
    for account in final["accounts"]:
        positions = ", ".join(
            f"{p['side']} {p['size']} {p['market']}" for p in account["positions"]
        )
        console.print(
            f"  {account['account']}: balance {account['balance']}, equity {account['equity']},"
            f" maintenance {account['maintenance']}; {positions or 'no position'}"
        )
