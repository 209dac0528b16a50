"""The audit report: findings and the summary as JSON and Markdown (spec/16-audit.md#AUDIT-7).

Numbers are decimal text of their asset or market (OUT-9). The report holds no timing and no
absolute path, so the same log gives the same bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs

from liqspec.audit.catalogue import Severity, Violation
from liqspec.audit.claims import Claim, Verdict
from liqspec.audit.integrity import Batch, MerkleBatches, Proof
from liqspec.audit.log import open_log
from liqspec.audit.replay import Auditor, Finding
from liqspec.base.conventions import decimal_text, ratio_text
from liqspec.model.markets import format_price
from liqspec.model.prices import PriceResult, PriceStatus

__all__ = [
    "BATCH",
    "audit_file",
    "audit_report",
    "claim_row",
    "claims_summary",
    "finding_row",
    "is_failing",
    "proof_row",
    "report_markdown",
]

BATCH = 1024
"""Lines per Merkle tree by default (AUDIT-6)."""


def audit_file(
    path: Path,
    *,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
    on_findings: Callable[[list[Finding]], None] | None = None,
) -> tuple[Auditor, list[Batch]]:
    """Audit the log at ``path``; return the auditor and the batches' Merkle roots.

    Each finding gets its line's inclusion proof when its batch closes; ``on_findings`` is
    then called with them. ``progress`` is called with (bytes read, file size).
    """
    with open_log(path) as (scenario, lines, size, first_text):
        auditor = Auditor(scenario)
        trees = MerkleBatches(batch)
        trees.add(1, first_text)
        proved = 0

        def close() -> None:
            nonlocal proved
            proofs = trees.close()
            fresh = [attrs.evolve(f, proof=proofs[f.line]) for f in auditor.findings[proved:]]
            auditor.findings[proved:] = fresh
            proved = len(auditor.findings)
            if on_findings is not None and fresh:
                on_findings(fresh)

        for line in lines:
            if trees.is_full():
                close()
            made = len(auditor.findings)
            auditor.process_line(line.number, line.event, line.records, line.digest)
            trees.add(line.number, line.text)
            if len(auditor.findings) > made:
                trees.keep(line.number)
            if progress is not None:
                progress(line.end, size)
        close()
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


def audit_report(name: str, auditor: Auditor, batches: list[Batch]) -> dict[str, Any]:
    """Return the whole report: the log, the counts, the figures, the roots and the findings."""
    counts = Counter(f.violation.identifier for f in auditor.findings)
    units = auditor.units
    return {
        "log": name,
        "lines": auditor.lines,
        "chain": auditor.digest,
        "roots": [attrs.asdict(b) for b in batches],
        "summary": {
            "errors": auditor.errors,
            "warnings": len(auditor.findings) - auditor.errors,
            "suppressed": auditor.suppressed,
            "out_of_sync": sorted(auditor.broken),
            "by_class": {v.identifier: counts[v.identifier] for v in Violation},
            "liquidated": {a: units.amount(q, a) for a, q in sorted(auditor.liquidated.items())},
            "fund_low": {f: units.amount(q, f) for f, q in sorted(auditor.fund_low.items())},
            "adl_overshoot": {a: units.amount(q, a) for a, q in sorted(auditor.overshoot.items())},
        },
        "findings": [finding_row(f) for f in auditor.findings],
    }


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
        verdict,
        "",
        "| class | severity | rule | invariant | findings |",
        "|---|---|---|---|---|",
    ]
    for violation in Violation:
        count = summary["by_class"][violation.identifier]
        if count:
            lines.append(
                f"| {violation.identifier} | {violation.severity.value} | {violation.rule} "
                f"| {violation.invariant} | {count} |"
            )
    if summary["out_of_sync"]:
        names = ", ".join(summary["out_of_sync"])
        suppressed = summary["suppressed"]
        note = f"Out of sync after a continuity break: {names} ({suppressed} later findings"
        lines += ["", note + " on them not reported)."]
    lines += ["", "## Findings", ""]
    for row in report["findings"]:
        numbers = ", ".join(f"{key} {value}" for key, value in row["numbers"].items())
        who = f" `{row['account']}`" if row["account"] else ""
        lines.append(f"- line {row['line']}{who}: **{row['id']}** ({row['rule']}): "
                     f"{row['detail']}. {numbers}")  # fmt: skip
    if not report["findings"]:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def is_failing(report: dict[str, Any]) -> bool:
    """Return whether a finding of severity error was reported (exit 1)."""
    return any(row["severity"] == Severity.ERROR.value for row in report["findings"])


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
