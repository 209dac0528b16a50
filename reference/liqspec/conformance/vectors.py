"""Conformance vectors: the reference's answer to each case, and the generator.

The rules are spec/13-conformance.md.

A case is ``(kind, input)`` (VEC-3); :func:`evaluate` returns ``{"output": ...}`` or, for
input the rules reject, ``{"error": reason}``. The generator writes one canonical JSON file
per case (VEC-1, VEC-2) under ``spec/vectors/``, covering every rule (VEC-4); runners compare
outputs strictly (VEC-5, :mod:`liqspec.conformance.runner`).
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections.abc import Callable, Iterator
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import EventRejectedError, InputError, Reason
from liqspec.base.files import check_schema
from liqspec.engine.insurance import get_share
from liqspec.engine.liquidation import get_liquidation_fee
from liqspec.engine.outputs import account_report, market_report, scenario_report
from liqspec.engine.scenarios import scenario_from_document
from liqspec.model.accounts import account_from_document
from liqspec.model.margin import get_maintenance_for_notional, get_tier_index
from liqspec.model.market_files import market_from_document
from liqspec.model.markets import (
    ContractKind,
    Market,
    format_amount,
    format_price,
    format_size,
    get_value,
)

__all__ = ["KINDS", "build_vectors", "canonical", "evaluate", "write_vectors"]

FORMAT = 1


@lru_cache(maxsize=256)
def _parsed_market(text: str) -> Market:
    return market_from_document(json.loads(text))


def _market_of(document: dict[str, Any]) -> Market:
    """Parse a market document once per distinct content: markets are immutable values."""
    return _parsed_market(json.dumps(document, sort_keys=True))


def _markets(documents: list[dict[str, Any]]) -> dict[str, Market]:
    markets: dict[str, Market] = {}
    for document in documents:
        market = _market_of(document)
        if market.symbol in markets:
            detail = "two market documents define this symbol"
            raise InputError(Reason.DUPLICATE_MARKET, "market.symbol", market.symbol, detail)
        markets[market.symbol] = market
    return markets


def _integer(text: object, field: str) -> int:
    num, den = parse_decimal(text, field)
    if num % den:
        raise InputError(Reason.OFF_GRID, field, text, "must be a whole number of quantums")
    return num // den


def _market(case: dict[str, Any]) -> dict[str, Any]:
    return market_report(_market_of(case["market"]))


def _margin(case: dict[str, Any]) -> dict[str, Any]:
    markets = _markets(case["markets"])
    return account_report(account_from_document(case["account"], markets), markets)


def _maintenance(case: dict[str, Any]) -> dict[str, Any]:
    market = _market_of(case["market"])
    notional = to_units(case["notional"], market.settle_quantum, "notional", "settlement quantum")
    if notional < 0:
        raise InputError(Reason.OUT_OF_RANGE, "notional", case["notional"], "must not be negative")
    maintenance = get_maintenance_for_notional(market, notional)
    return {
        "maintenance_margin": format_amount(market, maintenance),
        "tier": get_tier_index(market, notional) + 1,
    }


def _fee(case: dict[str, Any]) -> dict[str, Any]:
    nominal, surplus = _integer(case["nominal"], "nominal"), _integer(case["surplus"], "surplus")
    if nominal < 0:
        raise InputError(Reason.OUT_OF_RANGE, "nominal", case["nominal"], "must not be negative")
    return {"fee": str(get_liquidation_fee(nominal, surplus))}


def _shares(case: dict[str, Any]) -> dict[str, Any]:
    deficit, total = _integer(case["deficit"], "deficit"), _integer(case["total"], "total")
    cuts = [_integer(c, f"cuts[{i}]") for i, c in enumerate(case["cuts"])]
    points = [0, *cuts, total]
    if deficit < 0 or total <= 0 or points != sorted(points):
        raise InputError(Reason.OUT_OF_RANGE, "cuts", case["cuts"], "need 0 <= cuts <= total")
    shares = [get_share(deficit, a, b, total) for a, b in pairwise(points)]
    return {"shares": [str(s) for s in shares]}


def _scenario(case: dict[str, Any]) -> dict[str, Any]:
    report = scenario_report(scenario_from_document(case["scenario"]), details=False)
    del report["description"]
    return report


KINDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "market": _market,
    "margin": _margin,
    "maintenance": _maintenance,
    "fee": _fee,
    "shares": _shares,
    "scenario": _scenario,
}


def evaluate(kind: str, case: dict[str, Any]) -> dict[str, Any]:
    """Return the reference's answer: ``{"output": ...}`` or ``{"error": reason}``."""
    try:
        return {"output": KINDS[kind](case)}
    except InputError as error:
        return {"error": error.reason.identifier}
    except EventRejectedError as error:  # pragma: no cover - scenarios report rejections inline
        return {"error": error.reason.identifier}


