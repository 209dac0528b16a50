"""Whole scenarios drawn at random: a Hypothesis strategy, a differential fuzzer, seeded vectors.

:func:`scenarios` draws scenario documents (spec/06-state.md#STATE-10) with their markets
inline, as the ``input.scenario`` of a ``scenario`` vector (VEC-3): 2-50 accounts over 1-3
bundled markets, thin, empty or refreshed books, mark moves that put several accounts into
liquidation in one event, every policy, small funds, ADL and socialization, halts and bands,
risk adjustment with phase-in, and every kind of event. :func:`fuzz_scenarios` sends them to an
adapter and to the reference, and shrinks a disagreement to a minimal vector.
:func:`random_scenario_vectors` keeps seeded scenarios as vectors for the suite.

One builder makes every document; it reads its choices from a *draw*: Hypothesis's (so a
failing case shrinks toward one market, two accounts and one event) or a seeded stream of
SHA-256 blocks (so the vectors are the same on every machine and every Hypothesis version).
Hypothesis is imported only by :func:`scenarios` and :func:`fuzz_scenarios`.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from attrs import frozen

from liqspec.base.errors import LiqspecError
from liqspec.conformance.fuzzing import FuzzedAdapter, search
from liqspec.conformance.reports import first_difference
from liqspec.conformance.runner import Runner
from liqspec.conformance.scenario_builder import build_scenario, scenarios
from liqspec.conformance.scenario_draws import SeededDraw
from liqspec.conformance.vectors import Vector, canonical, evaluate, make_vector

if TYPE_CHECKING:
    pass

# --- the rules a scenario exercises ------------------------------------------------------------

_EVENT_RULES = {
    "mark": ["STATE-3"], "book": ["STATE-2", "STATE-3"], "deposit": ["STATE-4"],
    "withdraw": ["STATE-5"], "fill": ["STATE-6", "STATE-9"], "clock": ["STATE-7"],
    "index": ["MARK-1"], "trade": ["MARK-1"], "reference": ["BRK-3"],
    "parameters": ["RISK-5"],
}  # fmt: skip

_RECORD_RULES = {
    "liquidation-started": ["LIQ-1", "LIQ-3", "LIQ-10", "OUT-2"],
    "liquidation-step": ["LIQ-4", "LIQ-5", "LIQ-6", "LIQ-7", "LIQ-8", "LIQ-10", "OUT-3",
                         "STATE-9", "CONV-14"],
    "takeover": ["LIQ-9", "INS-1", "OUT-4", "STATE-9"],
    "fund-change": ["INS-1", "INS-2", "OUT-5"],
    "deleveraged": ["INS-2", "INS-3", "OUT-6"],
    "bad-debt": ["INS-6", "OUT-7"],
    "liquidation-ended": ["LIQ-2", "OUT-8"],
    "mark-derived": ["MARK-1", "MARK-4", "OUT-10"],
    "breaker-tripped": ["OUT-11"],
    "withdrawals-blocked": ["BRK-5", "OUT-12"],
    "risk-adjusted": ["RISK-1", "RISK-2", "RISK-3", "RISK-4", "OUT-13"],
    "parameters-changed": ["RISK-5", "RISK-6", "OUT-13"],
    "liquidation-fees": ["LIQ-12", "OUT-3"],
    "fund-drawdown": ["INS-8", "OUT-5"],
    "open-interest-set": ["MARGIN-12", "OUT-1"],
    "cascade-predicted": ["RISK-7", "OUT-13"],
}  # fmt: skip

_WAITING_RULES = {
    "cooldown": ["LIQ-4"], "no-liquidity": ["LIQ-8"], "halted": ["BRK-3", "BRK-6"],
    "dynamic": ["BRK-4", "BRK-6"], "divergence": ["BRK-5", "BRK-6"], "stale": ["BRK-5", "BRK-6"],
}  # fmt: skip


def _record_rules(record: dict[str, Any]) -> list[str]:
    kind = record["kind"]
    rules = list(_RECORD_RULES.get(kind, ["OUT-1"]))
    if kind == "liquidation-waiting":
        rules += ["LIQ-10", "OUT-3", *_WAITING_RULES.get(record["reason"], [])]
    if kind == "liquidation-step" and record["limit_reason"] == "price-band":
        rules += ["BRK-1", "BRK-2"]
    if kind == "liquidation-step" and record["limit_reason"] == "fillable-price":
        rules += ["LIQ-13"]
    if kind == "deleveraged":
        rules.append({"adl": "INS-4", "bilateral": "INS-7"}.get(record["method"], "INS-5"))
    if kind == "mark-derived":
        rules.append("MARK-2" if record["source"] == "median" else "MARK-3")
    if kind == "breaker-tripped":
        rules.append("BRK-4" if record["breaker"] == "dynamic" else "BRK-3")
    return rules


def exercised_rules(output: dict[str, Any]) -> list[str]:
    """Return the rules a replayed scenario exercised, from its output (OUT-9).

    Every replay exercises the state machine; each event kind, each rejection and each record
    adds the rules behind it: a ``deleveraged`` record by ADL adds INS-4, by socialization INS-5.
    """
    rules = {"STATE-1", "STATE-8", "STATE-10", "OUT-1", "OUT-9", "OUT-14"}
    for step in output["steps"]:
        rules.update(_EVENT_RULES.get(step["event"]["kind"], []))
        if step["rejected"] is not None:
            rules.update([step["rejected"]["rule"], "STATE-8"])
        for record in step["records"]:
            rules.update(_record_rules(record))
        accounts = {r["account"] for r in step["records"] if r["kind"] == "liquidation-started"}
        if len(accounts) > 1:
            rules.add("LIQ-3")
    return sorted(rules)


# --- seeded vectors ----------------------------------------------------------------------------


def queue_size(output: dict[str, Any]) -> int:
    """Return the most accounts given a step in one event (LIQ-3's queue)."""
    stepped = {"liquidation-step", "liquidation-waiting", "takeover"}
    return max(
        (
            len({r["account"] for r in s["records"] if r["kind"] in stepped})
            for s in output["steps"]
        ),
        default=0,
    )


def _records(output: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for step in output["steps"]:
        yield from step["records"]


def _policies(output: dict[str, Any]) -> set[str]:
    return {r["policy"] for r in _records(output) if r["kind"] == "liquidation-step"}


def _adl_counterparties(output: dict[str, Any]) -> int:
    return max(
        (len(r["allocations"]) for r in _records(output)
         if r["kind"] == "deleveraged" and r["method"] == "adl"),
        default=0,
    )  # fmt: skip


def _policy_set(document: dict[str, Any]) -> set[str]:
    """Return the policies of the document's markets (``health`` unless overridden)."""
    overrides = document.get("liquidation", {})
    return {
        overrides.get(m["market"]["symbol"], {}).get("policy", "health")
        for m in document["scenario"]["markets"]
    }


def _crowd(document: dict[str, Any]) -> bool:
    """Return whether an ADL market has a position with 3 smaller ones on the other side."""
    held: dict[str, list[tuple[str, Fraction]]] = {}
    for account in document["accounts"]:
        for p in account.get("positions", []):
            held.setdefault(p["market"], []).append((p["side"], Fraction(p["size"])))
    overrides = document.get("liquidation", {})
    return any(
        sum(1 for other, smaller in positions if other != side and smaller < size) >= 3
        for market, positions in held.items()
        if overrides.get(market, {}).get("deleveraging", "adl") == "adl"
        for side, size in positions
    )


def _anything(document: dict[str, Any]) -> bool:  # noqa: ARG001 - a goal's cheap pre-check
    return True


_Goal = tuple[str, Callable[[dict[str, Any]], bool], Callable[[dict[str, Any]], bool]]

_GOALS: tuple[_Goal, ...] = (
    ("a queue of several accounts in one event", _anything, lambda o: queue_size(o) >= 3),
    ("mixed liquidation policies", lambda d: len(_policy_set(d)) >= 2,
     lambda o: len(_policies(o)) >= 2),
    ("ADL over many counterparties", _crowd, lambda o: _adl_counterparties(o) >= 3),
    ("a socialized loss", _anything, lambda o: any(
        r["kind"] == "deleveraged" and r["method"] == "socialize" for r in _records(o))),
    ("a halt or a band", _anything, lambda o: any(
        r["kind"] == "breaker-tripped" or r.get("limit_reason") == "price-band"
        for r in _records(o))),
    ("a risk adjustment", _anything,
     lambda o: any(r["kind"] == "risk-adjusted" for r in _records(o))),
)  # fmt: skip
"""What each seeded vector is chosen to show, in turn: a cheap check of the document (to
spare replays), then the check of the reference's output."""


def _isolated(document: dict[str, Any]) -> bool:
    """Return whether the document has an isolated position or a margin move (STATE-11)."""
    return any(
        p.get("margin_mode") == "isolated"
        for account in document["accounts"]
        for p in account.get("positions", [])
    ) or any(e["kind"] in {"add-margin", "remove-margin"} for e in document["events"])


def _unit_records(output: dict[str, Any], kinds: set[str]) -> Iterator[dict[str, Any]]:
    """Yield the records of ``kinds`` that name an isolated unit (``id@market``)."""
    for record in _records(output):
        names = [record.get("account", ""), *(a["account"] for a in record.get("allocations", []))]
        if record["kind"] in kinds and any("@" in name for name in names):
            yield record


_ISOLATED_GOALS: tuple[_Goal, ...] = (
    ("an isolated unit liquidated", _isolated,
     lambda o: any(_unit_records(o, {"liquidation-step", "takeover"}))),
    ("margin moved both ways", _isolated, lambda o: {"margin-added", "margin-removed"} <= {
        r["kind"] for r in _records(o)}),
    ("an isolated unit charged for a deficit", _isolated,
     lambda o: any(_unit_records(o, {"deleveraged"}))),
    ("an isolated fill", _isolated,
     lambda o: any(_unit_records(o, {"filled"}))),
)  # fmt: skip
"""The goals of the seeded vectors with isolated units (STATE-11, STATE-12)."""

MAX_VECTOR_ACCOUNTS = 12
"""Most accounts in a seeded vector: they stay quick to replay and to read."""

_TRIES = 3000
"""Most documents drawn for one seeded vector before giving up."""


def random_scenario_vectors(
    seed: int, count: int, first_tries: Mapping[str, int] | None = None, generation: int = 1
) -> list[Vector]:
    """Return ``count`` seeded random scenarios as vectors ``scenario/random-<seed>-<n>``.

    Vector ``n`` is the first scenario drawn from ``(seed, n, try)`` that loads, has at most
    :data:`MAX_VECTOR_ACCOUNTS` accounts and shows the goal ``n`` (in turn: a queue of several
    accounts, mixed policies, ADL over many counterparties, a socialized loss, a halt or band,
    a risk adjustment), drawn by the builder's ``generation`` 1; from generation 2 on, the goals
    of isolated units instead. The same seed gives the same vectors on every machine.

    ``first_tries`` maps a vector's name to the try the search starts from (default 0): given
    the tries that the vectors' descriptions record, it rebuilds them without the failed draws
    before.
    """
    vectors = []
    isolated = generation >= 2
    goals = _ISOLATED_GOALS if isolated else _GOALS
    for n in range(count):
        goal, promising, reached = goals[n % len(goals)]
        name = f"random-{seed}-{n}"
        start = (first_tries or {}).get(name, 0)
        for attempt in range(start, _TRIES):
            key = f"liqspec-scenario/{seed}/{n}/{attempt}"
            document = build_scenario(SeededDraw(key), name, generation)
            if len(document["accounts"]) > MAX_VECTOR_ACCOUNTS or not promising(document):
                continue
            answer = evaluate("scenario", {"scenario": document})
            if "output" in answer and reached(answer["output"]):
                break
        else:
            raise LiqspecError(f"no scenario of seed {seed} showed {goal} in {_TRIES} tries")
        description = f"a seeded random scenario (seed {seed}, try {attempt}): {goal}"
        rules = exercised_rules(answer["output"])
        case = {"scenario": document}
        features = ["scenario", "random", *(["isolated"] if isolated else [])]
        vectors.append(make_vector("scenario", name, description, case, rules, features))
    return vectors


# --- differential fuzzing ----------------------------------------------------------------------


class ScenarioKindUnsupportedError(LiqspecError):
    """The adapter does not list ``scenario`` among its features: nothing can be compared."""


@frozen
class Finding:
    """A minimal disagreement: the shrunk case as a vector, and the first differing field."""

    vector: Vector
    field: str
    expected: Any
    actual: Any

    @property
    def difference(self) -> str:
        """One line: where, what the reference says, what the implementation says."""
        return f"{self.field}: expected {self.expected!r}, got {self.actual!r}"[:300]


def _without_account(document: dict[str, Any], index: int) -> dict[str, Any]:
    smaller = copy.deepcopy(document)
    gone = smaller["accounts"].pop(index)["id"]
    smaller["events"] = [e for e in smaller["events"] if e.get("account") != gone]
    return smaller


def _without_event(document: dict[str, Any], index: int) -> dict[str, Any]:
    smaller = copy.deepcopy(document)
    del smaller["events"][index]
    return smaller


def _without_market(document: dict[str, Any], symbol: str) -> dict[str, Any]:
    """Drop a market with everything that names it; accounts keep their other positions."""
    smaller = copy.deepcopy(document)
    markets = smaller["scenario"]["markets"]
    smaller["scenario"]["markets"] = [m for m in markets if m["market"]["symbol"] != symbol]
    assets = {m["market"]["settle_asset"] for m in smaller["scenario"]["markets"]}
    for section in ("liquidation", "breakers", "risk", "mark", "books", "marks"):
        smaller.get(section, {}).pop(symbol, None)
        if section in smaller and not smaller[section] and section != "marks":
            del smaller[section]
    for account in smaller["accounts"]:
        positions = [p for p in account.get("positions", []) if p["market"] != symbol]
        account.pop("positions", None)
        if positions:
            account["positions"] = positions
    smaller["accounts"] = [a for a in smaller["accounts"] if a["asset"] in assets]
    ids = {a["id"] for a in smaller["accounts"]}

    def kept(event: dict[str, Any]) -> bool:  # a deposit may open its account
        gone = event.get("account", "") not in {"", *ids} and event["kind"] != "deposit"
        return event.get("market") != symbol and not gone

    smaller["events"] = [e for e in smaller["events"] if kept(e)]
    if "funds" in smaller:
        smaller["funds"] = {k: v for k, v in smaller["funds"].items() if k in assets}
    return smaller


def _without_table(document: dict[str, Any], section: str) -> dict[str, Any]:
    smaller = copy.deepcopy(document)
    del smaller[section]
    return smaller


def _smaller(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield documents one part smaller: a market, an account, an event, an optional table."""
    if len(document["scenario"]["markets"]) > 1:
        for market in document["scenario"]["markets"]:
            yield _without_market(document, market["market"]["symbol"])
    if len(document["accounts"]) > 2:
        for index in reversed(range(len(document["accounts"]))):
            yield _without_account(document, index)
    if len(document["events"]) > 1:
        for index in reversed(range(len(document["events"]))):
            yield _without_event(document, index)
    for section in ("breakers", "risk", "mark", "liquidation", "funds"):
        if section in document:
            yield _without_table(document, section)


MAX_REDUCTIONS = 200
"""Most comparisons spent cutting a shrunk scenario down by whole parts."""


def _reduce(document: dict[str, Any], differs: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Cut whole markets, accounts, events and tables while the disagreement stays.

    Hypothesis shrinks the draws; this finishes the job on the document, where deleting an
    account that later draws depend on would shift every draw after it.
    """
    budget = MAX_REDUCTIONS
    progress = True
    while progress and budget > 0:
        progress = False
        for candidate in _smaller(document):
            budget -= 1
            if differs(candidate):
                document, progress = candidate, True
                break
            if budget <= 0:
                break
    return document


def _finding(case: dict[str, Any], where: str, want: Any, got: Any, seed_value: int) -> Finding:
    digest = hashlib.sha256(canonical({"kind": "scenario", "input": case}).encode()).hexdigest()
    answer = evaluate("scenario", case)
    rules = exercised_rules(answer["output"]) if "output" in answer else ["STATE-10"]
    description = f"found by liqspec fuzz --kind scenario (seed {seed_value})"
    vector = make_vector(
        "scenario", f"fuzz-{digest[:12]}", description, case, rules, ["scenario", "fuzz"]
    )
    return Finding(vector, where, want, got)


def fuzz_scenarios(
    command: Sequence[str], examples: int, seed: int, *, timeout: float = 10.0
) -> list[Finding]:
    """Send ``examples`` drawn scenarios to the adapter and to the reference; shrink a difference.

    Returns no finding when they agree on every scenario, else one: the minimal disagreeing
    scenario as a vector (the reference's answer expected) and the first differing field
    (VEC-5). Raises :class:`HandshakeError` when the adapter fails its handshake (at the start
    or on a restart) and :class:`ScenarioKindUnsupportedError` when it does not support the
    ``scenario`` kind. Deterministic given the seed (and the adapter).
    """
    from hypothesis import HealthCheck, Phase, given, settings  # noqa: PLC0415
    from hypothesis import seed as seeded  # noqa: PLC0415

    runner = Runner(command, timeout)
    features = set(runner.start()["features"])
    if "scenario" not in features:
        runner.stop()
        detail = f"the adapter does not support scenario cases (features: {sorted(features)})"
        raise ScenarioKindUnsupportedError(detail)
    adapter = FuzzedAdapter(runner)
    failures: list[tuple[dict[str, Any], tuple[str, Any, Any]]] = []
    compared: dict[str, tuple[str, Any, Any] | None] = {}  # shrinking meets a case again

    @seeded(seed)
    @settings(max_examples=examples, database=None, deadline=None, report_multiple_bugs=False,
              suppress_health_check=list(HealthCheck),
              phases=(Phase.generate, Phase.shrink))  # fmt: skip
    @given(scenarios())
    def agree(document: dict[str, Any]) -> None:
        case = {"scenario": document}
        key = canonical(case)
        if key not in compared:
            compared[key] = first_difference(
                evaluate("scenario", case), adapter.reply("scenario", case)
            )
        difference = compared[key]
        if difference is not None:
            failures.append((case, difference))
            raise AssertionError(difference[0])

    def differs(document: dict[str, Any]) -> bool:
        case = {"scenario": document}
        key = canonical(case)
        if key not in compared:
            expected = evaluate("scenario", case)
            compared[key] = (
                first_difference(expected, adapter.reply("scenario", case))
                if "output" in expected
                else None
            )
        return compared[key] is not None

    try:
        if not search(agree, adapter):
            return []
        case, _ = failures[-1]  # the last failure is the shrunk one
        if "output" in evaluate("scenario", case):  # a document the reference loads
            case = {"scenario": _reduce(case["scenario"], differs)}
        where, want, got = compared[canonical(case)] or failures[-1][1]
        return [_finding(case, where, want, got, seed)]
    finally:
        runner.stop()
