"""The ``liqspec`` command line: a leaf over the engine (nothing in the engine imports it).

Exit codes: 0 success; 1 the command ran and found what it gates on (``margin --fail-if-
liquidatable``); 2 bad input or usage, with one message naming the file, field, value and rule.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from liqspec import __version__
from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import InputError, LiqspecError, Reason
from liqspec.engine.outputs import account_report, market_report, scenario_report
from liqspec.engine.scenarios import load_scenario
from liqspec.model.accounts import load_account
from liqspec.model.market_files import load_market
from liqspec.model.markets import Market

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2

_console = Console(highlight=False, width=shutil.get_terminal_size((160, 24)).columns)


def _fail(error: LiqspecError, as_json: bool) -> None:
    if as_json and isinstance(error, InputError):
        click.echo(json.dumps({"error": error.as_json()}, sort_keys=True))
    else:
        click.echo(f"error: {error}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _guarded(as_json: bool, action: Callable[[], int]) -> None:
    """Run ``action``; turn a liqspec error into its message and exit code 2, never a traceback."""
    try:
        code = action()
    except LiqspecError as error:
        _fail(error, as_json)
    except RecursionError:
        _fail(LiqspecError("input nested too deeply"), as_json)
    else:
        sys.exit(code)


def _print_json(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="liqspec")
def main() -> None:
    """Liqspec: the reference liquidation engine, as a command line.

    Every number is exact: amounts and prices are printed as decimal text in their asset,
    computed with integers in the market's base units (ticks, lots, quantums). The rules are
    in spec/; each error names the rule it enforces.

    \b
    Examples:
      liqspec run spec/scenarios/partial-restored-by-one-step.toml
      liqspec prove spec/markets/*.toml
      liqspec gate spec/markets/binance-btcusdt-2022-02-12.toml \
                   spec/markets/binance-btcusdt-2024-10-24.toml
      liqspec check-market spec/markets/binance-btcusdt-2024-10-24.toml
      liqspec margin --market spec/markets/binance-btcusdt-2024-10-24.toml \\
                     --account spec/accounts/demo-cross.toml --json
    """


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
            _print_json({"markets": [market_report(m) for m in markets]})
        else:
            for market in markets:
                _print_market(market_report(market))
        return EXIT_OK

    _guarded(as_json, run)


def _print_market(report: dict[str, Any]) -> None:
    source = report["source"]
    _console.print(
        f"[bold]{report['symbol']}[/bold]  {report['contract']}, settles in "
        f"{report['settle_asset']}, {report['tier_mode']} tiers, trigger {report['trigger']}, "
        f"margins at {report['margin_valuation']} value"
    )
    _console.print(f"  source: {source['venue']}, {source['reference']} (as of {source['as_of']})")
    _console.print(
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
    _console.print(table)


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
        markets = _load_markets(market_files)
        report = account_report(load_account(account_file, markets), markets)
        if as_json:
            _print_json(report)
        else:
            _print_account(report)
        return EXIT_FOUND if fail_if_liquidatable and report["liquidatable"] else EXIT_OK

    _guarded(as_json, run)


def _load_markets(paths: Iterable[Path]) -> dict[str, Market]:
    markets: dict[str, Market] = {}
    for path in paths:
        market = load_market(path)
        if market.symbol in markets:
            detail = "another market file given earlier defines this symbol"
            raise InputError(
                Reason.DUPLICATE_MARKET, "market.symbol", market.symbol, detail, str(path)
            )
        markets[market.symbol] = market
    return markets


def _print_account(report: dict[str, Any]) -> None:
    _console.print(f"[bold]account {report['account']}[/bold] ({report['collateral_asset']})")
    for unit in report["units"]:
        state = "[red]LIQUIDATABLE[/red]" if unit["liquidatable"] else "[green]healthy[/green]"
        _console.print(
            f"\n[bold]{unit['unit']}[/bold] ({unit['asset']}): {state}  equity {unit['equity']}"
            f"  maintenance {unit['maintenance_margin']}  initial {unit['initial_margin']}"
            f"  margin ratio {unit['margin_ratio']}  (trigger {unit['trigger']})"
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
                p["market"], p["side"], p["size"], p["entry_price"], p["mark_price"],
                p["notional"], str(p["tier"]), p["unrealized_pnl"], p["initial_margin"],
                p["maintenance_margin"], p["liquidation_price"], p["bankruptcy_price"],
            )  # fmt: skip
        _console.print(table)


@main.command("run")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def run(scenario: Path, as_json: bool) -> None:
    """Replay a SCENARIO file and print every output record.

    A scenario (spec/06-state.md, STATE-10) gives markets, funds, marks, books, accounts and a
    list of events. Each event goes through the transition function; the records it produces
    (liquidation steps with the book levels consumed and the limit price and why, fees,
    insurance fund changes, takeovers, ADL allocations with their ranking scores) are printed
    in order, then the final balances. A rejected event is shown with its reason and leaves
    the state unchanged.

    \b
    Example:
      liqspec run spec/scenarios/partial-restored-by-one-step.toml
    """

    def replay_all() -> int:
        report = scenario_report(load_scenario(scenario))
        if as_json:
            _print_json(report)
        else:
            _print_run(report)
        return EXIT_OK

    _guarded(as_json, replay_all)


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
    _console.print(f"[bold]{report['scenario']}[/bold]: {report['description']}")
    table = Table(show_lines=False)
    for name in ("#", "record", "details"):
        table.add_column(name, overflow="fold")
    for step in report["steps"]:
        event = step["event"]
        table.add_row(str(step["index"]), f"[bold]{event['kind']}[/bold]", _details(event))
        if step["rejected"]:
            rejected = step["rejected"]
            detail = f"{rejected['detail']} [{rejected['rule']} {rejected['reason']}]"
            table.add_row("", "[red]rejected[/red]", detail)
        for record in step["records"]:
            if (record["kind"] in _ECHOES and record["kind"] != "mark-set") or (
                record["kind"] == "mark-set" and event["kind"] == "mark-update"
            ):
                continue
            table.add_row("", record["kind"], _details(record))
    _console.print(table)
    final = report["final"]
    _console.print(f"final (time {final['time']}): funds {_compact(final['funds'])}")
    for account in final["accounts"]:
        positions = ", ".join(
            f"{p['side']} {p['size']} {p['market']}" for p in account["positions"]
        )
        _console.print(
            f"  {account['account']}: balance {account['balance']}, equity {account['equity']},"
            f" maintenance {account['maintenance']}; {positions or 'no position'}"
        )


@main.group("vectors")
def vectors_group() -> None:
    """Conformance vectors (spec/13-conformance.md)."""


@vectors_group.command("generate")
@click.option(
    "--spec",
    "spec_dir",
    default="spec",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The specification folder to read.",
)
@click.option(
    "--out",
    default="spec/vectors",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where to write the vectors (one JSON file per case).",
)
def vectors_generate(spec_dir: Path, out: Path) -> None:
    """Generate every conformance vector from the reference, deterministically.

    Reads the bundled markets and scenarios under --spec, evaluates every case with the
    reference, validates each vector against its JSON Schema and writes one canonical file
    per case (sorted keys, LF, decimal strings) under --out, replacing what was there.
    """

    def run_generate() -> int:
        import shutil  # noqa: PLC0415

        from liqspec.conformance.generate import build_vectors, write_vectors  # noqa: PLC0415

        vectors = build_vectors(spec_dir)
        for kind in {v["kind"] for v in vectors}:
            shutil.rmtree(out / kind, ignore_errors=True)
        count = write_vectors(vectors, out)
        click.echo(f"wrote {count} vectors to {out}")
        return EXIT_OK

    _guarded(False, run_generate)  # noqa: FBT003


@main.command("adapter")
@click.option("--one-shot", is_flag=True, help="Answer one case from stdin, then exit.")
def adapter_command(one_shot: bool) -> None:
    """Run the reference implementation's adapter on stdin/stdout (spec/protocol.md).

    Newline-delimited JSON: a hello handshake, then one reply per case, until bye.
    """
    from liqspec.conformance.adapter import serve, serve_one  # noqa: PLC0415

    (serve_one if one_shot else serve)(sys.stdin, sys.stdout)


@main.command("conformance")
@click.option(
    "--impl",
    "impl",
    required=True,
    help='The adapter command, e.g. "node adapter.js" (split like a shell, run without one).',
)
@click.option(
    "--vectors",
    "vectors_dir",
    default="spec/vectors",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The vector folder.",
)
@click.option("--kind", "kinds", multiple=True, help="Only vectors of this kind (repeatable).")
@click.option("--feature", "features", multiple=True, help="Only vectors with this feature tag.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per case.")
@click.option("--restarts", default=3, show_default=True, help="Restarts after a crash.")
@click.option(
    "--mapping",
    type=click.Path(path_type=Path),
    help="JSON object mapping the implementation's reason names to liqspec's.",
)
@click.option(
    "--skip",
    "skip_file",
    type=click.Path(path_type=Path),
    help="File of vector ids expected to fail (one per line); they must keep failing.",
)
@click.option("--jsonl", type=click.Path(path_type=Path), help="Write one JSON line per case here.")
@click.option("--markdown", type=click.Path(path_type=Path), help="Write a Markdown table here.")
@click.option("--one-shot", is_flag=True, help="Start the adapter once per case.")
def conformance_command(
    *, impl: str, vectors_dir: Path, kinds: tuple[str, ...], features: tuple[str, ...],
    timeout: float, restarts: int, mapping: Path | None, skip_file: Path | None,
    jsonl: Path | None, markdown: Path | None, one_shot: bool,
) -> None:  # fmt: skip
    """Run the conformance vectors against another implementation's adapter.

    Prints each failure with the case id, the first differing field, expected and actual
    values and the spec rules the vector exercises, then `N passed, N failed, N skipped`.
    Exit 0 only when nothing failed.
    """

    def run_all() -> int:
        import json as _json  # noqa: PLC0415
        import shlex  # noqa: PLC0415

        from liqspec.conformance.runner import run_one_shot, run_suite, summary_line  # noqa: PLC0415

        vectors = _select_vectors(vectors_dir, kinds, features)
        names = _json.loads(mapping.read_text()) if mapping else {}
        skip = skip_file.read_text().split() if skip_file else []
        command = shlex.split(impl)
        if one_shot:
            reports = run_one_shot(vectors, command, timeout=timeout, mapping=names, skip=skip)
        else:
            reports = run_suite(vectors, command, timeout=timeout, restarts=restarts,
                                mapping=names, skip=skip)  # fmt: skip
        ran = {r.id for r in reports}
        missing = [v["id"] for v in vectors if v["id"] not in ran]
        if missing:  # pragma: no cover - the runner reports every vector
            raise LiqspecError(f"vectors neither run nor skipped: {missing[:5]}")
        if jsonl:
            jsonl.write_text(
                "".join(_json.dumps(r.as_json(), sort_keys=True) + "\n" for r in reports)
            )
        if markdown:
            markdown.write_text(_conformance_markdown(reports, summary_line(reports)))
        for report in reports:
            if report.status in {"failed", "errored"}:
                click.echo(
                    f"{report.status.upper()} {report.id}: {report.detail}"
                    + (f" at {report.field}: expected {report.expected!r}, got {report.actual!r}"
                       if report.field else "")
                    + (f" [{', '.join(report.rules[:4])}]" if report.rules else "")
                )  # fmt: skip
        click.echo(summary_line(reports))
        return EXIT_OK if all(r.status in {"passed", "skipped"} for r in reports) else EXIT_FOUND

    _guarded(False, run_all)  # noqa: FBT003


def _select_vectors(
    folder: Path, kinds: tuple[str, ...], features: tuple[str, ...]
) -> list[dict[str, Any]]:
    vectors = [json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))]
    if not vectors:
        raise InputError(Reason.UNREADABLE, "--vectors", str(folder), "no vector files found")

    def wanted(vector: dict[str, Any]) -> bool:
        kind_ok = not kinds or vector["kind"] in kinds
        return kind_ok and (not features or bool(set(features) & set(vector["features"])))

    return [v for v in vectors if wanted(v)]


def _conformance_markdown(reports: list[Any], summary: str) -> str:
    lines = ["| case | status | field | expected | actual |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.id} | {r.status} | {r.field} | {r.expected!r} | {r.actual!r} |" for r in reports
    ]
    return "\n".join([*lines, "", summary, ""])


@main.command("fuzz")
@click.option("--impl", "impl", required=True, help="The adapter command to fuzz.")
@click.option("--examples", default=500, show_default=True, help="How many cases to draw.")
@click.option("--seed", "seed_value", default=0, show_default=True, help="The random seed.")
@click.option("--spec", "spec_dir", default="spec", show_default=True,
              type=click.Path(path_type=Path), help="Where the bundled markets are.")  # fmt: skip
@click.option("--out", default="fuzz-vectors", show_default=True, type=click.Path(path_type=Path),
              help="Where a disagreement is written as a vector.")  # fmt: skip
def fuzz_command(*, impl: str, examples: int, seed_value: int, spec_dir: Path, out: Path) -> None:
    """Differential fuzzing: random cases to the reference and to an implementation.

    On the first disagreement the case is shrunk to a minimal one and written as a new vector
    file under --out (add it to your suite). Exit 0 when no disagreement was found, 1 when one
    was.
    """

    def run_fuzz() -> int:
        import shlex  # noqa: PLC0415

        from liqspec.conformance.fuzz import fuzz  # noqa: PLC0415

        outcome = fuzz(shlex.split(impl), spec=spec_dir, out=out, examples=examples,
                       seed_value=seed_value)  # fmt: skip
        if outcome.vector is None:
            click.echo(f"{outcome.examples} cases, no disagreement")
            return EXIT_OK
        click.echo(f"disagreement on {outcome.vector['id']}: {outcome.difference}")
        click.echo(f"minimal case written to {outcome.path}")
        return EXIT_FOUND

    _guarded(False, run_fuzz)  # noqa: FBT003


@main.command("prove")
@click.argument("markets", nargs=-1, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def prove_command(markets: tuple[Path, ...], as_json: bool) -> None:
    """Prove the invariant catalogue, and check each MARKETS file against it.

    The theorems (spec/invariants.md) hold for every parameter set that passes the market
    rules; each market file is then checked concretely: MM non-decreasing and rising no faster
    than notional (the lemma behind every liquidation price), continuity, IM >= MM, the fee
    covered, multiplier bounds, the price band. Market files are read without enforcing the
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
            _print_json({"results": rows, "passed": all(r.holds for r in results)})
        else:
            _print_results(rows)
        return EXIT_OK if all(r.holds for r in results) else EXIT_FOUND

    _guarded(as_json, run_all)


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
        shown = row["result"] if row["result"] == "proved" else f"[red]{row['result']}[/red]"
        table.add_row(row["id"], row["scope"], row["subject"], shown, str(row["milliseconds"]))
    _console.print(table)
    for row in rows:
        if row["result"] != "proved":
            witness = row["counterexample"] or row["reason"]
            _console.print(f"[red]{row['id']}[/red] on {row['subject']}: {witness}")
            if row["replay"]:
                _console.print(f"  {row['replay']}")
    failed = sum(r["result"] != "proved" for r in rows)
    _console.print(f"{len(rows) - failed} passed, {failed} failed")


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of Markdown.")
def gate_command(
    *, old: Path, new: Path, positions: Path | None, other_files: tuple[Path, ...],
    price: str | None, threshold: str, as_json: bool,
) -> None:  # fmt: skip
    """Gate a change of market parameters from OLD to NEW (for CI on pull requests).

    Runs every per-market check on NEW, diffs the tier tables (max leverage, maintenance
    amounts), recomputes liquidation and bankruptcy prices for a fixed panel of reference
    positions, and with --positions finds positions the change alone makes liquidatable and
    positions whose distance to liquidation shrinks by more than --threshold. Prints Markdown
    for a pull-request comment, or --json.

    Exit 0 when the change passes, 1 on a counterexample or a position liquidatable at once,
    2 on bad input.
    """

    def run_gate() -> int:
        from fractions import Fraction  # noqa: PLC0415

        from liqproofs.gate import gate, gate_markdown  # noqa: PLC0415 - z3 on demand

        old_market = load_market(old, check=False)
        new_market = load_market(new, check=False)
        if old_market.symbol != new_market.symbol:
            detail = f"OLD is {old_market.symbol}"
            raise InputError(
                Reason.UNKNOWN_MARKET, "market.symbol", new_market.symbol, detail, str(new)
            )
        ticks = old_market.max_price // 200
        if price is not None:
            ticks = to_units(price, old_market.price_tick, "--price", "price tick")
        others = _load_markets(other_files)
        snapshot = None
        if positions is not None:
            snapshot = load_account(positions, {**others, old_market.symbol: old_market})
        num, den = parse_decimal(threshold, "--threshold")
        report = gate(old_market, new_market, price=ticks, snapshot=snapshot, others=others,
                      threshold=Fraction(num, den))  # fmt: skip
        if as_json:
            _print_json(report)
        else:
            click.echo(gate_markdown(report), nl=False)
        return EXIT_OK if report["passed"] else EXIT_FOUND

    _guarded(as_json, run_gate)
