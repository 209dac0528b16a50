"""The output schemas hold for every output the reference produces (spec/09-outputs.md, OUT-14).

Every vector's ``expected`` matches the schema of its kind; ``check-market``, ``margin`` and
``run`` with ``--json`` match theirs on every bundled file; crafted scenarios reach the record
kinds and values the bundled ones do not; and broken documents are rejected, so the schemas
are not vacuous.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any, get_args

import jsonschema
import pytest
import referencing
from click.testing import CliRunner
from referencing.jsonschema import DRAFT202012

from liqspec.base.errors import Reason
from liqspec.base.files import schema
from liqspec.cli import main
from liqspec.engine.records import Record, record_kind
from liqspec.engine.state import EVENT_KINDS, Event
from tests.data import ACCOUNTS, MARKETS, ROOT

SCHEMAS = ROOT / "reference" / "liqspec" / "schemas"
NAMES = sorted(p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("out-*.schema.json"))
VECTORS = ROOT / "spec" / "vectors"
KINDS = ("market", "margin", "maintenance", "fee", "shares", "scenario")
OPTIONAL = {
    ("out-rejection", "detail"), ("out-event", "margin"),
    ("out-margin", "liquidation_price_displayed"), ("out-margin", "liquidation_price_exact"),
    ("out-market", "size_slope"), ("out-market", "size_rate_cap"),
}  # fmt: skip
"""The only optional fields: a rejection's detail is in ``run --json``, not in vectors; a
fill's ``margin`` is shown only when it is isolated (STATE-6); a displayed liquidation price
and its root only on a market that does not show it conservatively (PRICE-10); a market's
size slope and its cap only on a size-linear market (MARGIN-13)."""

Document = dict[str, Any]


def _whole_string_pattern(
    _validator: object, pattern: str, instance: object, _schema: object
) -> Iterator[jsonschema.ValidationError]:
    """``$`` is the end of the string, as in JSON Schema (CONV-12), not before a final newline."""
    if isinstance(instance, str) and not re.search(re.sub(r"(?<!\\)\$", r"\\Z", pattern), instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern}")


_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"pattern": _whole_string_pattern}
)


@cache
def _registry() -> referencing.Registry[Any]:
    resources = [DRAFT202012.create_resource(schema(name)) for name in NAMES]
    return referencing.Registry().with_resources((r.contents["$id"], r) for r in resources)


@cache
def _validator(name: str) -> Any:
    return _Validator(schema(name), registry=_registry(), format_checker=_date_checker())


def _date_checker() -> jsonschema.FormatChecker:
    return jsonschema.FormatChecker(["date"])


def errors(name: str, document: object) -> list[str]:
    """Return the violations of ``document`` against schema ``name``, with their paths."""
    found = _validator(name).iter_errors(document)
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in found]


def cli(*args: str) -> tuple[int, Any]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, json.loads(result.output)


def vectors(kind: str) -> list[Document]:
    return [json.loads(p.read_text()) for p in sorted((VECTORS / kind).glob("*.json"))]


def walk(node: object, path: str = "") -> Iterator[tuple[str, Document]]:
    """Yield every subschema (dict) of a schema with its JSON pointer."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from walk(value, f"{path}/{i}")


def kinds_defined(name: str) -> set[str]:
    return {
        d["properties"]["kind"]["const"]
        for d in schema(name)["$defs"].values()
        if "kind" in d.get("properties", {})
    }


# --- the schemas themselves ------------------------------------------------------------------


def test_there_is_a_schema_per_vector_kind_and_command() -> None:
    commands = {"out-cli-check-market", "out-cli-margin", "out-cli-run", "out-cli-error",
                "out-cli-cascade"}  # fmt: skip
    parts = {"out-common", "out-record", "out-event", "out-rejection"}
    assert set(NAMES) == {f"out-{kind}" for kind in KINDS} | commands | parts


@pytest.mark.parametrize("name", NAMES)
def test_each_schema_is_draft_2020_12_and_closed(name: str) -> None:
    document = schema(name)
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"urn:liqspec:schema:{name}:1"
    for path, node in walk(document):
        if node.get("type") != "object":
            continue
        assert "additionalProperties" in node, f"{name}{path} is open"
        if "properties" in node:
            assert node["additionalProperties"] is False, f"{name}{path}"
            optional = {key for key in node["properties"] if (name, key) in OPTIONAL}
            assert set(node["required"]) == set(node["properties"]) - optional, f"{name}{path}"


