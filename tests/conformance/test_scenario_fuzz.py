"""Whole scenarios drawn at random: the strategy, the differential fuzzer, the seeded vectors."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from liqspec.base.files import check_schema
from liqspec.conformance.runner import run_suite
from liqspec.conformance.scenario_builder import scenarios
from liqspec.conformance.scenario_fuzz import (
    ScenarioKindUnsupportedError,
    fuzz_scenarios,
    queue_size,
    random_scenario_vectors,
)
from liqspec.conformance.vectors import canonical, evaluate
from tests.data import ROOT

ADAPTERS = ROOT / "tests" / "conformance" / "adapters"
REFERENCE = [sys.executable, "-m", "liqspec.cli", "adapter"]
SCENARIO_BUG = [sys.executable, str(ADAPTERS / "scenario_bug.py")]
STUB = [sys.executable, str(ADAPTERS / "stub.py")]
ANCHORS = set(
    re.findall(
        r'<a id="([A-Z]+-\d+)"></a>', "".join(p.read_text() for p in (ROOT / "spec").glob("*.md"))
    )
)


def draw_sample(count: int, seed_value: int) -> list[dict[str, Any]]:
    """Return ``count`` documents drawn by the strategy (generation only, no shrinking)."""
    documents: list[dict[str, Any]] = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(scenarios())
    def collect(document: dict[str, Any]) -> None:
        documents.append(document)

    collect()
    return documents


def records(output: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for step in output["steps"]:
        yield from step["records"]


def test_the_reference_adapter_agrees_on_drawn_scenarios() -> None:
    assert fuzz_scenarios(REFERENCE, 120, 1) == []


def test_a_queue_ordered_by_equity_is_found_and_shrunk() -> None:
    (finding,) = fuzz_scenarios(SCENARIO_BUG, 200, 4)
    vector = finding.vector
    scenario = vector["input"]["scenario"]
    shown = canonical(vector)
    print(f"{finding.difference}\n{shown}")  # noqa: T201 - the shrunk case, with -s
    assert finding.field.startswith("output."), shown
    assert 2 <= len(scenario["accounts"]) <= 4, shown
    assert 1 <= len(scenario["events"]) <= 4, shown
    assert vector["id"].startswith("scenario/fuzz-")
    assert vector["features"] == ["fuzz", "scenario"]
    assert {"LIQ-3", "LIQ-10"} <= set(vector["rules"]) <= ANCHORS
    check_schema(vector, "vector")
    assert evaluate("scenario", vector["input"]) == {"output": vector["expected"]}
    (against_bug,) = run_suite([vector], SCENARIO_BUG)
    assert against_bug.status == "failed"
    (against_reference,) = run_suite([vector], REFERENCE)
    assert against_reference.status == "passed"


def test_an_adapter_without_scenarios_is_refused() -> None:
    with pytest.raises(ScenarioKindUnsupportedError, match="does not support scenario"):
        fuzz_scenarios([*STUB, "other-features"], 5, 0)


_REACHED: dict[str, Callable[[dict[str, Any]], bool]] = {
    "a liquidation step": lambda r: r["kind"] == "liquidation-step",
    "an optimal step sized above its health target from a realised volatility": lambda r: (
        r["kind"] == "liquidation-sized" and r["volatility_source"] == "realised"
        and r["minimum"] != r["chosen"]
    ),
    "ADL over two counterparties": lambda r: (
        r["kind"] == "deleveraged" and len(r["allocations"]) >= 2
    ),
    "a cooldown": lambda r: r["kind"] == "liquidation-waiting" and r["reason"] == "cooldown",
    "a halt level": lambda r: (
        r["kind"] == "breaker-tripped" and r["breaker"].startswith("halt-level")
    ),
    "a step paused by a halt": lambda r: (
        r["kind"] == "liquidation-waiting" and r["reason"] == "halted"
    ),
    "a limit at the band": lambda r: (
        r["kind"] == "liquidation-step" and r["limit_reason"] == "price-band"
    ),
    "a risk adjustment": lambda r: r["kind"] == "risk-adjusted",
    "a risk adjustment from an implied feed": lambda r: (
        r["kind"] == "risk-adjusted" and r["volatility_source"] == "implied"
    ),
    "a split fee": lambda r: r["kind"] == "liquidation-fees" and r["liquidator_fee"] != "0",
    "a parameter change": lambda r: r["kind"] == "parameters-changed",
    "bad debt": lambda r: r["kind"] == "bad-debt",
}  # fmt: skip
"""What the drawn scenarios must reach, beyond the policies and methods counted below."""


def test_drawn_scenarios_load_and_cover_the_engine() -> None:
    """Samples of 200 (seeds 1, 2, ...) until every feature is reached, at most eight.

    The sample of one seed also depends on the literals of the modules loaded (Hypothesis's
    local constants), so it differs between this file alone and the whole suite: the test
    asks for coverage within a bounded number of draws, not from one fixed sample.
    """
    documents = draw_sample(200, 1)
    assert [canonical(d) for d in documents] == [canonical(d) for d in draw_sample(200, 1)]
    outputs: list[dict[str, Any]] = []
    for seed_value in range(1, 9):
        sample = documents if seed_value == 1 else draw_sample(200, seed_value)
        answers = [evaluate("scenario", {"scenario": d}) for d in sample]
        loaded = [answer["output"] for answer in answers if "output" in answer]
        assert len(loaded) >= 0.9 * len(sample)
        assert all(2 <= len(d["accounts"]) <= 50 and d["events"] for d in sample)
        outputs += loaded
        seen = [r for output in outputs for r in records(output)]
        missing = [name for name, reached in _REACHED.items() if not any(map(reached, seen))]
        policies = {r["policy"] for r in seen if r["kind"] == "liquidation-step"}
        methods = {r["method"] for r in seen if r["kind"] == "deleveraged"}
        if not missing and len(policies) == 4 and len(methods) == 3:
            break
    assert missing == []
    assert policies == {"health", "tier-step", "chunk", "optimal"}
    assert methods == {"adl", "socialize", "bilateral"}
    assert {len(d["scenario"]["markets"]) for d in documents} == {1, 2, 3}
    assert max(queue_size(output) for output in outputs) >= 3
    events = {step["event"]["kind"] for output in outputs for step in output["steps"]}
    assert events == {
        "mark", "book", "deposit", "withdraw", "fill", "clock", "index",
        "trade", "reference", "parameters", "add-margin", "remove-margin", "implied-volatility",
        "open-interest",
    }  # fmt: skip
    units = {r["kind"] for r in seen if "@" in r.get("account", "")}  # isolated units (STATE-11)
    assert {"filled", "liquidation-started", "takeover"} <= units
    assert {"margin-added", "margin-removed"} <= {r["kind"] for r in seen}


def test_random_scenario_vectors_are_seeded_and_pass_the_reference() -> None:
    vectors = random_scenario_vectors(7, 6)
    assert [canonical(v) for v in vectors] == [canonical(v) for v in random_scenario_vectors(7, 6)]
    assert [v["id"] for v in vectors] == [f"scenario/random-7-{n}" for n in range(6)]
    for vector in vectors:
        check_schema(vector, "vector")
        assert vector["features"] == ["random", "scenario"]
        assert {"STATE-8", "STATE-10"} <= set(vector["rules"]) <= ANCHORS, vector["id"]
        assert evaluate("scenario", vector["input"]) == {"output": vector["expected"]}
    assert all("LIQ-10" in v["rules"] for v in vectors[:4])
    assert {"INS-4", "LIQ-3"} <= set(vectors[2]["rules"])
    assert "INS-5" in vectors[3]["rules"]
    adl = [r for r in records(vectors[2]["expected"]) if r["kind"] == "deleveraged"]
    assert max(len(r["allocations"]) for r in adl) >= 3
    assert queue_size(vectors[0]["expected"]) >= 3
    assert random_scenario_vectors(8, 1) != vectors[:1]
