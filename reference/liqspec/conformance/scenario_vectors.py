"""The scenario vectors: every bundled scenario, derived variants and event rejections (VEC-4)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from liqspec.conformance import pins_edges, pins_liquidation
from liqspec.conformance.pins import Pin
from liqspec.conformance.vectors import Vector, load_toml, make_vector

__all__ = ["PINS", "scenario_vectors"]

PINS: list[Pin] = [*pins_liquidation.PINS, *pins_edges.PINS]
"""Every pin vector (VEC-6), in the order they are generated."""


_SCENARIO_INVARIANTS = {"cascade": ["INV-CASCADE-MONOTONE"]}
"""Invariants a scenario exercises beyond those every scenario does, by its name's first word."""

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
        "LIQ-10",
        "CONV-14",
    ],
    "thin": ["LIQ-4", "LIQ-7", "LIQ-8", "LIQ-10", "STATE-2", "STATE-7", "OUT-3"],
    "takeover": ["LIQ-9", "INS-1", "OUT-4", "OUT-5"],
    "adl": ["INS-2", "INS-3", "INS-4", "OUT-6", "LIQ-9"],
    "socialized": ["INS-5", "OUT-6"],
    "cascade": ["MARK-1", "MARK-3", "MARK-4", "STATE-2", "LIQ-7", "LIQ-9", "OUT-3", "OUT-10"],
    "flash": ["BRK-3", "BRK-6", "OUT-11", "MARKET-14"],
    "wick": ["MARK-1", "MARK-2", "MARK-4", "BRK-1", "BRK-2", "OUT-10"],
    "volatility": ["RISK-1", "RISK-2", "RISK-3", "RISK-4", "RISK-6", "CONV-13", "OUT-13", "BRK-4"],
    "implied": ["RISK-1", "RISK-2", "RISK-3", "RISK-6", "RISK-8", "OUT-13"],
    "withdrawals": ["BRK-5", "BRK-7", "INS-6", "OUT-7", "OUT-12"],
    "isolated": ["STATE-11", "STATE-12", "ACCOUNT-6", "LIQ-9", "INS-2", "INS-4", "OUT-6"],
}
_STATE_RULES = [f"STATE-{n}" for n in range(1, 11)] + ["OUT-1", "OUT-9", "OUT-14", "CONV-11"]


def _inline(scenario: dict[str, Any], folder: Path) -> dict[str, Any]:
    inlined = copy.deepcopy(scenario)
    inlined["scenario"]["markets"] = [
        load_toml(folder / p) for p in scenario["scenario"]["markets"]
    ]
    return inlined


def scenario_vectors(spec: Path) -> Iterator[Vector]:
    """Yield the vectors of the scenarios under ``spec/scenarios``, then variants and rejections."""
    folder = spec / "scenarios"
    for path in sorted(folder.glob("*.toml")):
        document = _inline(load_toml(path), folder)
        key = path.stem.split("-")[0]
        rules = [*_STATE_RULES, *_SCENARIO_RULES.get(key, [])]
        yield make_vector(
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
                "INV-DEFICIT-CONSERVE",
                "INV-MARK-TOWARD",
                "INV-HALT-ONCE",
                "INV-LEAST-TARGET",
                "INV-EXIT",
                "INV-RISK-MONOTONE",
                *_SCENARIO_INVARIANTS.get(key, []),
            ],
        )
    yield from _variant_vectors(folder)
    yield from _policy_vectors(folder)
    yield from _pin_vectors()
    yield _market_path_vector(folder)
    base = _inline(load_toml(folder / "takeover-at-bankruptcy.toml"), folder)
    yield from _file_vectors(base)
    for slug, events, rule in _EVENT_BREAKS:
        document = copy.deepcopy(base)
        document["scenario"]["name"] = f"reject-{slug}"
        document["events"] = events
        if slug == "mark-derived":
            document["mark"] = {"BTCUSDT": {"source": "median"}}
        if slug == "cross-incompatible":  # a second asset, so that the deposit can be read
            coin_m = load_toml(folder.parent / "markets" / "binance-btcusd-coinm-2024.toml")
            document["scenario"]["markets"].append(coin_m)
            document["marks"]["BTCUSD_PERP"] = "60000"
        yield make_vector(
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
            },
            {
                "kind": "add-margin",
                "account": "dave",
                "market": "BTCUSD_PERP",
                "amount": "1",
                "expect": "cross-incompatible",
            },
        ],
        "STATE-6",
    ),
    (
        "mark-derived",
        [{"kind": "mark", "market": "BTCUSDT", "price": "59000", "expect": "mark-derived"}],
        "MARK-1",
    ),
    (
        "margin-mode",
        [
            {
                "kind": "add-margin",
                "account": "dave",
                "market": "BTCUSDT",
                "amount": "0",
                "expect": "not-positive-amount",
            },
            {
                "kind": "add-margin",
                "account": "dave",
                "market": "BTCUSDT",
                "amount": "10",
                "expect": "margin-mode",
            },
            {
                "kind": "fill",
                "account": "dave",
                "market": "BTCUSDT",
                "side": "buy",
                "size": "0.1",
                "price": "60000",
                "margin": "isolated",
                "expect": "margin-mode",
            },
        ],
        "STATE-11",
    ),
    (
        "remove-margin-no-unit",
        [
            {
                "kind": "remove-margin",
                "account": "dave",
                "market": "BTCUSDT",
                "amount": "1",
                "expect": "unknown-account",
            },
        ],
        "STATE-12",
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


def _set_balance(document: dict[str, Any], value: str) -> None:
    document["accounts"][0]["balance"] = value


def _set_mode(document: dict[str, Any], keys: dict[str, str]) -> None:
    document["accounts"][0]["positions"][0].update(keys)


_FILE_BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("duplicate-account", lambda d: d["accounts"].append(dict(d["accounts"][0])), "STATE-10"),
    ("negative-balance", lambda d: _set_balance(d, "-1"), "STATE-1"),
    ("negative-fund", lambda d: d["funds"].update({"USDT": "-1"}), "STATE-1"),
    ("unknown-fund", lambda d: d["funds"].update({"EUR": "1"}), "INS-1"),
    ("isolated-no-margin", lambda d: _set_mode(d, {"margin_mode": "isolated"}), "ACCOUNT-6"),
    (
        "cross-with-margin",
        lambda d: _set_mode(d, {"margin_mode": "cross", "isolated_margin": "1"}),
        "ACCOUNT-6",
    ),
    (
        "isolated-negative",
        lambda d: _set_mode(d, {"margin_mode": "isolated", "isolated_margin": "-1"}),
        "ACCOUNT-6",
    ),
    (
        "two-modes-one-market",
        lambda d: d["accounts"][0]["positions"].append(
            {**d["accounts"][0]["positions"][0], "margin_mode": "isolated", "isolated_margin": "1"}
        ),
        "ACCOUNT-3",
    ),
    (
        "unknown-asset",
        lambda d: d["events"].append(
            {"kind": "deposit", "account": "dave", "asset": "EUR", "amount": "1"}
        ),
        "STATE-10",
    ),
]
"""Scenario files that break a rule of the state (STATE-1, STATE-10, INS-1): the file is
rejected before any event runs."""


