"""Differential fuzzing of another implementation against the reference (spec/13-conformance.md).

Hypothesis draws cases (maintenance margins on the bundled markets at any notional, fees,
shares), sends each to the implementation's adapter and to the reference, and on the first
disagreement shrinks it to a minimal case, which is written out as a new vector file.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from attrs import frozen
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from liqspec.conformance.runner import AdapterError, Runner, first_difference
from liqspec.conformance.vectors import canonical, evaluate
from liqspec.model.market_files import market_from_document
from liqspec.model.markets import format_amount

__all__ = ["FuzzOutcome", "fuzz"]


@frozen
class FuzzOutcome:
    """How many cases ran, and the minimal disagreeing vector (written to ``path``) if any."""

    examples: int
    vector: dict[str, Any] | None = None
    path: Path | None = None
    difference: str = ""


def _cases(markets: list[dict[str, Any]]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    def maintenance(document: dict[str, Any]) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        market = market_from_document(document)
        top = market.tiers[-1].cap * 2
        return st.integers(0, top).map(
            lambda n: ("maintenance", {"market": document, "notional": format_amount(market, n)})
        )

    fees = st.tuples(st.integers(0, 10**12), st.integers(-(10**12), 10**12)).map(
        lambda p: ("fee", {"nominal": str(p[0]), "surplus": str(p[1])})
    )
    shares = st.integers(1, 10**6).flatmap(
        lambda total: st.tuples(
            st.integers(0, 10**9), st.lists(st.integers(0, total), max_size=4)
        ).map(
            lambda p: (
                "shares",
                {"deficit": str(p[0]), "cuts": [str(c) for c in sorted(p[1])], "total": str(total)},
            )
        )
    )
    return st.one_of(st.sampled_from(markets).flatmap(maintenance), fees, shares)


def _reply(runner: Runner, kind: str, case: dict[str, Any]) -> dict[str, Any]:
    message = {"type": "case", "id": f"{kind}/fuzz", "kind": kind, "input": case}
    try:
        reply = runner.request(message)
    except AdapterError as error:
        runner.stop()
        runner.start()
        return {"errored": str(error)}
    return {key: reply[key] for key in ("output", "error") if key in reply} or {"reply": reply}


def fuzz(command: Sequence[str], *, spec: Path, out: Path, examples: int, seed_value: int,
         timeout: float = 10.0) -> FuzzOutcome:  # fmt: skip
    """Fuzz the adapter started by ``command``; write a minimal disagreement under ``out``."""
    documents = [tomllib.loads(p.read_text()) for p in sorted((spec / "markets").glob("*.toml"))]
    runner = Runner(command, timeout)
    features = set(runner.start().get("features", []))
    failures: list[tuple[str, dict[str, Any], str]] = []
    count = 0

    @seed(seed_value)
    @settings(max_examples=examples, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(_cases(documents))
    def agree(case: tuple[str, dict[str, Any]]) -> None:
        nonlocal count
        kind, data = case
        if kind not in features:
            return
        count += 1
        expected, actual = evaluate(kind, data), _reply(runner, kind, data)
        difference = first_difference(expected, actual)
        if difference is not None:
            where, want, got = difference
            failures.append((kind, data, f"{where}: expected {want!r}, got {got!r}"))
            raise AssertionError(failures[-1][2])

    try:
        agree()
    except AssertionError:
        kind, data, difference = failures[-1]  # the last failure is the shrunk one
        answer = evaluate(kind, data)
        digest = hashlib.sha256(canonical({"kind": kind, "input": data}).encode()).hexdigest()[:12]
        vector: dict[str, Any] = {
            "format": 1, "id": f"{kind}/fuzz-{digest}", "kind": kind,
            "description": f"found by liqspec fuzz (seed {seed_value})", "rules": [],
            "invariants": [], "features": ["fuzz"], "input": data,
        }  # fmt: skip
        vector.update({"expected": answer["output"]} if "output" in answer else
                      {"expected_error": {"reason": answer["error"]}})  # fmt: skip
        path = out / f"{vector['id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(canonical(vector), encoding="utf-8", newline="\n")
        return FuzzOutcome(count, vector, path, difference)
    finally:
        runner.stop()
    return FuzzOutcome(count)