def canonical(document: dict[str, Any]) -> str:
    """Return the canonical text of a vector (sorted keys, LF, no float anywhere)."""
    _no_floats(document)
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _no_floats(value: object) -> None:
    if isinstance(value, float):
        message = f"a float reached a vector: {value!r}"
        raise TypeError(message)
    if isinstance(value, dict):
        for item in value.values():
            _no_floats(item)
    if isinstance(value, list):
        for item in value:
            _no_floats(item)


# --- generation --------------------------------------------------------------------------------

Vector = dict[str, Any]


def _vector(
    kind: str,
    slug: str,
    description: str,
    case: dict[str, Any],
    rules: list[str],
    *features_and_invariants: list[str],
) -> Vector:
    features = features_and_invariants[0]
    invariants = features_and_invariants[1] if len(features_and_invariants) > 1 else []
    answer = evaluate(kind, case)
    vector: Vector = {
        "format": FORMAT,
        "id": f"{kind}/{slug}",
        "kind": kind,
        "description": description,
        "rules": sorted(set(rules)),
        "invariants": sorted(set(invariants or [])),
        "features": sorted(set(features)),
        "input": case,
    }
    if "error" in answer:
        vector["expected_error"] = {"reason": answer["error"]}
    else:
        vector["expected"] = answer["output"]
    return vector


def _market_features(document: dict[str, Any]) -> list[str]:
    spec = document["market"]
    return [
        spec["contract"],
        f"{spec['tier_mode']}-tiers",
        f"trigger-{spec.get('trigger', 'strict')}",
    ]


def _load_toml(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _market_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    rules = [f"MARKET-{n}" for n in range(1, 16)] + ["CONV-1", "CONV-3", "CONV-4", "CONV-12"]
    for stem, document in documents.items():
        yield _vector(
            "market",
            stem,
            f"derived tier table of {stem}",
            {"market": document},
            rules,
            _market_features(document),
            ["INV-PARAMETERS"],
        )
    base = documents["binance-btcusdt-2024-10-24"]
    for slug, edit, rule in _MARKET_BREAKS:
        broken = copy.deepcopy(base)
        edit(broken)
        yield _vector(
            "market",
            f"reject-{slug}",
            f"rejected: {slug}",
            {"market": broken},
            [rule],
            ["negative"],
            ["INV-PARAMETERS"],
        )


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = document
        for part in parents:
            node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


_DELETE = object()

_MARKET_BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("nan", _set("tiers.0.mmr", "NaN"), "CONV-1"),
    ("exponent", _set("market.price_tick", "1e-1"), "CONV-1"),
    ("magnitude", _set("market.max_price", "9" * 60), "CONV-2"),
    ("max-price-off-tick", _set("market.max_price", "10000000.05"), "CONV-3"),
    ("wrong-type", _set("market.symbol", 5), "CONV-12"),
    ("unknown-key", _set("market.leverage", "5"), "CONV-12"),
    ("missing-key", _set("market.lot_size", _DELETE), "CONV-12"),
    ("unknown-contract", _set("market.contract", "quanto"), "CONV-12"),
    ("zero-tick", _set("market.price_tick", "0"), "MARKET-2"),
    ("coarse-quantum", _set("market.settle_quantum", "0.01"), "MARKET-3"),
    ("contract-value-on-linear", _set("market.contract_value", "1"), "MARKET-4"),
    ("no-tiers", _set("tiers", []), "MARKET-5"),
    ("overlapping-tiers", _set("tiers.2.floor", "500000"), "MARKET-6"),
    ("mmr-of-one", _set("tiers.0.mmr", "1"), "MARKET-7"),
    ("imr-below-mmr", _set("tiers.0.max_leverage", "300"), "MARKET-8"),
    ("decreasing-rate", _set("tiers.2.mmr", "0.0045"), "MARKET-9"),
    ("wrong-maintenance-amount", _set("tiers.2.maintenance_amount", "951"), "MARKET-10"),
    ("liquidation-fee-of-one", _set("liquidation.fee", "1"), "MARKET-12"),
    ("basis-window-zero", _set("mark.basis_window", "0"), "MARKET-13"),
    ("band-of-one", _set("breakers.band", "1"), "MARKET-14"),
    ("multiplier-below-one", _set("risk.max_multiplier", "0.5"), "MARKET-15"),
]

