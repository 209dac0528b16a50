"""The runner against the reference adapter, faulty adapters and a second-language adapter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from liqspec.conformance.reports import CaseReport, summary_line
from liqspec.conformance.runner import HandshakeError, run_one_shot, run_suite
from tests.data import ROOT

VECTORS = [json.loads(p.read_text()) for p in sorted((ROOT / "spec" / "vectors").rglob("*.json"))]
ADAPTERS = ROOT / "tests" / "conformance" / "adapters"
FAULTY = [sys.executable, str(ADAPTERS / "faulty.py")]
STUB = [sys.executable, str(ADAPTERS / "stub.py")]
REFERENCE = [sys.executable, "-m", "liqspec.cli", "adapter"]


def pick(kind: str, count: int | None = None) -> list[dict[str, Any]]:
    chosen = [v for v in VECTORS if v["kind"] == kind]
    return chosen[:count] if count else chosen


def statuses(reports: list[CaseReport]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.status] = counts.get(report.status, 0) + 1
    return counts


def test_the_reference_adapter_passes_every_vector() -> None:
    reports = run_suite(VECTORS, REFERENCE)
    assert statuses(reports) == {"passed": len(VECTORS)}
    assert summary_line(reports) == f"{len(VECTORS)} passed, 0 failed, 0 skipped"


def test_one_shot_mode() -> None:
    cases = pick("fee") + pick("shares")
    reports = run_one_shot(cases, [*REFERENCE, "--one-shot"])
    assert statuses(reports) == {"passed": len(cases)}


@pytest.mark.parametrize(
    ("mode", "kind", "field"),
    [
        ("wrong-rounding", "maintenance", "maintenance_margin"),
        ("non-strict-trigger", "margin", "liquidation_price"),  # one tick off at equality
        ("wrong-tier", "maintenance", "maintenance_margin"),
    ],
)
def test_engine_defects_are_caught_precisely(mode: str, kind: str, field: str) -> None:
    reports = run_suite(pick(kind), [*FAULTY, mode])
    failed = [r for r in reports if r.status == "failed"]
    assert failed, mode
    assert any(r.field.endswith(field) for r in failed), [r.field for r in failed[:5]]
    assert all(r.expected != r.actual for r in failed)
    assert all(r.rules for r in failed)


@pytest.mark.parametrize(
    ("mode", "message"),
    [("crash", "exited (code 3)"), ("hang", "no reply within 2 s"), ("garbage", "not JSON"),
     ("partial", "output cut short"), ("flood", "longer than 4194304 bytes")],
)  # fmt: skip
def test_protocol_defects_are_reported_and_the_run_goes_on(mode: str, message: str) -> None:
    cases = pick("maintenance", 12)
    reports = run_suite(cases, [*FAULTY, mode], timeout=2.0)
    assert len(reports) == len(cases)
    assert reports[4].status == "errored", reports[4]
    assert message in reports[4].detail, reports[4].detail
    # the restarted adapter counts cases afresh and misbehaves once more, at case 10
    assert statuses(reports) == {"passed": len(cases) - 2, "errored": 2}
    assert reports[9].status == "errored"


@pytest.mark.parametrize(
    ("mode", "message"),
    [("not-object", "a message must be a JSON object, got list"),
     ("huge-integer", "an integer of more than 4300 digits"),
     ("deep", "nested deeper than 32 levels")],
)  # fmt: skip
def test_replies_that_are_not_messages_are_errored_and_the_run_goes_on(
    mode: str, message: str
) -> None:
    cases = pick("fee", 3)
    reports = run_suite(cases, [*STUB, mode, cases[1]["id"]])
    assert [r.status for r in reports] == ["skipped", "errored", "skipped"]
    assert reports[1].detail == f"garbage instead of a reply: {message}"


def test_a_reply_out_of_step_restarts_the_adapter() -> None:
    cases = pick("fee", 3)
    reports = run_suite(cases, [*STUB, "twice", cases[0]["id"]])
    # the first case is answered twice: the second reads the stale copy, the adapter restarts
    assert [r.status for r in reports] == ["skipped", "errored", "skipped"]
    assert reports[1].detail == f"a reply to another case: id {cases[0]['id']!r}"


@pytest.mark.parametrize(
    ("mode", "message"),
    [("exit-at-hello", "exited (code 4)"), ("exit-after-hello", "exit"),
     ("hello-list", "must be a JSON object, got list"),
     ("hello-string", "must be a JSON object, got str"),
     ("no-features", "features must be a list of strings, got None"),
     ("features-number", "features must be a list of strings, got 5"),
     ("features-nested", "features must be a list of strings, got [['fee']]"),
     ("protocol-2", "speaks protocol 2"), ("chatter", "a line nobody asked for"),
     ("silent", "no reply within 0.5 s")],
)  # fmt: skip
def test_a_failed_handshake_stops_the_run(mode: str, message: str) -> None:
    with pytest.raises(HandshakeError) as caught:
        run_suite(pick("fee"), [*STUB, mode], timeout=0.5, restarts=1)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_adapter_that_answers_nothing_stops_the_run() -> None:
    # a good hello, then a flood on every case: no case is ever answered
    with pytest.raises(HandshakeError, match="answered none of the cases sent \\(2 starts\\)"):
        run_suite(pick("fee"), [*STUB, "flood-bytes"], restarts=1)


def test_a_program_that_cannot_start_is_a_handshake_error(tmp_path: Path) -> None:
    script = tmp_path / "adapter"
    script.write_text("#!/bin/sh\n")  # not executable
    for command in ([str(tmp_path / "missing")], [str(script)]):
        with pytest.raises(HandshakeError, match="cannot start the adapter"):
            run_suite(pick("fee"), command)
        with pytest.raises(HandshakeError, match="cannot start the adapter"):
            run_one_shot(pick("fee"), command)


MEASURE = """
import json, resource, sys
from liqspec.conformance.runner import run_one_shot, run_suite
vectors, adapter = json.loads(sys.argv[1]), sys.argv[2:]
reports = []
for mode in ("flood-bytes", "flood-lines"):
    reports += run_suite(vectors, [*adapter, mode], restarts=5)
    reports += run_one_shot(vectors, [*adapter, mode, "--one-shot"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"details": [r.detail for r in reports], "peak": peak}))