def test_record_and_event_kinds_are_the_engine_kinds() -> None:
    # record_kind names a class; an instance without fields is enough to ask it
    assert kinds_defined("out-record") == {record_kind(object.__new__(c)) for c in get_args(Record)}
    assert kinds_defined("out-event") == set(EVENT_KINDS.values())
    assert set(EVENT_KINDS) == set(get_args(Event))


def _pairs(name: str, at: list[str]) -> set[tuple[str, str]]:
    node: Any = schema(name)
    for key in at:
        node = node[key]
    return {
        (o["properties"]["reason"]["const"], o["properties"]["rule"]["const"])
        for o in node["oneOf"]
    }


def test_rejection_reasons_are_those_the_transition_raises() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "reference/liqspec/engine").glob("*.py"))
    raised = set(re.findall(r"EventRejectedError\(\s*Reason\.([A-Z_]+)", source))
    expected = {(Reason[n].identifier, Reason[n].rule) for n in raised}
    assert _pairs("out-rejection", []) == expected
    all_reasons = {(r.identifier, r.rule) for r in Reason}
    assert _pairs("out-cli-error", ["properties", "error"]) == all_reasons


# --- vectors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_vector_expected_matches_its_kind_schema(kind: str) -> None:
    checked = 0
    for vector in vectors(kind):
        if "expected" in vector:
            assert errors(f"out-{kind}", vector["expected"]) == [], vector["id"]
            checked += 1
    assert checked


# --- the command line --------------------------------------------------------------------------


def _symbol(path: Path) -> str:
    return str(tomllib.loads(path.read_text())["market"]["symbol"])


def test_check_market_json_on_every_bundled_market() -> None:
    files = sorted(MARKETS.glob("*.toml"))
    code, output = cli("check-market", "--json", *map(str, files))
    assert code == 0
    assert errors("out-cli-check-market", output) == []
    # each entry is the market vector's expected for that file
    for path, shown in zip(files, output["markets"], strict=True):
        vector = json.loads((VECTORS / "market" / f"{path.stem}.json").read_text())
        assert shown == vector["expected"]


def test_check_market_json_errors_match_the_error_schema() -> None:
    broken = sorted((ROOT / "tests" / "markets_broken").glob("*.toml"))
    rejected = 0
    for path in [*broken, ROOT / "no-such-market.toml"]:
        code, output = cli("check-market", "--json", str(path))
        if code == 0:  # some are broken only for the proofs (liqspec prove)
            assert errors("out-cli-check-market", output) == [], path
            continue
        assert code == 2
        assert errors("out-cli-error", output) == [], path
        rejected += 1
    assert rejected > len(broken) // 2


def _account_symbols(path: Path) -> set[str]:
    text = path.read_text()
    document = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    return {str(p["market"]) for p in document["positions"]}


def test_margin_json_on_every_bundled_account() -> None:
    by_symbol: dict[str, list[Path]] = {}
    for path in sorted(MARKETS.glob("*.toml")):
        by_symbol.setdefault(_symbol(path), []).append(path)
    for account in sorted(ACCOUNTS.iterdir()):
        symbols = sorted(_account_symbols(account))
        succeeded = 0
        for chosen in product(*(by_symbol[s] for s in symbols)):
            markets = [arg for path in chosen for arg in ("--market", str(path))]
            code, output = cli("margin", *markets, "--account", str(account), "--json")
            if code == 0:
                assert errors("out-cli-margin", output) == [], (account, chosen)
                succeeded += 1
            else:
                assert code == 2
                assert errors("out-cli-error", output) == [], (account, chosen)
        assert succeeded, account


def _run(path: Path) -> Document:
    code, output = cli("run", "--json", str(path))
    assert code == 0, output
    assert errors("out-cli-run", output) == [], path
    assert errors("out-scenario", _as_vector(output)) == [], path
    return dict(output)


def _as_vector(report: Document) -> Document:
    """The vector form of a run: without ``description`` and rejection details (VEC-3)."""
    vector = copy.deepcopy(report)
    del vector["description"]
    for step in vector["steps"]:
        if step["rejected"] is not None:
            del step["rejected"]["detail"]
    return vector


