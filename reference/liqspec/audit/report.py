"""The audit report: findings and the summary as JSON and Markdown (spec/16-audit.md#AUDIT-7).

Numbers are decimal text of their asset or market (OUT-9). The report holds no timing and no
absolute path, so the same log gives the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol, TypeVar

import attrs

from liqspec.audit.catalogue import Severity, Violation
from liqspec.audit.claims import Claim, Verdict
from liqspec.audit.importers import Format, Role, open_venue_log
from liqspec.audit.integrity import GENESIS, Batch, MerkleBatches, Proof, get_line_digest
from liqspec.audit.log import LogLine, open_log
from liqspec.audit.replay import Auditor, Finding
from liqspec.audit.venues import VenueAuditor
from liqspec.audit.what_if import Difference, Liquidated
from liqspec.base.conventions import decimal_text, ratio_text
from liqspec.engine.outputs import Units
from liqspec.engine.state import State
from liqspec.model.markets import Market, format_price, format_size
from liqspec.model.prices import PriceResult, PriceStatus

__all__ = [
    "BATCH",
    "Checkpoints",
    "audit_file",
    "audit_report",
    "audit_venue_file",
    "claim_row",
    "claims_summary",
    "finding_row",
    "is_failing",
    "liquidation_text",
    "proof_row",
    "report_markdown",
    "venue_report",
    "what_if_report",
]

BATCH = 1024
"""Lines per Merkle tree by default (AUDIT-6)."""


class _Lines(Protocol):
    """A line of a log: its number, normalised text, chain value and end offset."""

    @property
    def number(self) -> int: ...
    @property
    def text(self) -> bytes: ...
    @property
    def digest(self) -> str: ...
    @property
    def end(self) -> int: ...


_L = TypeVar("_L", bound=_Lines)


@attrs.define
class Checkpoints:
    """Chain values and batch roots the caller expects; each is compared (AUDIT-6)."""

    chain: Mapping[int, str] = attrs.field(factory=dict)
    """The chain value expected after the first N event lines."""
    roots: Mapping[int, str] = attrs.field(factory=dict)
    """The root expected of batch K (from 0)."""
    seen: dict[int, str] = attrs.field(factory=dict)

    def get_results(self, batches: list[Batch]) -> list[dict[str, Any]]:
        """Return each checkpoint with what the log gave (None past its end) and the verdict."""
        rows = [("chain", n, hex_value, self.seen.get(n)) for n, hex_value in self.chain.items()]
        for k, hex_value in self.roots.items():
            rows.append(("root", k, hex_value, batches[k].root if k < len(batches) else None))
        return [
            {"kind": kind, "at": at, "expected": expected, "observed": observed,
             "agrees": observed == expected.lower()}
            for kind, at, expected, observed in sorted(rows)
        ]  # fmt: skip


def _prove(
    lines: Iterable[_L],
    process: Callable[[_L], None],
    findings: list[Finding],
    trees: MerkleBatches,
    *,
    events: int,
    size: int,
    checkpoints: Checkpoints,
    progress: Callable[[int, int], None] | None,
    on_findings: Callable[[list[Finding]], None] | None,
) -> None:
    """Feed each line to ``process`` and to the Merkle batches; prove the findings it makes.

    ``events`` is the number of event lines already read (the chain checkpoints count them).
    Each finding gets its line's inclusion proof when its batch closes; ``on_findings`` is then
    called with them. ``progress`` is called with (bytes read, file size).
    """
    proved = 0

    def close() -> None:
        nonlocal proved
        proofs = trees.close()
        fresh = [attrs.evolve(f, proof=proofs[f.line]) for f in findings[proved:]]
        findings[proved:] = fresh
        proved = len(findings)
        if on_findings is not None and fresh:
            on_findings(fresh)

    for line in lines:
        if trees.is_full():
            close()
        made = len(findings)
        process(line)
        events += 1
        if events in checkpoints.chain:
            checkpoints.seen[events] = line.digest
        trees.add(line.number, line.text)
        if len(findings) > made:
            trees.keep(line.number)
        if progress is not None:
            progress(line.end, size)
    close()


def audit_file(
    path: Path,
    *,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
    on_findings: Callable[[list[Finding]], None] | None = None,
    checkpoints: Checkpoints | None = None,
) -> tuple[Auditor, list[Batch]]:
    """Audit the log at ``path``; return the auditor and the batches' Merkle roots."""
    checkpoints = checkpoints or Checkpoints()
    with open_log(path) as (scenario, lines, size, first_text):
        auditor = Auditor(scenario)
        trees = MerkleBatches(batch)
        trees.add(1, first_text)
        if 0 in checkpoints.chain:
            checkpoints.seen[0] = get_line_digest(GENESIS, first_text)

        def process(line: LogLine) -> None:
            auditor.process_line(line.number, line.event, line.records, line.digest)

        _prove(lines, process, auditor.findings, trees, events=0, size=size,
               checkpoints=checkpoints, progress=progress, on_findings=on_findings)  # fmt: skip
    return auditor, trees.batches