"""


LAUNCH = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"
"""Runs the measurement from a small process: Linux counts a parent's peak at exec in the
child's ru_maxrss, so measuring straight from pytest would report pytest's size."""


def test_a_flooding_adapter_costs_the_runner_little_memory() -> None:
    # the adapters write until killed: gigabytes without a newline, or endless short lines
    cases = pick("fee", 3)
    done = subprocess.run(  # noqa: S603 - this interpreter and the test's own adapter
        [sys.executable, "-c", LAUNCH, sys.executable, "-c", MEASURE, json.dumps(cases),
         *STUB],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    measured = json.loads(done.stdout)
    peak = measured["peak"] * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS
    assert peak < 100 << 20, f"peak RSS {peak >> 20} MB"
    details = measured["details"]
    assert len(details) == 4 * len(cases)
    flood = "garbage instead of a reply: a line longer than 4194304 bytes (a flood)"
    assert details == [flood] * 6 + ["a result without the case's id"] * 6


def test_skip_list_entries_must_keep_failing() -> None:
    cases = pick("fee")
    reports = run_suite(cases, REFERENCE, skip=[cases[0]["id"]])
    assert reports[0].status == "failed"
    assert "now passes" in reports[0].detail


def test_reason_mapping() -> None:
    negative = [v for v in VECTORS if "expected_error" in v][:3]
    script = ROOT / "tests" / "conformance" / "adapters" / "renaming.py"
    reports = run_suite(negative, [sys.executable, str(script)])
    assert all(r.status == "failed" for r in reports)
    mapping = {
        f"x-{v['expected_error']['reason']}": v["expected_error"]["reason"] for v in negative
    }
    reports = run_suite(negative, [sys.executable, str(script)], mapping=mapping)
    assert all(r.status == "passed" for r in reports)


def test_javascript_adapter_for_the_margin_subset() -> None:
    subset = pick("maintenance") + pick("fee") + pick("shares") + pick("margin", 3)
    reports = run_suite(subset, ["node", str(ROOT / "docs" / "examples" / "adapter.js")])
    counts = statuses(reports)
    assert counts.get("failed", 0) == 0, [r for r in reports if r.status == "failed"][:3]
    assert counts["passed"] == len(subset) - 3
    assert counts["skipped"] == 3


def test_fuzzing_finds_and_shrinks_a_rounding_bug(tmp_path: Path) -> None:
    from liqspec.conformance.fuzz import fuzz  # noqa: PLC0415
    from liqspec.conformance.vectors import evaluate  # noqa: PLC0415

    outcome = fuzz([*FAULTY, "wrong-rounding"], spec=ROOT / "spec", out=tmp_path,
                   examples=200, seed_value=3)  # fmt: skip
    assert outcome.vector is not None
    assert outcome.path is not None
    vector = json.loads(outcome.path.read_text())
    assert vector["input"]["notional"] == "0.00000001"  # shrunk to one quantum
    assert evaluate(vector["kind"], vector["input"]) == {"output": vector["expected"]}
    (report,) = run_suite([vector], [*FAULTY, "wrong-rounding"])
    assert report.status == "failed"


def test_fuzzing_the_reference_finds_nothing(tmp_path: Path) -> None:
    from liqspec.conformance.fuzz import fuzz  # noqa: PLC0415

    outcome = fuzz(REFERENCE, spec=ROOT / "spec", out=tmp_path, examples=100, seed_value=1)
    assert outcome.vector is None
    assert outcome.examples > 0


def test_reference_adapter_messages_follow_the_protocol_schemas() -> None:
    import jsonschema  # noqa: PLC0415

    from liqspec.conformance.adapter import answer  # noqa: PLC0415

    request = json.loads((ROOT / "spec" / "protocol" / "request.schema.json").read_text())
    reply = json.loads((ROOT / "spec" / "protocol" / "reply.schema.json").read_text())
    messages: list[dict[str, Any]] = [{"type": "hello", "protocol": 1}]
    messages += [
        {"type": "case", "id": v["id"], "kind": v["kind"], "input": v["input"]}
        for v in VECTORS[::40]
    ]
    for message in messages:
        jsonschema.validate(message, request)
        jsonschema.validate(answer(message), reply)