_MARGIN_RULES = (
    [f"ACCOUNT-{n}" for n in range(1, 9)]
    + [f"MARGIN-{n}" for n in range(1, 12)]
    + [f"PRICE-{n}" for n in range(1, 10)]
    + ["CONV-5", "CONV-6", "CONV-7", "CONV-8", "CONV-10"]
)


def _account(
    asset: str, balance: str, positions: list[dict[str, Any]], marks: dict[str, str]
) -> dict[str, Any]:
    return {
        "format": 1,
        "account": {"id": "a", "collateral_asset": asset, "wallet_balance": balance},
        "marks": marks,
        "positions": positions,
    }


def _margin_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    for stem, document in documents.items():
        market = market_from_document(document)
        for side in ("long", "short"):
            for leverage in (2, 10, 50):
                for label, move in (("at-entry", 0), ("adverse-1pct", -1 if side == "long" else 1)):
                    yield _position_vector(
                        stem, document, market, side, leverage=leverage, label=label, move=move
                    )
        for i, tier in enumerate(market.tiers[1:4], start=2):
            yield _floor_vector(stem, document, market, i, tier.floor)
    yield from _account_breaks(documents["binance-btcusdt-2024-10-24"])


def _position_vector(
    stem: str,
    document: dict[str, Any],
    market: Market,
    side: str,
    *,
    leverage: int,
    label: str,
    move: int,
) -> Vector:
    spec = document["market"]
    entry = market.max_price // 200
    size = max(1, (market.tiers[0].cap // 2) // get_value(market, 1, entry))
    margin = -(-get_value(market, size, entry) // leverage)
    mark = entry + entry * move // 100
    account = _account(
        spec["settle_asset"],
        "0",
        [
            {
                "market": spec["symbol"],
                "side": side,
                "size": format_size(market, size),
                "entry_price": format_price(market, entry),
                "margin_mode": "isolated",
                "isolated_margin": format_amount(market, margin),
                "leverage": str(leverage),
            }
        ],
        {spec["symbol"]: format_price(market, mark)},
    )
    slug = f"{stem}-{side}-{leverage}x-{label}"
    return _vector(
        "margin",
        slug,
        f"isolated {side} {leverage}x, mark {label}",
        {"markets": [document], "account": account},
        _MARGIN_RULES,
        [*_market_features(document), "isolated"],
        ["INV-TRIGGER", "INV-MM-SLOPE"],
    )


def _floor_vector(
    stem: str, document: dict[str, Any], market: Market, tier: int, floor: int
) -> Vector:
    """Return a cross long whose notional at mark is exactly a tier floor (boundary)."""
    spec = document["market"]
    mark = market.max_price // 200
    per_lot = get_value(market, 1, mark)
    size = max(1, floor // per_lot) if market.contract is ContractKind.LINEAR else 1
    balance = format_amount(market, get_value(market, size, mark) // 20)
    account = _account(
        spec["settle_asset"],
        balance,
        [
            {
                "market": spec["symbol"],
                "side": "long",
                "size": format_size(market, size),
                "entry_price": format_price(market, mark),
                "margin_mode": "cross",
            }
        ],
        {spec["symbol"]: format_price(market, mark)},
    )
    return _vector(
        "margin",
        f"{stem}-tier-{tier}-floor",
        f"notional at the floor of tier {tier}",
        {"markets": [document], "account": account},
        _MARGIN_RULES,
        [*_market_features(document), "cross", "boundary"],
        ["INV-MM-CONTINUOUS"],
    )


def _account_breaks(document: dict[str, Any]) -> Iterator[Vector]:
    good = {
        "market": "BTCUSDT",
        "side": "long",
        "size": "0.5",
        "entry_price": "60000",
        "margin_mode": "cross",
    }
    cases = [
        (
            "unknown-market",
            [{**good, "market": "ETHUSDT"}],
            {"BTCUSDT": "60000"},
            "USDT",
            [document],
            "ACCOUNT-2",
        ),
        ("duplicate-position", [good, good], {"BTCUSDT": "60000"}, "USDT", [document], "ACCOUNT-3"),
        ("cross-incompatible", [good], {"BTCUSDT": "60000"}, "BTC", [document], "ACCOUNT-4"),
        ("missing-mark", [good], {}, "USDT", [document], "ACCOUNT-5"),
        (
            "isolated-without-margin",
            [{**good, "margin_mode": "isolated"}],
            {"BTCUSDT": "60000"},
            "USDT",
            [document],
            "ACCOUNT-6",
        ),
        (
            "size-off-lot",
            [{**good, "size": "0.0005"}],
            {"BTCUSDT": "60000"},
            "USDT",
            [document],
            "CONV-3",
        ),
        (
            "duplicate-market",
            [good],
            {"BTCUSDT": "60000"},
            "USDT",
            [document, document],
            "MARKET-11",
        ),
    ]
    for slug, positions, marks, asset, documents, rule in cases:
        account = _account(asset, "1000", positions, marks)
        yield _vector(
            "margin",
            f"reject-{slug}",
            f"rejected: {slug}",
            {"markets": documents, "account": account},
            [rule],
            ["negative"],
        )


def _maintenance_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    for stem, document in documents.items():
        market = market_from_document(document)
        points = {0, 1}
        for tier in market.tiers:
            points |= {tier.floor - 1, tier.floor, tier.floor + 1, tier.cap - 1, tier.cap}
        for n in sorted(p for p in points if p >= 0):
            yield _vector(
                "maintenance",
                f"{stem}-{n}",
                f"MM of {n} quantums",
                {"market": document, "notional": format_amount(market, n)},
                ["MARGIN-4", "MARGIN-5", "CONV-6", "MARKET-10"],
                [*_market_features(document), "boundary"],
                ["INV-MM-MONOTONE", "INV-MM-CONTINUOUS"],
            )


def _fee_vectors() -> Iterator[Vector]:
    for nominal, surplus in ((10, 4), (10, 10), (10, 11), (10, 0), (10, -3), (0, 5), (7, 7)):
        yield _vector(
            "fee",
            f"nominal-{nominal}-surplus-{surplus}",
            "fee within the surplus",
            {"nominal": str(nominal), "surplus": str(surplus)},
            ["LIQ-8"],
            ["fee"],
            ["INV-FEE", "INV-RATIO"],
        )


def _share_vectors() -> Iterator[Vector]:
    for deficit, cuts, total in (
        (10, [1, 2], 3),
        (350, [6], 10),
        (1, [1, 2, 3], 4),
        (0, [5], 10),
        (999, [], 7),
    ):
        slug = f"deficit-{deficit}-of-{total}-cut-{'-'.join(map(str, cuts)) or 'none'}"
        yield _vector(
            "shares",
            slug,
            "exact telescoping shares",
            {"deficit": str(deficit), "cuts": [str(c) for c in cuts], "total": str(total)},
            ["INS-3", "INS-4", "INS-5"],
            ["shares"],
            ["INV-ADL-EXACT"],
        )


_SCENARIO_RULES = {
    "partial": [
        "LIQ-1",
        "LIQ-2",
        "LIQ-3",
        "LIQ-4",
        "LIQ-5",
        "LIQ-6",
        "LIQ-7",
        "LIQ-8",
        "OUT-2",
        "OUT-3",
        "OUT-5",
        "OUT-8",
    ],
    "thin": ["LIQ-4", "LIQ-7", "LIQ-8", "STATE-2", "STATE-7", "OUT-3"],
    "takeover": ["LIQ-9", "INS-1", "OUT-4", "OUT-5"],
    "adl": ["INS-2", "INS-3", "INS-4", "OUT-6", "LIQ-9"],
    "socialized": ["INS-5", "OUT-6"],
    "flash": ["BRK-3", "BRK-6", "OUT-11", "MARKET-14"],
    "wick": ["MARK-1", "MARK-2", "MARK-4", "BRK-1", "BRK-2", "OUT-10"],
    "volatility": ["RISK-1", "RISK-2", "RISK-3", "RISK-4", "RISK-6", "CONV-13", "OUT-13", "BRK-4"],
    "withdrawals": ["BRK-5", "BRK-7", "INS-6", "OUT-7", "OUT-12"],
}
_STATE_RULES = [f"STATE-{n}" for n in range(1, 11)] + ["OUT-1", "OUT-9", "CONV-11"]


def _inline(scenario: dict[str, Any], folder: Path) -> dict[str, Any]:
    inlined = copy.deepcopy(scenario)
    inlined["scenario"]["markets"] = [
        _load_toml(folder / p) for p in scenario["scenario"]["markets"]
    ]
    return inlined


def _scenario_vectors(spec: Path) -> Iterator[Vector]:
    folder = spec / "scenarios"
    for path in sorted(folder.glob("*.toml")):
        document = _inline(_load_toml(path), folder)
        key = path.stem.split("-")[0]
        rules = [*_STATE_RULES, *_SCENARIO_RULES.get(key, [])]
        yield _vector(
            "scenario",
            path.stem,
            document["scenario"]["description"],
            {"scenario": document},
            rules,
            ["scenario", key],
            [
                "INV-TRIGGER",
                "INV-FUND",
                "INV-ADL-EXACT",
                "INV-CONSERVE-CLOSE",
                "INV-BAND",
                "INV-PHASE-IN",
                "INV-ADJUST",
                "INV-ADJUST-BOUNDED",
                "INV-FEE-COVERED",
                "INV-IM-GE-MM",
                "INV-ROUNDING",
            ],
        )
    yield from _variant_vectors(folder)
    base = _inline(_load_toml(folder / "takeover-at-bankruptcy.toml"), folder)
    for slug, events, rule in _EVENT_BREAKS:
        document = copy.deepcopy(base)
        document["scenario"]["name"] = f"reject-{slug}"
        document["events"] = events
        if slug == "mark-derived":
            document["mark"] = {"BTCUSDT": {"source": "median"}}
        yield _vector(
            "scenario",
            f"reject-{slug}",
            f"event rejected: {slug}",
            {"scenario": document},
            [rule, "STATE-8"],
            ["scenario", "negative"],
        )


_EVENT_BREAKS: list[tuple[str, list[dict[str, Any]], str]] = [
    (
        "not-positive-amount",
        [
            {
                "kind": "deposit",
                "account": "dave",
                "asset": "USDT",
                "amount": "0",
                "expect": "not-positive-amount",
            }
        ],
        "STATE-4",
    ),
    (
        "unknown-account",
        [
            {
                "kind": "withdraw",
                "account": "nobody",
                "asset": "USDT",
                "amount": "1",
                "expect": "unknown-account",
            }
        ],
        "STATE-4",
    ),
    (
        "insufficient-margin",
        [
            {
                "kind": "withdraw",
                "account": "dave",
                "asset": "USDT",
                "amount": "690",
                "expect": "insufficient-margin",
            }
        ],
        "STATE-5",
    ),
    (
        "cross-incompatible",
        [
            {
                "kind": "deposit",
                "account": "dave",
                "asset": "BTC",
                "amount": "1",
                "expect": "cross-incompatible",
            }
        ],
        "STATE-6",
    ),
    (
        "mark-derived",
        [{"kind": "mark", "market": "BTCUSDT", "price": "59000", "expect": "mark-derived"}],
        "MARK-1",
    ),
    (
        "time-backwards",
        [
            {"kind": "clock", "time": "5"},
            {"kind": "clock", "time": "4", "expect": "time-backwards"},
        ],
        "STATE-7",
    ),
]


def _variant_vectors(folder: Path) -> Iterator[Vector]:
    """Scenarios derived from the bundled ones: the clamped mark, an operator change."""
    wick = _inline(_load_toml(folder / "wick-absorbed.toml"), folder)
    wick["scenario"]["name"] = "wick-clamped"
    wick["mark"]["BTCUSDT"]["source"] = "clamped"
    yield _vector(
        "scenario",
        "wick-clamped",
        "the wick under the clamped (Deribit) mark",
        {"scenario": wick},
        [*_STATE_RULES, "MARK-1", "MARK-3", "MARK-4", "OUT-10"],
        ["scenario", "mark-clamped"],
    )
    spike = _inline(_load_toml(folder / "volatility-spike.toml"), folder)
    spike["scenario"]["name"] = "operator-change"
    changed = copy.deepcopy(spike["scenario"]["markets"][0])
    changed["tiers"][0]["max_leverage"] = "100"  # IMR 1%, still <= tier 2 (MARKET-9)
    changed.setdefault("liquidation", {})["fee"] = "0.002"
    broken = copy.deepcopy(changed)
    broken["tiers"][0]["max_leverage"] = "300"
    spike["events"] = [
        {"kind": "parameters", "market": "BTCUSDT", "file": broken, "expect": "invalid-parameters"},
        {"kind": "parameters", "market": "BTCUSDT", "file": changed},
        {"kind": "clock", "time": "30"},
    ]
    yield _vector(
        "scenario",
        "operator-change",
        "an operator's parameter change, phased in",
        {"scenario": spike},
        [*_STATE_RULES, "RISK-5", "RISK-6", "OUT-13"],
        ["scenario", "parameters"],
        ["INV-PHASE-IN"],
    )


def build_vectors(spec: Path) -> list[Vector]:
    """Build every vector from the specification folder ``spec`` (markets and scenarios)."""
    documents = {p.stem: _load_toml(p) for p in sorted((spec / "markets").glob("*.toml"))}
    vectors = [
        *_market_vectors(documents),
        *_margin_vectors(documents),
        *_maintenance_vectors(documents),
        *_fee_vectors(),
        *_share_vectors(),
        *_scenario_vectors(spec),
    ]
    for vector in vectors:
        check_schema(vector, "vector")
    return vectors


def write_vectors(vectors: list[Vector], out: Path) -> int:
    """Write each vector to ``out/<id>.json``; return how many were written."""
    for vector in vectors:
        path = out / f"{vector['id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(canonical(vector), encoding="utf-8", newline="\n")
    return len(vectors)