def _file_vectors(base: dict[str, Any]) -> Iterator[Vector]:
    for slug, edit, rule in _FILE_BREAKS:
        document = copy.deepcopy(base)
        document["scenario"]["name"] = f"reject-file-{slug}"
        edit(document)
        yield make_vector(
            "scenario",
            f"reject-file-{slug}",
            f"scenario file rejected: {slug}",
            {"scenario": document},
            [rule, "STATE-10"],
            ["scenario", "negative"],
        )


def _variant_vectors(folder: Path) -> Iterator[Vector]:
    """Scenarios derived from the bundled ones: the clamped mark, an operator change."""
    wick = _inline(load_toml(folder / "wick-absorbed.toml"), folder)
    wick["scenario"]["name"] = "wick-clamped"
    wick["mark"]["BTCUSDT"]["source"] = "clamped"
    yield make_vector(
        "scenario",
        "wick-clamped",
        "the wick under the clamped (Deribit) mark",
        {"scenario": wick},
        [*_STATE_RULES, "MARK-1", "MARK-3", "MARK-4", "OUT-10"],
        ["scenario", "mark-clamped"],
    )
    spike = _inline(load_toml(folder / "volatility-spike.toml"), folder)
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
    yield make_vector(
        "scenario",
        "operator-change",
        "an operator's parameter change, phased in",
        {"scenario": spike},
        [*_STATE_RULES, "RISK-5", "RISK-6", "OUT-13"],
        ["scenario", "parameters"],
        ["INV-PHASE-IN"],
    )


def _policy_vectors(folder: Path) -> Iterator[Vector]:
    """Yield the thin-book scenario (chunk) under each other policy (LIQ-4, LIQ-11)."""
    for policy in ("health", "tier-step", "optimal"):
        thin = _inline(load_toml(folder / "thin-book-several-steps.toml"), folder)
        thin["scenario"]["name"] = f"thin-book-{policy}"
        thin["liquidation"]["BTCUSDT"]["policy"] = policy
        invariants = []
        if policy == "optimal":  # a 1.33% return: 60000 -> 59200, with a window of one
            thin["liquidation"]["BTCUSDT"]["risk_aversion"] = "0.0001"
            thin["risk"] = {"BTCUSDT": {"vol_window": "1"}}
            invariants = ["INV-OPTIMAL-MONOTONE"]
        yield make_vector(
            "scenario",
            f"thin-book-{policy}",
            f"the thin-book scenario's steps under the {policy} policy",
            {"scenario": thin},
            [*_STATE_RULES, "LIQ-4", "LIQ-7", "LIQ-8", "LIQ-10", "LIQ-11", "OUT-3"],
            ["scenario", policy],
            invariants,
        )


def _pin_vectors() -> Iterator[Vector]:
    for pin in PINS:
        features = ["scenario", "pin", *pin.features]
        yield make_vector("scenario", pin.slug, pin.description, {"scenario": pin.document},
                          [*pin.rules], features, [*pin.invariants])  # fmt: skip


def _market_path_vector(folder: Path) -> Vector:
    """Return a scenario whose market entry is a path, as in a file: never opened (VEC-3)."""
    document = load_toml(folder / "takeover-at-bankruptcy.toml")
    document["scenario"]["name"] = "reject-market-path"
    return make_vector(
        "scenario",
        "reject-market-path",
        "a market given as a path: a case carries documents inline, and no file is opened",
        {"scenario": document},
        ["VEC-3"],
        ["scenario", "negative"],
    )
