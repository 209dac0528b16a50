"""The generator of the conformance suite: cases that cover every rule (spec/13-conformance.md).

Markets, margin, maintenance, fees and shares are here; scenarios are in
:mod:`liqspec.conformance.scenario_vectors`. Each vector is written as canonical JSON (VEC-1);
together they cover every rule (VEC-4).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from liqspec.base.errors import InputError, Reason
from liqspec.base.files import check_schema
from liqspec.conformance.scenario_fuzz import random_scenario_vectors
from liqspec.conformance.scenario_vectors import scenario_vectors
from liqspec.conformance.vectors import (
    MAX_MARKETS,
    Vector,
    canonical,
    load_toml,
    make_vector,
)
from liqspec.model.market_files import market_from_document
from liqspec.model.markets import (
    Market,
    format_amount,
    format_price,
    format_size,
    get_value,
)

__all__ = ["RANDOM_COUNT", "RANDOM_SEED", "build_vectors", "write_vectors"]

RANDOM_SEED, RANDOM_COUNT = 1, 220
"""The seeded random scenarios kept as vectors: queues of several accounts, mixed policies,
ADL over many counterparties, socialized loss, halts and bands, risk adjustment."""

_BASE = "binance-btcusdt-2024-10-24"
"""The market whose broken copies make the rejection cases."""


def _market_features(document: dict[str, Any]) -> list[str]:
    spec = document["market"]
    return [
        spec["contract"],
        f"{spec['tier_mode']}-tiers",
        f"trigger-{spec.get('trigger', 'strict')}",
    ]


def _market_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    rules = [f"MARKET-{n}" for n in range(1, 16)] + ["CONV-1", "CONV-3", "CONV-4", "CONV-12"]
    for stem, document in documents.items():
        yield make_vector(
            "market",
            stem,
            f"derived tier table of {stem}",
            {"market": document},
            rules,
            _market_features(document),
            ["INV-PARAMETERS"],
        )
    base = documents[_BASE]
    for slug, edit, rule in _MARKET_BREAKS:
        broken = copy.deepcopy(base)
        edit(broken)
        yield make_vector(
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
    ("imr-and-max-leverage", _set("tiers.0.imr", "0.008"), "CONV-12"),
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
                    yield _positionmake_vector(
                        stem, document, market, side, leverage=leverage, label=label, move=move
                    )
        for i, tier in enumerate(market.tiers[1:4], start=2):
            yield _floormake_vector(stem, document, market, i, tier.floor)
    yield from _account_breaks(documents[_BASE])


def _positionmake_vector(
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
    return make_vector(
        "margin",
        slug,
        f"isolated {side} {leverage}x, mark {label}",
        {"markets": [document], "account": account},
        _MARGIN_RULES,
        [*_market_features(document), "isolated"],
        [
            "INV-TRIGGER",
            "INV-MM-SLOPE",
            "INV-LP-SOUND",
            "INV-BP-SOUND",
            "INV-BANKRUPT-LIQ",
            "INV-VALUE-MONOTONE",
        ],
    )


def _floormake_vector(
    stem: str, document: dict[str, Any], market: Market, tier: int, floor: int
) -> Vector:
    """Return a cross long whose notional at mark is exactly a tier floor (boundary)."""
    spec = document["market"]
    mark = market.max_price // 200
    per_lot = get_value(market, 1, mark)
    size = max(1, floor // per_lot)
    if get_value(market, size, mark) != floor:  # pragma: no cover - the bundled markets hit it
        detail = f"no whole number of lots is worth the floor of tier {tier} at {mark} ticks"
        raise InputError(Reason.MAGNITUDE, f"tiers[{tier - 1}].floor", floor, detail)
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
    return make_vector(
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
    too_many: list[dict[str, Any]] = [{} for _ in range(MAX_MARKETS + 1)]  # counted first (VEC-3)
    cases.append(("too-many-markets", [good], {"BTCUSDT": "60000"}, "USDT", too_many, "CONV-2"))
    for slug, positions, marks, asset, documents, rule in cases:
        account = _account(asset, "1000", positions, marks)
        yield make_vector(
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
            yield make_vector(
                "maintenance",
                f"{stem}-{n}",
                f"MM of {n} quantums",
                {"market": document, "notional": format_amount(market, n)},
                ["MARGIN-4", "MARGIN-5", "CONV-6", "MARKET-10"],
                [*_market_features(document), "boundary"],
                ["INV-MM-MONOTONE", "INV-MM-CONTINUOUS", "INV-TIERS-SYMBOLIC"],
            )


def _fee_vectors() -> Iterator[Vector]:
    for nominal, surplus in ((10, 4), (10, 10), (10, 11), (10, 0), (10, -3), (0, 5), (7, 7)):
        yield make_vector(
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
        yield make_vector(
            "shares",
            slug,
            "exact telescoping shares",
            {"deficit": str(deficit), "cuts": [str(c) for c in cuts], "total": str(total)},
            ["INS-3", "INS-4", "INS-5"],
            ["shares"],
            ["INV-ADL-EXACT"],
        )
    yield make_vector(
        "shares",
        "reject-too-many-cuts",
        "1001 cuts: more than a case may hold, rejected before any is read",
        {"deficit": "1", "cuts": [str(c) for c in range(1, 1002)], "total": "1002"},
        ["CONV-2", "VEC-3"],
        ["shares", "negative"],
    )


def build_vectors(spec: Path, first_tries: Mapping[int, int] | None = None) -> list[Vector]:
    """Build every vector from the specification folder ``spec`` (markets and scenarios).

    Raises :class:`InputError`, naming the file, for a missing, unreadable or invalid market
    file; the rejection cases derive from the bundled Binance BTCUSDT market.
    ``first_tries`` starts the search of random scenario ``n`` at a later try
    (:func:`~liqspec.conformance.scenario_fuzz.random_scenario_vectors`).
    """
    documents = {p.stem: load_toml(p) for p in sorted((spec / "markets").glob("*.toml"))}
    for stem, document in documents.items():
        try:
            market_from_document(document)
        except InputError as error:
            raise error.located(str(spec / "markets" / f"{stem}.toml")) from None
    if _BASE not in documents:
        where = str(spec / "markets" / f"{_BASE}.toml")
        detail = "the generator derives its rejection cases from this market file"
        raise InputError(Reason.UNREADABLE, "<file>", where, detail, where)
    vectors = [
        *_market_vectors(documents),
        *_margin_vectors(documents),
        *_maintenance_vectors(documents),
        *_fee_vectors(),
        *_share_vectors(),
        *scenario_vectors(spec),
        *random_scenario_vectors(RANDOM_SEED, RANDOM_COUNT, first_tries),
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