def audit_venue_file(
    path: Path,
    fmt: Format,
    markets: Mapping[str, Market],
    *,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
    on_findings: Callable[[list[Finding]], None] | None = None,
    checkpoints: Checkpoints | None = None,
) -> tuple[VenueAuditor, list[Batch]]:
    """Audit a venue log in format ``fmt`` (AUDIT-9, AUDIT-10); as :func:`audit_file`."""
    with open_venue_log(path, fmt, markets) as (lines, size):
        auditor = VenueAuditor(fmt, markets)
        trees = MerkleBatches(batch)
        checkpoints = checkpoints or Checkpoints()
        if 0 in checkpoints.chain:
            checkpoints.seen[0] = GENESIS
        _prove(lines, auditor.process_line, auditor.findings, trees, events=0, size=size,
               checkpoints=checkpoints, progress=progress, on_findings=on_findings)  # fmt: skip
    return auditor, trees.batches


def proof_row(proof: Proof) -> dict[str, Any]:
    """Return an inclusion proof as a JSON object (AUDIT-6)."""
    return {**attrs.asdict(proof), "path": list(proof.path)}


def finding_row(finding: Finding) -> dict[str, Any]:
    """Return one finding as a JSON object (AUDIT-5)."""
    violation = finding.violation
    return {
        "id": violation.identifier,
        "severity": violation.severity.value,
        "rule": violation.rule,
        "invariant": violation.invariant,
        "line": finding.line,
        "account": finding.account,
        "detail": finding.detail,
        "numbers": dict(finding.numbers),
        "chain": finding.digest,
        "proof": None if finding.proof is None else proof_row(finding.proof),
    }


