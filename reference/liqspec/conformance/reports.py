"""Judging replies (spec/13-conformance.md#VEC-5).

Case reports, the first difference between expected and actual, the skip list and the
closing line ``N passed, N failed, N skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from attrs import frozen

from liqspec.conformance.protocol import shown

__all__ = [
    "CaseReport",
    "apply_skip",
    "first_difference",
    "judge",
    "summary_line",
    "unknown_skips",
]


@frozen
class CaseReport:
    """The outcome of one vector: passed, failed, skipped or errored, and why."""

    id: str
    status: str
    detail: str = ""
    field: str = ""
    expected: Any = None
    actual: Any = None
    rules: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready mapping."""
        fields = ("id", "status", "detail", "field", "expected", "actual")
        return {**{name: getattr(self, name) for name in fields}, "rules": list(self.rules)}


def first_difference(  # noqa: PLR0911 - one return per shape of value compared
    expected: Any, actual: Any, path: str = ""
) -> tuple[str, Any, Any] | None:
    """Return (field path, expected, actual) of the first difference, or None (VEC-5).

    >>> first_difference({"a": [1, 2]}, {"a": [1, 3]})
    ('a[1]', 2, 3)
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual or key not in expected:
                return where, expected.get(key), actual.get(key)
            found = first_difference(expected[key], actual[key], where)
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{path}.length", len(expected), len(actual)
        return None
    return (
        None if expected == actual and type(expected) is type(actual) else (path, expected, actual)
    )


def judge(  # noqa: PLR0911 - one return per kind of reply
    vector: dict[str, Any], reply: dict[str, Any], mapping: dict[str, str]
) -> CaseReport:
    """Compare one reply with its vector, strictly (VEC-5); ``mapping`` renames reasons."""
    rules = tuple(vector.get("rules", ()))
    case_id = vector["id"]
    if reply["type"] == "skipped":
        return CaseReport(case_id, "skipped", _said(reply.get("reason")), rules=rules)
    if reply["type"] == "errored":
        detail = _said(reply.get("message"))
        if "reason" in reply:
            detail = f"{_said(reply['reason'])}: {detail}"
        return CaseReport(case_id, "errored", detail, rules=rules)
    if ("output" in reply) == ("error" in reply) or not isinstance(reply.get("error", ""), str):
        detail = "a result has either an output or an error (a reason name)"
        return CaseReport(case_id, "errored", detail, rules=rules)
    if "expected_error" in vector:
        want = vector["expected_error"]["reason"]
        got = mapping.get(reply.get("error", ""), reply.get("error"))
        if got == want:
            return CaseReport(case_id, "passed", rules=rules)
        actual = got if got is not None else reply.get("output")
        return CaseReport(case_id, "failed", "wrong rejection", "error", want, actual, rules)
    if "error" in reply:
        return CaseReport(
            case_id, "failed", "rejected a valid case", "error", None, reply["error"], rules
        )
    difference = first_difference(vector["expected"], reply["output"])
    if difference is None:
        return CaseReport(case_id, "passed", rules=rules)
    field, want, got = difference
    return CaseReport(case_id, "failed", "different result", field, want, got, rules)


def _said(value: object) -> str:
    """Return free text from a reply on one line, at most 200 characters."""
    text = " ".join(value.splitlines()) if isinstance(value, str) else shown(value)
    return text if len(text) <= 200 else text[:197] + "..."


def apply_skip(report: CaseReport, skip: set[str]) -> CaseReport:
    """Apply the skip list: a listed failure is skipped, a listed pass is a failure."""
    if report.id not in skip:
        return report
    if report.status == "passed":
        return CaseReport(report.id, "failed", "listed in the skip list but now passes; remove it")
    return CaseReport(report.id, "skipped", f"skip list ({report.status}: {report.detail})")


def unknown_skips(skip: Iterable[str], ids: Iterable[str]) -> list[CaseReport]:
    """Return a failure for each skip-list id that names no vector (the list must not rot).

    >>> [r.detail for r in unknown_skips(["fee/a", "fee/gone"], ["fee/a"])]
    ['listed in the skip list but no vector has this id; remove it']
    """
    known = set(ids)
    detail = "listed in the skip list but no vector has this id; remove it"
    return [CaseReport(i, "failed", detail) for i in dict.fromkeys(skip) if i not in known]


def summary_line(reports: Sequence[CaseReport]) -> str:
    """Return the closing line ``N passed, N failed, N skipped`` (errored counts as failed).

    >>> summary_line([CaseReport("fee/a", "passed"), CaseReport("fee/b", "errored")])
    '1 passed, 1 failed, 0 skipped'
    """
    passed = sum(r.status == "passed" for r in reports)
    failed = sum(r.status in {"failed", "errored"} for r in reports)
    skipped = sum(r.status == "skipped" for r in reports)
    return f"{passed} passed, {failed} failed, {skipped} skipped"