def test_run_json_on_every_bundled_scenario() -> None:
    for path in sorted((ROOT / "spec" / "scenarios").glob("*.toml")):
        _run(path)


def test_run_json_is_the_scenario_vector_plus_description_and_details(tmp_path: Path) -> None:
    # the written scenarios and pins; the seeded random ones add volume, not another path
    for vector in vectors("scenario"):
        if "expected" not in vector or "random" in vector["features"]:
            continue
        path = tmp_path / f"{vector['input']['scenario']['scenario']['name']}.json"
        path.write_text(json.dumps(vector["input"]["scenario"]))
        report = _run(path)
        assert isinstance(report["description"], str)
        assert _as_vector(report) == vector["expected"], vector["id"]


# --- crafted scenarios: the records and values the bundled ones do not reach ----------------


def _market() -> Document:
    return tomllib.loads((MARKETS / "binance-btcusdt-2024-10-24.toml").read_text())


def _scenario(name: str, events: list[Document], **tables: Any) -> Document:
    return {
        "format": 1,
        "scenario": {"name": name, "description": name, "markets": [_market()]},
        "marks": {"BTCUSDT": "60000"},
        **tables,
        "events": events,
    }


def _echoes() -> Document:
    """Deposits, fills, rejected echoes of 0 and negative numbers, an open-ended halt."""
    btc = {"market": "BTCUSDT"}
    fill = {"kind": "fill", "account": "judy", **btc, "size": "0.1", "price": "56000"}
    return _scenario(
        "echoes",
        [
            {"kind": "deposit", "account": "judy", "asset": "USDT", "amount": "-5"},
            {"kind": "deposit", "account": "kim", "asset": "USDT", "amount": "1000"},
            {**fill, "side": "buy", "price": "60000"},
            {"kind": "mark", **btc, "price": "0"},
            {"kind": "book", **btc, "bids": [["60000", "1"]], "asks": [["59990", "1"]]},
            {"kind": "book", **btc, "bids": [["59990", "-1"]]},
            {"kind": "mark", **btc, "price": "56000"},
            {**fill, "side": "sell"},
            {"kind": "reference", **btc, "price": "56000"},
            {**fill, "side": "sell"},
            {"kind": "clock", "time": "10"},
            {"kind": "clock", "time": "-1"},
            {"kind": "index", **btc, "price": "56000", "basis": "-0.0001"},
            {"kind": "trade", **btc, "price": "-3"},
            {"kind": "withdraw", "account": "kim", "asset": "USDT", "amount": "1000"},
        ],
        breakers={"BTCUSDT": {"halt_levels": ["0.05"], "halt_durations": ["0"]}},
        accounts=[{"id": "judy", "asset": "USDT", "balance": "20000"}],
    )


def _liquidation(
    name: str, before: tuple[Document, ...] = (), after: tuple[Document, ...] = (), **tables: Any
) -> Document:
    """A long of 1 BTC from 60,000 with 1,200 USDT: liquidatable at 59,000 (E 200 < MM 245)."""
    position = {"market": "BTCUSDT", "side": "long", "size": "1", "entry_price": "60000"}
    book = {"bids": [["58999", "0.01"], ["58998", "5"]], "asks": [["60100", "5"]]}
    mark = {"kind": "mark", "market": "BTCUSDT", "price": "59000"}
    tables.setdefault("books", {"BTCUSDT": book})
    return _scenario(
        name,
        [*before, mark, *after],
        funds={"USDT": "1000"},
        accounts=[{"id": "a", "asset": "USDT", "balance": "1200", "positions": [position]}],
        **tables,
    )


def _median() -> Document:
    """A median mark whose smoothed candidate is off the grid and does not terminate."""
    btc = {"kind": "book", "market": "BTCUSDT", "bids": [["60000", "1"]]}
    return _scenario(
        "median",
        [
            {"kind": "index", "market": "BTCUSDT", "price": "60000", "basis": "0.00001"},
            {**btc, "asks": [["60000.1", "1"]]},
            {**btc, "asks": [["60000.2", "1"]]},
            {**btc, "asks": [["60000.2", "1"]]},
            {"kind": "trade", "market": "BTCUSDT", "price": "60000.1"},
            {"kind": "mark", "market": "BTCUSDT", "price": "60000"},
        ],
        mark={"BTCUSDT": {"source": "median", "basis_window": "3"}},
    )


