"""``liqspec audit``: replay a venue's liquidation log and report every violation (chapter 16)."""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from liqspec.audit.catalogue import Violation
from liqspec.audit.claims import check_claim, load_claims
from liqspec.audit.importers import Format
from liqspec.audit.integrity import Proof, is_proved
from liqspec.audit.report import (
    BATCH,
    Checkpoints,
    audit_file,
    audit_report,
    audit_venue_file,
    claim_row,
    claims_summary,
    finding_row,
    is_failing,
    liquidation_text,
    report_markdown,
    venue_report,
    what_if_report,
)
from liqspec.audit.what_if import get_differences, load_corrections, read_events
from liqspec.backtest.report import write_outputs
from liqspec.base.conventions import parse_decimal
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import load_document
from liqspec.cli.app import (
    EXIT_FOUND,
    EXIT_OK,
    console,
    guarded,
    load_markets,
    main,
    print_json,
    progress_bar,
)
from liqspec.model.markets import Market

__all__ = ["audit", "check_prices"]


class _DefaultToCheck(click.Group):
    """``liqspec audit LOG`` means ``liqspec audit check LOG``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["check", *args]
        return super().parse_args(ctx, args)


@main.group("audit", cls=_DefaultToCheck)
def audit() -> None:
    """Audit a venue's liquidation log against the reference (spec/16-audit.md).

    \b
    liqspec audit LOG [OPTIONS]       the same as `liqspec audit check LOG`
    liqspec audit verify FINDING      check a finding's inclusion proof
    """


@audit.command("check")
@click.argument("log", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option("--jsonl", "as_lines", is_flag=True,
              help="Print each finding as one JSON line, as it is found.")  # fmt: skip
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Write summary.json, findings.jsonl and report.md here.")  # fmt: skip
@click.option("--batch", type=click.IntRange(min=1, max=1 << 20), default=BATCH,
              show_default=True,
              help="Lines per Merkle tree: each finding carries its line's inclusion proof "
                   "in its batch, and the report lists every batch's root.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["liqspec", *(f.label for f in Format)]),
              default="liqspec", show_default=True,
              help="The log's format: liqspec's own (a starting state, then events with the "
                   "venue's records), or a venue's published stream (needs --market).")  # fmt: skip
@click.option("--market", "market_files", multiple=True, type=click.Path(path_type=Path),
              help="A market file for a venue log's symbols; repeat for each market.")  # fmt: skip
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="N=HEX|root:K=HEX",
              help="Expect this hash-chain value after the first N event lines, or this root "
                   "of batch K (from 0); exit 1 when the log gives another.")  # fmt: skip
@click.option("--what-if", "what_if", metavar="marks=FILE",
              help="Also replay the log's events with the reference twice, as logged and with "
                   "the mark or index events FILE corrects (CSV: line,price[,basis]), and "
                   "report each unit whose liquidation or final equity differs, with the "
                   "compensation the difference implies.")  # fmt: skip
def check(
    *,
    what_if: str | None,
    log: Path,
    as_json: bool,
    as_lines: bool,
    out_dir: Path | None,
    batch: int,
    fmt: str,
    market_files: tuple[Path, ...],
    checkpoints: tuple[str, ...],
) -> None:
    """Replay a venue's liquidation LOG against the reference and flag every violation.

    The log (spec/16-audit.md) is JSON lines: first the starting state (a scenario without
    events, markets inline), then one line per event with the records the venue says it
    produced: liquidation steps with their fills and fees, takeovers, fund changes, ADL
    allocations, bad debt. `liqspec run SCENARIO --log FILE` writes one.

    Each event is applied with the reference's own rules; then the venue's actions are
    applied in order, each checked first: was the account below maintenance at the mark, were
    the fills within the bankruptcy quote and the band, was the fee within the surplus, did
    the fund move by what the rules give, did ADL wait for the fund and follow the ranking,
    and is value conserved. A finding never stops the replay; a unit whose log breaks
    continuity is reported once and then counted as out of sync. Findings carry the numbers
    (expected, observed, equity, maintenance, marks), the hash chain of their line and the
    line's Merkle inclusion proof, which `liqspec audit verify` checks.

    Exit 0 when no finding has severity error, 1 when one has (CI can gate on it), 2 for bad
    input, with one line naming the file, line, field, value and rule.

    A venue's own stream (--format) carries no account state, so only the checks its data
    supports run, and the report names them: binance-force-order (forceOrder and
    markPriceUpdate messages), binance-user-data (your own ORDER_TRADE_UPDATE and
    ACCOUNT_UPDATE, with markPriceUpdate), bybit-all-liquidation (allLiquidation and tickers),
    hyperliquid-node-fills (node_fills_by_block lines), dydx-subaccount-fills (v4_subaccounts
    and v4_markets messages).

    \b
    Examples:
      liqspec audit spec/audit/two-violations.jsonl
      liqspec audit venue.jsonl --out audit-report/
      liqspec audit venue.jsonl --jsonl > findings.jsonl   (each batch's findings when it closes)
      liqspec audit venue.jsonl --checkpoint 1000=<HEX> --checkpoint root:0=<HEX>
      liqspec audit spec/audit/venues/binance-force-order.jsonl --format binance-force-order \\
          --market spec/audit/venues/binance-btcusdt-band.toml
    """

    def action() -> int:
        def emit(findings: list[Any]) -> None:
            for finding in findings:
                click.echo(json.dumps(finding_row(finding), sort_keys=True))

        expected = _checkpoints(checkpoints)
        if what_if is not None and (fmt != "liqspec" or not what_if.startswith("marks=")):
            detail = "marks=FILE, on a log of the liqspec format (it replays the accounts)"
            raise InputError(Reason.SYNTAX, "--what-if", what_if, detail)
        markets = _venue_markets(fmt, market_files)
        with progress_bar("audit (% of the file)", 100, quiet=as_json or as_lines) as progress:
            options: dict[str, Any] = {
                "batch": batch, "on_findings": emit if as_lines else None,
                "progress": lambda done, size: progress(done * 100 // max(size, 1)),
                "checkpoints": expected,
            }  # fmt: skip
            if fmt == "liqspec":
                auditor, batches = audit_file(log, **options)
                report = audit_report(log.name, auditor, batches, expected.get_results(batches))
                if what_if is not None:
                    report["what_if"] = _what_if(log, what_if)
            else:
                venue, batches = audit_venue_file(log, Format.named(fmt), markets, **options)
                report = venue_report(log.name, venue, batches, expected.get_results(batches))
        if out_dir is not None:
            rows = report["findings"]
            findings = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
            write_outputs(out_dir, {
                "summary.json": json.dumps(report, indent=2, sort_keys=True) + "\n",
                "findings.jsonl": findings,
                "report.md": report_markdown(report),
            })  # fmt: skip
        if as_json:
            print_json(report)
        elif not as_lines:
            _print_report(report)
        return EXIT_FOUND if is_failing(report) else EXIT_OK

    guarded(as_json, action)


def _what_if(log: Path, option: str) -> dict[str, Any]:
    """Run ``--what-if marks=FILE`` (AUDIT-11) and return its section of the report."""
    state, events = read_events(log)
    corrections = load_corrections(Path(option.removeprefix("marks=")), state, events)
    return what_if_report(state, get_differences(state, events, corrections), len(corrections))


def _venue_markets(fmt: str, paths: tuple[Path, ...]) -> dict[str, Market]:
    """Load the markets of a venue log; the liqspec format has its markets inline."""
    if fmt == "liqspec" and paths:
        detail = "a liqspec log has its markets inline; --market is for --format of a venue"
        raise InputError(Reason.UNKNOWN_KEY, "--market", str(paths[0]), detail)
    if fmt != "liqspec" and not paths:
        detail = f"--format {fmt} needs the market file of each symbol in the log"
        raise InputError(Reason.MISSING_KEY, "--market", None, detail)
    return load_markets(paths)


_CHECKPOINT = re.compile(r"(root:)?([0-9]{1,12})=([0-9a-fA-F]{64})")


def _checkpoints(texts: tuple[str, ...]) -> Checkpoints:
    """Parse ``--checkpoint N=HEX`` (a chain value) and ``root:K=HEX`` (a batch root)."""
    chain: dict[int, str] = {}
    roots: dict[int, str] = {}
    for text in texts:
        match = _CHECKPOINT.fullmatch(text)
        if match is None:
            detail = "must be N=HEX (the chain after N event lines) or root:K=HEX, 64 hex digits"
            raise InputError(Reason.SYNTAX, "--checkpoint", text, detail)
        table = roots if match[1] else chain
        at = int(match[2])
        if at in table:
            raise InputError(Reason.SYNTAX, "--checkpoint", text, "given twice for this point")
        table[at] = match[3].lower()
    return Checkpoints(chain, roots)


@audit.command("verify")
@click.argument("finding", type=click.Path(path_type=Path))
@click.option("--root", metavar="HEX",
              help="The batch root published with the log; by default the root the finding "
                   "carries, which you must then compare with the published one.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify(finding: Path, root: str | None, as_json: bool) -> None:
    """Check that a FINDING's line is in the committed log, from the finding alone.

    FINDING is a JSON file holding one finding as `liqspec audit` reports it (a line of
    findings.jsonl, or an element of summary.json's findings). Its proof holds the line's
    normalised text and the Merkle audit path to its batch's root (RFC 6962). The command
    recomputes the root from the line and the path and compares it with --root, so a third
    party needs neither the log nor liqspec's word: only the line, the proof and a root
    published in advance (AUDIT-6). Read the line itself (the proof's leaf) to see what the
    finding is about.

    Exit 0 when the proof holds, 1 when it does not, 2 for bad input.

    \b
    Example:
      liqspec audit spec/audit/two-violations.jsonl --jsonl | head -1 > finding.json
      liqspec audit verify finding.json --root <the batch root published with the log>
    """

    def action() -> int:
        proof, line = _read_finding(finding)
        if root is not None and not _is_hex(root):
            detail = "a root is 64 hexadecimal digits"
            raise InputError(Reason.WRONG_TYPE, "--root", root, detail)
        proved = is_proved(proof, root.lower() if root else None)
        verdict = {
            "verified": proved,
            "line": line,
            "batch": proof.batch,
            "index": proof.index,
            "root": (root or proof.root).lower(),
            "root_given": root is not None,
        }
        if as_json:
            print_json(verdict)
        elif proved:
            where = "the published root" if root else "the root in the finding (compare it "
            where += "" if root else "with the published one)"
            console.print(f"verified: line {line} is leaf {proof.index} of batch "
                          f"{proof.batch}, under {where}")  # fmt: skip
        else:
            console.print("NOT verified: the line and the path do not give the root")
        return EXIT_OK if proved else EXIT_FOUND

    guarded(as_json, action)


def _is_hex(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _read_finding(path: Path) -> tuple[Proof, int]:
    """Read one reported finding and its proof; a file that is not one is bad input."""
    document = load_document(path, toml=False)
    proof = document.get("proof")
    line = document.get("line")
    where = str(path)
    if not isinstance(proof, dict) or type(line) is not int:
        detail = "a finding as `liqspec audit` reports it, with its line and proof"
        raise InputError(Reason.MISSING_KEY, "proof", None, detail, where)
    keys = {"batch": int, "index": int, "size": int, "path": list, "root": str, "leaf": str}
    for key, kind in keys.items():
        if type(proof.get(key)) is not kind:
            detail = f"must be {kind.__name__}"
            raise InputError(Reason.WRONG_TYPE, f"proof.{key}", proof.get(key), detail, where)
    if not all(isinstance(h, str) and _is_hex(h) for h in [*proof["path"], proof["root"]]):
        detail = "hashes are 64 hexadecimal digits"
        raise InputError(Reason.WRONG_TYPE, "proof.path", None, detail, where)
    if len(proof["path"]) > 64 or not 0 <= proof["index"] < proof["size"]:
        detail = "the index lies in the batch and the path is at most 64 hashes"
        raise InputError(Reason.OUT_OF_RANGE, "proof.index", proof["index"], detail, where)
    built = Proof(proof["batch"], proof["index"], proof["size"], tuple(proof["path"]),
                  proof["root"].lower(), proof["leaf"])  # fmt: skip
    return built, line


@main.command("check-prices")
@click.argument("claims", type=click.Path(path_type=Path))
@click.option("--market", "market_files", multiple=True, required=True,
              type=click.Path(path_type=Path), help="A market file (repeatable).")  # fmt: skip
@click.option("--tolerance", default="0", show_default=True, metavar="TICKS",
              help="How many ticks a claimed price may differ by and still agree.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the rows and summary as JSON.")
def check_prices(claims: Path, market_files: tuple[Path, ...], tolerance: str,
                 as_json: bool) -> None:  # fmt: skip
    """Check the liquidation prices a calculator shows against the reference.

    CLAIMS is a CSV with the columns id, market, side (long or short), size, entry, mode
    (cross or isolated), margin (the wallet of a cross position alone in its unit, or the
    isolated margin) and liquidation_price (or "none"), and optionally bankruptcy_price,
    maintenance and mark (default: the entry price). For each row it prints the reference's
    exact liquidation and bankruptcy prices and maintenance margin, the difference in ticks
    (claimed minus reference; "away" when the claim is farther from entry) and a cause:

    \b
      trigger       the claim is the price under the other trigger convention (strict or
                    inclusive at equity = maintenance)
      rounding      one tick toward safety: the exact root rounded the other way
      tier N        the price a calculator gets that uses tier N's rate and amount, not the
                    tier of the notional at the liquidation price
      unexplained   none of these

    Exit 0 when every claim agrees within --tolerance ticks, 1 when one does not (CI can
    gate on it), 2 for bad input (spec/16-audit.md, AUDIT-8).

    \b
    Example:
      liqspec check-prices claims.csv --market spec/markets/binance-btcusdt-2024-10-24.toml
    """

    def action() -> int:
        limit = Fraction(*parse_decimal(tolerance, "--tolerance"))
        if limit < 0:
            detail = "must not be negative"
            raise InputError(Reason.OUT_OF_RANGE, "--tolerance", tolerance, detail)
        markets = load_markets(market_files)
        rows = [claim_row(c, check_claim(c, limit)) for c in load_claims(claims, markets)]
        report: dict[str, Any] = {"claims": claims.name, "tolerance": tolerance, "rows": rows,
                  "summary": claims_summary(rows)}  # fmt: skip
        if as_json:
            print_json(report)
        else:
            _print_claims(report)
        return EXIT_OK if report["summary"]["disagree"] == 0 else EXIT_FOUND

    guarded(as_json, action)


def _print_claims(report: dict[str, Any]) -> None:
    table = Table(title=f"{report['claims']}: claimed prices against the reference")
    columns = ("id", "claimed", "reference", "ticks", "", "cause", "bankruptcy", "maintenance")
    for column in columns:
        table.add_column(column, justify="left" if column in {"id", "", "cause"} else "right")
    for row in report["rows"]:
        table.add_row(row["id"], row["claimed"], row["liquidation_price"], row["ticks"] or "-",
                      row["direction"], row["cause"], row["bankruptcy_price"],
                      row["maintenance"])  # fmt: skip
    console.print(table)
    summary = report["summary"]
    causes = ", ".join(f"{n} {cause}" for cause, n in summary["causes"].items()) or "none"
    console.print(f"{summary['agree']} of {summary['rows']} agree within {report['tolerance']} "
                  f"ticks; disagreements: {causes}")  # fmt: skip


def _print_report(report: dict[str, Any]) -> None:
    summary = report["summary"]
    table = Table(title=f"audit of {report['log']}: {report['lines']} events")
    for column in ("class", "severity", "rule", "invariant", "findings"):
        table.add_column(column, justify="right" if column == "findings" else "left")
    for violation in Violation:
        count = summary["by_class"].get(violation.identifier, 0)
        if count:
            table.add_row(violation.identifier, violation.severity.value, violation.rule,
                          violation.invariant, str(count))  # fmt: skip
    if table.row_count:
        console.print(table)
    else:
        console.print(f"audit of {report['log']}: {report['lines']} events, no findings")
    findings = report["findings"]
    for row in findings[:50]:
        numbers = "  ".join(f"{k}={v}" for k, v in row["numbers"].items())
        who = f" {row['account']}" if row["account"] else ""
        console.print(f"line {row['line']}{who}: [bold]{row['id']}[/bold] ({row['rule']}) "
                      f"{row['detail']}  {numbers}", markup=True, highlight=False)  # fmt: skip
    if len(findings) > 50:
        console.print(f"... and {len(findings) - 50} more (--json or --out for all)")
    if report["format"] != "liqspec":
        console.print(f"format {report['format']}: checked only "
                      + ", ".join(report["checks"]))  # fmt: skip
    if "what_if" in report:
        _print_what_if(report["what_if"])
    for row in report["checkpoints"]:
        verdict = "agrees" if row["agrees"] else f"DIFFERS: the log gives {row['observed']}"
        console.print(f"checkpoint {row['kind']} {row['at']}: {verdict}", highlight=False)
    errors = summary["errors"]
    console.print(f"{errors} finding(s) of severity error; chain head {report['chain']}")


def _print_what_if(what_if: dict[str, Any]) -> None:
    table = Table(title=f"what if: {what_if['corrections']} mark or index events corrected")
    for column in ("unit", "liquidated as logged", "as corrected", "equity as logged",
                   "as corrected", "compensation"):  # fmt: skip
        table.add_column(column, justify="left" if column.startswith(("unit", "liq")) else "right")

    for row in what_if["units"]:
        table.add_row(row["account"], liquidation_text(row["logged"]),
                      liquidation_text(row["corrected"]),
                      row["logged_equity"], row["corrected_equity"],
                      f"{row['compensation']} {row['asset']}")  # fmt: skip
    console.print(table)
    totals = ", ".join(f"{q} {a}" for a, q in what_if["compensation"].items()) or "none"
    console.print(f"compensation implied: {totals}")