def _head(
    name: str,
    fmt: str,
    auditor: Auditor | VenueAuditor,
    *,
    batches: list[Batch],
    checkpoints: list[dict[str, Any]] | None,
    classes: tuple[Violation, ...],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return what every report has (AUDIT-7) and the summary's counts, for ``classes``."""
    counts = Counter(f.violation.identifier for f in auditor.findings)
    head = {
        "log": name,
        "format": fmt,
        "lines": auditor.lines,
        "chain": auditor.digest,
        "roots": [attrs.asdict(b) for b in batches],
        "checkpoints": checkpoints or [],
        "findings": [finding_row(f) for f in auditor.findings],
    }
    summary = {
        "errors": auditor.errors,
        "warnings": len(auditor.findings) - auditor.errors,
        "by_class": {v.identifier: counts[v.identifier] for v in classes},
    }
    return head, summary


def audit_report(
    name: str,
    auditor: Auditor,
    batches: list[Batch],
    checkpoints: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the whole report: the log, the counts, the figures, the roots and the findings."""
    head, summary = _head(name, "liqspec", auditor, batches=batches, checkpoints=checkpoints,
                          classes=tuple(Violation))  # fmt: skip
    units = auditor.units
    summary |= {
        "suppressed": auditor.suppressed,
        "out_of_sync": sorted(auditor.broken),
        "liquidated": {a: units.amount(q, a) for a, q in sorted(auditor.liquidated.items())},
        "fund_low": {f: units.amount(q, f) for f, q in sorted(auditor.fund_low.items())},
        "adl_overshoot": {a: units.amount(q, a) for a, q in sorted(auditor.overshoot.items())},
    }
    return {**head, "summary": summary}


def venue_report(
    name: str,
    auditor: VenueAuditor,
    batches: list[Batch],
    checkpoints: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the report of a venue log (AUDIT-10): as :func:`audit_report`, for its checks."""
    fmt = auditor.format
    head, summary = _head(name, fmt.label, auditor, batches=batches, checkpoints=checkpoints,
                          classes=fmt.checks)  # fmt: skip
    markets = auditor.markets
    summary |= {
        "fills": {role.value: auditor.fills[role.value] for role in Role},
        "closed": {m: format_size(markets[m], q) for m, q in sorted(auditor.closed.items())},
        "unpaired": len(auditor.pending),
    }
    return {**head, "checks": [v.identifier for v in fmt.checks], "summary": summary}


def what_if_report(state: State, differences: list[Difference], corrections: int) -> dict[str, Any]:
    """Return the what-if section (AUDIT-11): each unit that differs, and the totals."""
    units = Units(state)

    def liquidation(first: Liquidated | None) -> dict[str, Any] | None:
        if first is None:
            return None
        market = state.markets[first.market].market
        return {"line": first.line, "market": first.market,
                "price": format_price(market, first.price)}  # fmt: skip

    rows = [
        {
            "account": d.account,
            "asset": d.asset,
            "logged": liquidation(d.logged),
            "corrected": liquidation(d.corrected),
            "logged_equity": units.amount(d.logged_equity, d.asset),
            "corrected_equity": units.amount(d.corrected_equity, d.asset),
            "compensation": units.amount(d.compensation, d.asset),
        }
        for d in differences
    ]
    totals: Counter[str] = Counter()
    for d in differences:
        totals[d.asset] += d.compensation
    return {
        "corrections": corrections,
        "units": rows,
        "compensation": {a: units.amount(q, a) for a, q in sorted(totals.items())},
        "liquidated_as_logged_only": sum(d.logged is not None and d.corrected is None
                                         for d in differences),
        "liquidated_as_corrected_only": sum(d.logged is None and d.corrected is not None
                                            for d in differences),
    }  # fmt: skip


def report_markdown(report: dict[str, Any]) -> str:
    """Return the report as Markdown for publication: the verdict, the counts, each finding."""
    summary = report["summary"]
    verdict = (
        f"**{summary['errors']} violation(s) of severity error.**"
        if summary["errors"]
        else "**No violation of severity error.**"
    )
    lines = [
        f"# Audit of `{report['log']}`",
        "",
        f"{report['lines']} events replayed. Hash chain head: `{report['chain']}`.",
        "",
        *_venue_lines(report),
        verdict,
        "",
        "| class | severity | rule | invariant | findings |",
        "|---|---|---|---|---|",
    ]
    for violation in Violation:
        count = summary["by_class"].get(violation.identifier, 0)
        if count:
            lines.append(
                f"| {violation.identifier} | {violation.severity.value} | {violation.rule} "
                f"| {violation.invariant} | {count} |"
            )
    for row in report["checkpoints"]:
        state = "agrees" if row["agrees"] else f"**differs**: the log gives `{row['observed']}`"
        lines.append(f"Checkpoint {row['kind']} {row['at']} `{row['expected']}` {state}.")
    if summary.get("out_of_sync"):
        names = ", ".join(summary["out_of_sync"])
        suppressed = summary["suppressed"]
        note = f"Out of sync after a continuity break: {names} ({suppressed} later findings"
        lines += ["", note + " on them not reported)."]
    lines += _what_if_lines(report.get("what_if"))
    lines += ["", "## Findings", ""]
    for row in report["findings"]:
        numbers = ", ".join(f"{key} {value}" for key, value in row["numbers"].items())
        who = f" `{row['account']}`" if row["account"] else ""
        lines.append(f"- line {row['line']}{who}: **{row['id']}** ({row['rule']}): "
                     f"{row['detail']}. {numbers}")  # fmt: skip
    if not report["findings"]:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _what_if_lines(what_if: dict[str, Any] | None) -> list[str]:
    """Return the what-if section of the Markdown report (AUDIT-11), if one was asked for."""
    if what_if is None:
        return []
    totals = ", ".join(f"{q} {a}" for a, q in what_if["compensation"].items()) or "none"
    head = "| unit | liquidated as logged | as corrected | equity as logged | as corrected "
    lines = ["", "## What if the marks had been corrected", "",
             f"{what_if['corrections']} mark or index events corrected; compensation {totals}.",
             "", head + "| compensation |", "|---|---|---|---|---|---|"]  # fmt: skip

    lines.extend(
        f"| {row['account']} | {liquidation_text(row['logged'])} "
        f"| {liquidation_text(row['corrected'])} "
        f"| {row['logged_equity']} | {row['corrected_equity']} "
        f"| {row['compensation']} {row['asset']} |"
        for row in what_if["units"]
    )
    return lines


def liquidation_text(first: dict[str, Any] | None) -> str:
    """Return a what-if row's first liquidation as text: ``no``, or its line and price.

    >>> liquidation_text(None), liquidation_text({"line": 3, "market": "X", "price": "59190"})
    ('no', 'line 3 at 59190')
    """
    return "no" if first is None else f"line {first['line']} at {first['price']}"


def _venue_lines(report: dict[str, Any]) -> list[str]:
    """Return the lines naming a venue log's format and the checks it supports (AUDIT-10)."""
    if report["format"] == "liqspec":
        return []
    checks = ", ".join(report["checks"])
    return [f"Format `{report['format']}`: its data supports only these checks: {checks}.", ""]


def is_failing(report: dict[str, Any]) -> bool:
    """Return whether a finding of severity error was reported or a checkpoint differs (exit 1)."""
    return any(row["severity"] == Severity.ERROR.value for row in report["findings"]) or any(
        not row["agrees"] for row in report["checkpoints"]
    )


# --- claimed prices (AUDIT-8) -------------------------------------------------------------------


def claim_row(claim: Claim, verdict: Verdict) -> dict[str, Any]:
    """Return one claim's check as text: the claim, the reference, the difference, the cause."""
    market = claim.market
    quantum = market.settle_quantum

    def price(result: PriceResult) -> str:
        if result.price is None:
            return "always" if result.status is PriceStatus.ALWAYS else "none"
        return format_price(market, result.price)

    def shown(value: Fraction | None) -> str | None:
        return None if value is None else ratio_text(value)

    ticks = verdict.liquidation_ticks
    direction = "away from entry" if verdict.away else ""
    if not verdict.away and ticks and not verdict.agrees:
        direction = "toward entry"
    return {
        "id": claim.id,
        "market": market.symbol,
        "claimed": "none" if claim.liquidation is None else ratio_text(claim.liquidation),
        "liquidation_price": price(verdict.liquidation),
        "ticks": shown(ticks),
        "direction": direction,
        "bankruptcy_price": price(verdict.bankruptcy),
        "bankruptcy_ticks": shown(verdict.bankruptcy_ticks),
        "maintenance": decimal_text(verdict.maintenance * quantum.num, quantum.den),
        "maintenance_diff": shown(verdict.maintenance_diff),
        "agrees": verdict.agrees,
        "cause": verdict.cause,
    }


def claims_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the counts: rows, agreeing, disagreeing by cause, and how many are farther out."""
    causes = Counter(row["cause"] for row in rows if not row["agrees"])
    return {
        "rows": len(rows),
        "agree": sum(row["agrees"] for row in rows),
        "disagree": sum(not row["agrees"] for row in rows),
        "causes": dict(sorted(causes.items())),
        "away_from_entry": sum(row["direction"] == "away from entry" for row in rows),
    }
