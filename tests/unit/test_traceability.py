"""The spec and the code cite each other: no dangling anchor, no rule without code."""

from __future__ import annotations

import re

from liqspec.audit.catalogue import Violation
from tests.data import ROOT

ANCHOR = re.compile(
    r"\b(?:CONV|MARKET|ACCOUNT|MARGIN|PRICE|STATE|LIQ|INS|OUT|MARK|BRK|RISK|VEC|BT|STRESS|AUDIT)-\d+\b"
)


def defined_rules() -> set[str]:
    text = "\n".join(p.read_text() for p in sorted((ROOT / "spec").glob("*.md")))
    return set(re.findall(r'<a id="([A-Z]+-\d+)"></a>', text))


def cited_in(folder: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        found |= set(ANCHOR.findall(path.read_text()))
    return found


def test_every_cited_anchor_is_defined() -> None:
    defined = defined_rules()
    assert cited_in("reference") - defined == set()
    assert cited_in("tests") - defined == set()


def test_every_rule_is_cited_by_the_engine() -> None:
    assert defined_rules() - cited_in("reference") == set()


def test_every_rule_is_defined_once() -> None:
    text = "\n".join(p.read_text() for p in sorted((ROOT / "spec").glob("*.md")))
    ids = re.findall(r'<a id="([A-Z]+-\d+)"></a>', text)
    assert len(ids) == len(set(ids))


def test_every_violation_class_is_in_the_catalogue_with_its_rule_and_invariant() -> None:
    """AUDIT-5: each class's row names its id, severity, rule and invariant as the code does."""
    chapter = (ROOT / "spec" / "16-audit.md").read_text()
    rows = {
        row.split("|")[1].strip(" `"): [cell.strip() for cell in row.split("|")[2:5]]
        for row in chapter.splitlines()
        if row.startswith("| `") and row.split("|")[2].strip() in {"error", "warning"}
    }
    invariants = set(
        re.findall(r"^\| (INV-[A-Z-]+) \|", (ROOT / "spec" / "invariants.md").read_text(), re.M)
    )
    defined = defined_rules()
    assert set(rows) == {v.identifier for v in Violation}
    for violation in Violation:
        severity, rule, invariant = rows[violation.identifier]
        assert (severity, rule, invariant) == (
            violation.severity.value, violation.rule, violation.invariant,
        )  # fmt: skip
        assert rule in defined
        assert invariant in invariants