def _crafted() -> list[Document]:
    index = {"kind": "index", "market": "BTCUSDT", "price": "62000", "basis": "0"}
    tight = {"BTCUSDT": {"impact_bound": "0.001"}}
    dynamic = {"dynamic_move": "0.01", "dynamic_window": "10", "dynamic_pause": "5"}
    return [
        _echoes(),
        _median(),
        _liquidation("impact-bound", liquidation=tight),
        _liquidation("price-band", liquidation=tight, breakers={"BTCUSDT": {"band": "0.0001"}}),
        _liquidation("tier-step", liquidation={"BTCUSDT": {"policy": "tier-step"}}),
        _liquidation(
            "no-liquidity", liquidation={"BTCUSDT": {"on_unfilled": "wait"}}, books={"BTCUSDT": {}}
        ),
        _liquidation("divergence", (index,), breakers={"BTCUSDT": {"divergence": "0.01"}}),
        _liquidation(
            "stale",
            after=({"kind": "clock", "time": "100"},),
            breakers={"BTCUSDT": {"stale_after": "5", **dynamic}},
        ),
    ]


def _records(report: Document) -> list[Document]:
    return [record for step in report["steps"] for record in step["records"]]


def test_every_record_kind_and_value_is_reached_and_valid(tmp_path: Path) -> None:
    reports = [_run(p) for p in sorted((ROOT / "spec" / "scenarios").glob("*.toml"))]
    for document in _crafted():
        path = tmp_path / f"{document['scenario']['name']}.json"
        path.write_text(json.dumps(document))
        reports.append(_run(path))
    reports += [v["expected"] for v in vectors("scenario") if "expected" in v]
    records = [r for report in reports for r in _records(report)]
    events = {s["event"]["kind"] for report in reports for s in report["steps"]}
    assert {r["kind"] for r in records} == kinds_defined("out-record")
    assert events == kinds_defined("out-event")
    for kind, definition in schema("out-record")["$defs"].items():
        for field, rule in definition.get("properties", {}).items():
            if "enum" in rule:  # every value of every enumeration, e.g. each limit_reason
                seen = {r[field] for r in records if r["kind"] == kind}
                assert seen == set(rule["enum"]), (kind, field)
    breakers = {(r["breaker"], r["until"]) for r in records if r["kind"] == "breaker-tripped"}
    assert ("halt-level-1", None) in breakers  # open-ended: until the next reference price
    assert "dynamic" in {breaker for breaker, _ in breakers}
    candidates = {c for r in records if r["kind"] == "mark-derived" for c in r["candidates"]}
    assert "720001/12" in candidates  # 60,000 + 5/6 tick of 0.1: n/d, not a decimal


# --- the schemas are not vacuous ---------------------------------------------------------------


def _first(kind: str) -> Document:
    expected: Document = next(v["expected"] for v in vectors(kind) if "expected" in v)
    return expected


def _scenario_vector(slug: str) -> Callable[[], Document]:
    def load() -> Document:
        vector = json.loads((VECTORS / "scenario" / f"{slug}.json").read_text())
        expected: Document = vector["expected"]
        return expected

    return load


def _isolated() -> Document:
    """A margin report with an isolated unit."""
    expected: Document = next(
        v["expected"] for v in vectors("margin") if len(v.get("expected", {}).get("units", [])) > 1
    )
    return expected


def _market_report() -> Document:
    return _first("market")


def _margin() -> Document:
    return _first("margin")


DROP, COPY = object(), object()
"""Delete the field, or append a copy of the list's last item, instead of setting it."""
ADL = _scenario_vector("adl-after-fund-exhausted")
GATED = _scenario_vector("withdrawals-gated")  # step 1 is a rejected withdrawal
STARTED = ("steps", 0, "records", 1)  # liquidation-started in the ADL scenario
ALLOCATION = ("steps", 0, "records", 4, "allocations", 0)
ISOLATED = ("units", 1, "positions")
MAINTENANCE = {"maintenance_margin": "1", "tier": 1}
ERROR = {
    "source": "",
    "field": "x",
    "value": "1",
    "detail": "d",
    "reason": "syntax",
    "rule": "CONV-11",
}
BROKEN: list[tuple[str, str, Callable[[], Document], tuple[Any, ...], object]] = [
    ("extra key", "out-market", _market_report, ("extra",), "x"),
    ("extra key in a record", "out-scenario", ADL, (*STARTED, "detail"), "x"),
    ("float amount", "out-maintenance", lambda: MAINTENANCE, ("maintenance_margin",), 1.5),
    ("fractional time", "out-scenario", ADL, ("final", "time"), 90.5),
    ("integer price", "out-scenario", ADL, ("steps", 0, "event", "price"), 58900),
    ("wrong enum", "out-market", _market_report, ("contract",), "perpetual"),
    ("wrong record kind", "out-scenario", ADL, (*STARTED, "kind"), "liquidation-begun"),
    ("wrong trigger", "out-scenario", ADL, (*STARTED, "trigger"), "Inclusive"),
    ("missing field", "out-margin", _margin, ("units", 0, "equity"), DROP),
    ("missing record field", "out-scenario", ADL, (*STARTED, "maintenance"), DROP),
    ("trailing zero", "out-maintenance", lambda: MAINTENANCE, ("maintenance_margin",), "1.50"),
    ("negative zero", "out-maintenance", lambda: MAINTENANCE, ("maintenance_margin",), "-0"),
    ("leading zero", "out-maintenance", lambda: MAINTENANCE, ("maintenance_margin",), "01"),
    ("final newline", "out-maintenance", lambda: MAINTENANCE, ("maintenance_margin",), "1\n"),
    ("exponent", "out-maintenance", lambda: MAINTENANCE, ("maintenance_margin",), "1e3"),
    ("tier 0", "out-maintenance", lambda: MAINTENANCE, ("tier",), 0),
    ("decimal fee", "out-fee", lambda: {"fee": "10"}, ("fee",), "10.5"),
    ("decimal share", "out-shares", lambda: {"shares": ["1"]}, ("shares", 0), "1.5"),
    ("7-place percent", "out-market", _market_report, ("tiers", 0, "mmr_percent"), "0.1234567%"),
    ("whole ratio as n/1", "out-scenario", ADL, (*ALLOCATION, "score"), "3/1"),
    ("ratio with a trailing zero", "out-scenario", ADL, (*ALLOCATION, "score"), "0.30"),
    ("pro-rata score in ADL", "out-scenario", ADL, (*ALLOCATION, "score"), "pro-rata"),
    ("status word for a mark", "out-scenario", ADL, (*STARTED, "marks", "BTCUSDT"), "none"),
    ("price of 0", "out-margin", _isolated, (*ISOLATED, 0, "liquidation_price"), "0"),
    ("detail in a vector rejection", "out-scenario", GATED, ("steps", 1, "rejected", "detail"), ""),
    ("reason under another rule", "out-scenario", GATED, ("steps", 1, "rejected", "rule"), "BRK-1"),
    ("records of a rejected event", "out-scenario", GATED, ("steps", 1, "records"),
     [{"kind": "clock-set", "previous": 0, "time": 50}]),
    ("applied event without its echo", "out-scenario", ADL, ("steps", 0, "records", 0), DROP),
    ("isolated unit with two positions", "out-margin", _isolated, (*ISOLATED, 1), COPY),
    ("error without rule", "out-cli-error", lambda: {"error": ERROR}, ("error", "rule"), DROP),
]  # fmt: skip


def _broken(make: Callable[[], Document], path: tuple[Any, ...], value: object) -> Document:
    document = copy.deepcopy(make())
    node: Any = document
    for key in path[:-1]:
        node = node[key]
    if value is DROP:
        del node[path[-1]]
    elif value is COPY:
        node.append(copy.deepcopy(node[-1]))
    else:
        node[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("name", "make", "path", "value"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN]
)
def test_broken_documents_are_rejected(
    name: str, make: Callable[[], Document], path: tuple[Any, ...], value: object
) -> None:
    assert errors(name, make()) == []  # the change alone breaks it
    assert errors(name, _broken(make, path, value)) != []
