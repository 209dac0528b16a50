"""The generator of the conformance suite: cases that cover every rule (spec/13-conformance.md).

Markets, margin, maintenance, fees and shares are here; scenarios are in
:mod:`liqspec.conformance.scenario_vectors`. Each vector is written as canonical JSON (VEC-1);
together they cover every rule (VEC-4).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from liqspec.base.errors import InputError, LiqspecError, Reason
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
from liqspec.model.accounts import Position, Side
from liqspec.model.margin import get_maintenance_margin
from liqspec.model.market_files import market_from_document
from liqspec.model.markets import (
    Market,
    format_amount,
    format_price,
    format_size,
    get_value,
)

__all__ = [
    "ISOLATED_COUNT", "ISOLATED_SEED", "RANDOM_COUNT", "RANDOM_SEED", "build_vectors",
    "write_vectors",
]  # fmt: skip

RANDOM_SEED, RANDOM_COUNT = 1, 190
"""The seeded random scenarios kept as vectors: queues of several accounts, mixed policies,
ADL over many counterparties, socialized loss, halts and bands, risk adjustment."""

ISOLATED_SEED, ISOLATED_COUNT = 2, 12
"""The seeded random scenarios with isolated units: liquidated, moving margin, charged for a
deficit, trading (STATE-11, STATE-12)."""

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


def _size_linear(cap: str | None, *more: tuple[str, object]) -> Callable[[dict[str, Any]], None]:
    """One tier of 1% / 2%, a slope of 0.005% per coin and the given rate cap (MARGIN-13)."""
    tier = {"floor": "0", "cap": "1000000000", "mmr": "0.01", "imr": "0.02"}
    edits = [("tiers", [tier]), ("market.size_slope", "0.00005"), *more]
    return _sets(*edits, *([("market.size_rate_cap", cap)] if cap else []))


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


def _sets(*edits: tuple[str, object]) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        for path, value in edits:
            _set(path, value)(document)

    return edit


_MARKET_BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("nan", _set("tiers.0.mmr", "NaN"), "CONV-1"),
    ("mmr-fraction-over-zero", _set("tiers.0.mmr", "1/0"), "CONV-1"),
    ("mmr-and-mmr-from-max-leverage", _set("market.mmr_from_max_leverage", value=True), "CONV-12"),
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
    ("impact-bound-of-one", _set("liquidation.impact_bound", "1"), "MARKET-12"),
    ("basis-window-zero", _set("mark.basis_window", "0"), "MARKET-13"),
    (
        "ema-decay-of-one",
        _sets(("mark.source", "median"), ("mark.basis", "ema"), ("mark.ema_decay", "1")),
        "MARKET-13",
    ),
    (
        "ema-on-the-clamped-mark",
        _sets(("mark.source", "clamped"), ("mark.basis", "ema"), ("mark.ema_decay", "0.5")),
        "MARKET-13",
    ),
    ("ema-decay-without-ema", _set("mark.ema_decay", "0.5"), "MARKET-13"),
    ("basis-unknown", _set("mark.basis", "median"), "MARKET-13"),
    ("band-of-one", _set("breakers.band", "1"), "MARKET-14"),
    ("multiplier-below-one", _set("risk.max_multiplier", "0.5"), "MARKET-15"),
    ("fair-band-of-one", _set("mark.fair_band", "1"), "MARKET-13"),
    (
        "halt-durations-count",
        _sets(("breakers.halt_levels", ["0.05", "0.1"]), ("breakers.halt_durations", ["10"])),
        "MARKET-14",
    ),
    (
        "halt-levels-decreasing",
        _sets(("breakers.halt_levels", ["0.1", "0.05"]), ("breakers.halt_durations", ["1", "1"])),
        "MARKET-14",
    ),
    (
        "halt-levels-equal",
        _sets(("breakers.halt_levels", ["0.05", "0.05"]), ("breakers.halt_durations", ["1", "1"])),
        "MARKET-14",
    ),
    (
        "halt-level-of-one",
        _sets(("breakers.halt_levels", ["1"]), ("breakers.halt_durations", ["1"])),
        "MARKET-14",
    ),
    (
        "halt-duration-negative",
        _sets(("breakers.halt_levels", ["0.05"]), ("breakers.halt_durations", ["-1"])),
        "MARKET-14",
    ),
    ("slope-negative", _set("risk.slope", "-1"), "MARKET-15"),
    ("max-step-zero", _set("risk.max_step", "0"), "MARKET-15"),
    ("preempt-shock-of-one", _set("risk.preempt_shock", "1"), "MARKET-15"),
    ("preempt-target-without-shock", _set("risk.preempt_target", "1.2"), "MARKET-15"),
    (
        "preempt-target-above-max-multiplier",
        _sets(("risk.preempt_shock", "0.1"), ("risk.preempt_target", "1.2")),
        "MARKET-15",
    ),
    (
        "preempt-threshold-off-grid",
        _sets(("risk.preempt_shock", "0.1"), ("risk.preempt_threshold", "0.000000001")),
        "MARKET-15",
    ),
    (
        "preempt-interval-zero",
        _sets(("risk.preempt_shock", "0.1"), ("risk.preempt_interval", "0")),
        "MARKET-15",
    ),
    ("chunk-zero", _set("liquidation.chunk", "0"), "MARKET-12"),
    ("chunk-above-one", _set("liquidation.chunk", "1.5"), "MARKET-12"),
    ("cooldown-negative", _set("liquidation.cooldown", "-1"), "MARKET-12"),
    ("chunk-rounding-unknown", _set("liquidation.chunk_rounding", "nearest"), "MARKET-12"),
    ("tier-target-unknown", _set("liquidation.tier_target", "last"), "MARKET-12"),
    ("fee-limit-unknown", _set("liquidation.fee_limit", "notional"), "MARKET-12"),
    ("fee-rule-unknown", _set("liquidation.fee_rule", "dynamic"), "MARKET-12"),
    ("price-display-unknown", _set("market.price_display", "rounded"), "PRICE-10"),
    ("limit-rule-unknown", _set("liquidation.limit_rule", "oracle"), "MARKET-12"),
    (
        "bankruptcy-adjustment-below-one",
        _sets(("liquidation.limit_rule", "fillable"), ("liquidation.bankruptcy_adjustment", "0.9")),
        "MARKET-12",
    ),
    (
        "spread-to-maintenance-zero",
        _sets(("liquidation.limit_rule", "fillable"), ("liquidation.spread_to_maintenance", "0")),
        "MARKET-12",
    ),
    ("min-step-notional-negative", _set("liquidation.min_step_notional", "-1"), "MARKET-12"),
    ("adl-drawdown-of-one", _set("liquidation.adl_drawdown", "1"), "MARKET-12"),
    ("adl-window-negative", _set("liquidation.adl_window", "-1"), "MARKET-12"),
    ("adl-window-without-drawdown", _set("liquidation.adl_window", "60"), "MARKET-12"),
    ("open-interest-lower-negative", _set("market.open_interest_lower", "-1"), "MARKET-4"),
    ("size-slope-on-tiers", _set("market.size_slope", "0.00005"), "MARKET-4"),
    ("size-rate-cap-without-slope", _set("market.size_rate_cap", "0.5"), "MARKET-4"),
    ("size-rate-cap-above-half-of-one-plus-mmr", _size_linear("0.51"), "MARKET-4"),
    ("size-rate-cap-below-mmr", _size_linear("0.005"), "MARKET-4"),
    ("size-slope-without-cap", _size_linear(None), "MARKET-4"),
    (
        "size-slope-with-close-fee",
        _size_linear("0.25", ("market.close_fee_in_margin", True)),
        "MARKET-4",
    ),
    (
        "open-interest-upper-below-lower",
        _sets(("market.open_interest_lower", "2000"), ("market.open_interest_upper", "1000")),
        "MARKET-4",
    ),
    ("liquidator-fee-of-one", _set("liquidation.liquidator_fee", "1"), "MARKET-12"),
    ("liquidator-fee-grace-negative", _set("liquidation.liquidator_fee_grace", "-1"), "MARKET-12"),
    (
        "liquidator-fee-ramp-below-its-base",
        _sets(
            ("liquidation.liquidator_fee", "0.002"),
            ("liquidation.liquidator_fee_step", "0.0001"),
            ("liquidation.liquidator_fee_max", "0.001"),
        ),
        "MARKET-12",
    ),
    (
        "fee-above-one-under-surplus",
        _sets(("liquidation.fee_limit", "surplus"), ("liquidation.fee", "1.01")),
        "MARKET-12",
    ),
    ("risk-aversion-negative", _set("liquidation.risk_aversion", "-0.001"), "MARKET-12"),
    ("volatility-source-unknown", _set("risk.source", "mean"), "MARKET-15"),
    ("implied-max-age-negative", _set("risk.implied_max_age", "-1"), "MARKET-15"),
    ("dynamic-window-negative", _set("breakers.dynamic_window", "-1"), "MARKET-14"),
    ("vol-window-negative", _set("risk.vol_window", "-1"), "MARKET-15"),
    ("inverse-without-contract-value", _set("market.contract", "inverse"), "MARKET-4"),
    ("tier-without-imr-or-leverage", _set("tiers.0.max_leverage", _DELETE), "CONV-12"),
    ("max-price-zero", _set("market.max_price", "0"), "MARKET-2"),
    ("dust-negative", _set("liquidation.dust_notional", "-1"), "MARKET-12"),
    ("zero-lot", _set("market.lot_size", "0"), "MARKET-2"),
    ("first-floor-not-zero", _set("tiers.0.floor", "1"), "MARKET-6"),
    ("cap-at-floor", _set("tiers.0.cap", "0"), "MARKET-6"),
    ("taker-fee-of-one", _set("market.taker_fee", "1"), "MARKET-4"),
    ("amount-on-step-tiers", _set("market.tier_mode", "step"), "MARKET-10"),
    (
        "amount-not-whole",
        _sets(("tiers.1.mmr", "0.00500000001"), ("tiers.1.maintenance_amount", _DELETE)),
        "MARKET-10",
    ),
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
    yield from _account_breaks(documents)


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


def _account_breaks(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    """Account files that break one rule each, with the reason each must get (ACCOUNT-1..6)."""
    base = documents[_BASE]
    good = {
        "market": "BTCUSDT",
        "side": "long",
        "size": "0.5",
        "entry_price": "60000",
        "margin_mode": "cross",
    }
    isolated = {**good, "margin_mode": "isolated", "isolated_margin": "100"}
    cyber = {**good, "market": "CYBERUSDT", "size": "100", "entry_price": "1"}
    strict_cyber = copy.deepcopy(documents["binance-cyberusdt-2023-08-31"])
    strict_cyber["market"]["trigger"] = "strict"
    usdc = [documents["bybit-btcperp-usdc-examples"], documents["hyperliquid-btc-2024"]]
    usdc_positions = [
        {**good, "market": "BTCPERP"},
        {**good, "market": "BTC", "size": "0.5", "entry_price": "60000"},
    ]
    btc = {"BTCUSDT": "60000"}
    too_many: list[dict[str, Any]] = [{} for _ in range(MAX_MARKETS + 1)]  # counted first (VEC-3)
    cases = [
        ("unknown-market", [{**good, "market": "ETHUSDT"}], btc, "USDT", [base],
         "ACCOUNT-2", "unknown-market"),
        ("duplicate-position", [good, good], btc, "USDT", [base], "ACCOUNT-3",
         "duplicate-position"),
        ("cross-incompatible", [good], btc, "BTC", [base], "ACCOUNT-4", "cross-incompatible"),
        ("cross-other-trigger", [good, cyber], {**btc, "CYBERUSDT": "1"}, "USDT",
         [base, strict_cyber], "ACCOUNT-4", "cross-incompatible"),
        ("cross-other-quantum", usdc_positions, {"BTCPERP": "60000", "BTC": "60000"}, "USDC",
         usdc, "ACCOUNT-4", "cross-incompatible"),
        ("missing-mark", [good], {}, "USDT", [base], "ACCOUNT-5", "missing-mark"),
        ("isolated-without-margin", [{**good, "margin_mode": "isolated"}], btc, "USDT", [base],
         "ACCOUNT-6", "isolated-margin"),
        ("margin-on-cross", [{**good, "isolated_margin": "100"}], btc, "USDT", [base],
         "ACCOUNT-6", "isolated-margin"),
        ("negative-isolated-margin", [{**isolated, "isolated_margin": "-1"}], btc, "USDT",
         [base], "ACCOUNT-6", "isolated-margin"),
        ("size-zero", [{**good, "size": "0"}], btc, "USDT", [base], "ACCOUNT-1", "out-of-range"),
        ("size-negative", [{**good, "size": "-0.5"}], btc, "USDT", [base], "ACCOUNT-1",
         "out-of-range"),
        ("entry-price-zero", [{**good, "entry_price": "0"}], btc, "USDT", [base], "ACCOUNT-1",
         "price-out-of-domain"),
        ("entry-price-above-max", [{**good, "entry_price": "10000000.1"}], btc, "USDT", [base],
         "ACCOUNT-1", "price-out-of-domain"),
        ("size-off-lot", [{**good, "size": "0.0005"}], btc, "USDT", [base], "CONV-3",
         "off-grid"),
        ("leverage-below-one", [{**isolated, "leverage": "0.5"}], btc, "USDT", [base],
         "ACCOUNT-6", "out-of-range"),
        ("mark-zero", [good], {"BTCUSDT": "0"}, "USDT", [base], "ACCOUNT-5",
         "price-out-of-domain"),
        ("collateral-no-market-settles", [isolated], btc, "EUR", [base], "ACCOUNT-4",
         "cross-incompatible"),
        ("cross-other-settle-asset", [{**good, "market": "BTCUSD_PERP", "size": "1"}],
         {"BTCUSD_PERP": "60000"}, "USDT", [base, documents["binance-btcusd-coinm-2024"]],
         "ACCOUNT-4", "cross-incompatible"),
        ("duplicate-market", [good], btc, "USDT", [base, base], "MARKET-11",
         "duplicate-market"),
        ("too-many-markets", [good], btc, "USDT", too_many, "CONV-2", "magnitude"),
    ]  # fmt: skip
    for slug, positions, marks, asset, markets, rule, reason in cases:
        account = _account(asset, "1000", positions, marks)
        vector = make_vector(
            "margin",
            f"reject-{slug}",
            f"rejected: {slug} ({reason})",
            {"markets": markets, "account": account},
            [rule],
            ["negative"],
        )
        if vector.get("expected_error") != {"reason": reason}:  # pragma: no cover - a guard
            raise LiqspecError(f"margin/reject-{slug} is not rejected with {reason}")
        yield vector
    negative = make_vector(
        "margin",
        "reject-negative-wallet-balance",
        "rejected: a wallet balance below zero (negative-balance)",
        {"markets": [base], "account": _account("USDT", "-1", [good], btc)},
        ["STATE-1"],
        ["negative"],
    )
    if negative.get("expected_error") != {"reason": "negative-balance"}:  # pragma: no cover
        raise LiqspecError("margin/reject-negative-wallet-balance is not negative-balance")
    yield negative
    at_max = [{**good, "entry_price": "10000000"}]
    yield make_vector(
        "margin",
        "entry-price-at-max",
        "an entry price exactly at max_price is accepted (ACCOUNT-1's upper bound is inclusive)",
        {"markets": [base], "account": _account("USDT", "1000", at_max, btc)},
        ["ACCOUNT-1"],
        ["boundary", "cross"],
    )


def _size_linear_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    """Cross longs on each size-linear market at 100,000 (MARGIN-13).

    The published 25 and 350 coins, and one lot either side of where the rate reaches its
    cap; each with a balance of exactly its maintenance margin (not liquidatable under the
    strict trigger) and one quantum less (liquidatable).
    """
    for stem, document in documents.items():
        market = market_from_document(document)
        if market.table.size_rate is None:
            continue
        base, per_lot, cap, _ = market.table.size_rate
        coin = Fraction(market.lot_size.den, market.lot_size.num)  # lots per coin
        mark = int(100_000 / Fraction(market.price_tick.num, market.price_tick.den))
        at_cap = -(-(cap - base) // per_lot)
        sizes = {"25": int(25 * coin), "350": int(350 * coin)}
        sizes |= {"cap-less-one-lot": at_cap - 1, "cap": at_cap}
        for label, size in sizes.items():
            for below, name in ((0, "at-maintenance"), (1, "one-quantum-below")):
                yield make_vector(
                    "margin",
                    f"{stem}-{label}-{name}",
                    f"MARGIN-13: a long of {format_size(market, size)} at "
                    f"{format_price(market, mark)} with a balance {name.replace('-', ' ')}",
                    {"markets": [document], "account": _long_at(document, size, mark, below)},
                    ["MARGIN-13", "MARGIN-8", "MARGIN-9", "MARGIN-6"],
                    [*_market_features(document), "boundary", "cross"],
                    ["INV-MM-SIZE", "INV-TRIGGER"],
                )


def _long_at(document: dict[str, Any], size: int, mark: int, below: int) -> dict[str, Any]:
    """Return a cross long of ``size`` lots entered at ``mark``, its balance MM - ``below``."""
    market, spec = market_from_document(document), document["market"]
    position = Position(spec["symbol"], Side.LONG, size, get_value(market, size, mark))
    balance = get_maintenance_margin(market, position, mark) - below
    held = {
        "market": spec["symbol"],
        "side": "long",
        "size": format_size(market, size),
        "entry_price": format_price(market, mark),
        "margin_mode": "cross",
    }
    marks = {spec["symbol"]: format_price(market, mark)}
    return _account(spec["settle_asset"], format_amount(market, balance), [held], marks)


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


def _step_jump_vectors(base: dict[str, Any]) -> Iterator[Vector]:
    """Linear step tiers whose maintenance jumps at a cap (PRICE-3).

    A long of 1 BTC from 49000 on 300 USDT is liquidatable below 48895.5, safe up to the cap
    of 50000, and liquidatable again above it, where the step tier's 20% rate takes over, up
    to about 60875. The published price is the first boundary from the adverse side: only the
    split of the grid at the tier cut finds it; one bisection over the whole grid would not.
    """
    document = copy.deepcopy(base)
    document["market"]["tier_mode"] = "step"
    document["tiers"] = [
        {"floor": "0", "cap": "50000", "mmr": "0.004", "max_leverage": "125"},
        {"floor": "50000", "cap": "1000000", "mmr": "0.2", "max_leverage": "4"},
    ]
    for side, entry, balance in (("long", "49000", "300"), ("short", "49000", "300")):
        position = {"market": "BTCUSDT", "side": side, "size": "1", "entry_price": entry,
                    "margin_mode": "cross"}  # fmt: skip
        account = _account("USDT", balance, [position], {"BTCUSDT": entry})
        yield make_vector(
            "margin",
            f"linear-step-tier-jump-{side}",
            f"a {side} below a step tier's cap, whose maintenance jumps from 0.4% to 20% there",
            {"markets": [document], "account": account},
            [*_MARGIN_RULES, "PRICE-3"],
            ["linear", "step-tiers", "boundary", "cross"],
            ["INV-MM-SLOPE"],
        )


def _one_position(
    slug: str,
    description: str,
    document: dict[str, Any],
    position: tuple[str, str, str, str],
    *,
    rules: list[str],
    features: list[str],
    invariants: tuple[str, ...] = (),
) -> Vector:
    """Return a margin vector of one cross position ``(side, size, entry, balance)``."""
    side, size, entry, balance = position
    symbol, asset = document["market"]["symbol"], document["market"]["settle_asset"]
    row = {"market": symbol, "side": side, "size": size, "entry_price": entry,
           "margin_mode": "cross"}  # fmt: skip
    return make_vector(
        "margin",
        slug,
        description,
        {"markets": [document], "account": _account(asset, balance, [row], {symbol: entry})},
        [*_MARGIN_RULES, *rules],
        [*features, "cross", "boundary"],
        list(invariants),
    )


def _grid_edge_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    """Yield prices at the bottom of the grid and at tier cuts (PRICE-2..PRICE-7).

    A 1 BTC long from 60000: on 59999.9 USDT it is liquidatable at one tick only (0.1); on
    59999.8 it is bankrupt at one tick only (bankruptcy price 0.2); on 60000 its exact
    bankruptcy price is 0, which is not positive (none). On an entry-valued single-tier market
    (MM 300) the long on 60299.5 is liquidatable at one tick only (0.5). An inverse short of
    one 100 USD contract from 60000 is worth 0.00166667 BTC: on 0.01 BTC no price bankrupts it,
    and the root of its equity has no positive solution (none).
    """
    btc, bybit = documents[_BASE], documents["bybit-btcusdt-isolated-examples"]
    coinm = documents["binance-btcusd-coinm-2024"]
    shown = {**btc, "market": {**btc["market"], "price_display": "nearest-half-up"}}
    cases = (
        ("liquidation-price-displayed-nearest-half-up", shown, "long", "1007",
         ["PRICE-10", "PRICE-2"],
         "the exact root 59239.19598 is shown as 59239.2 (half up); PRICE-2's price is 59239.1"),
        ("liquidation-at-one-tick", btc, "long", "59999.9", ["PRICE-2", "PRICE-3", "PRICE-4"],
         "liquidatable at the lowest grid price only: liquidation price one tick (0.1)"),
        ("bankruptcy-at-two-ticks", btc, "long", "59999.8", ["PRICE-5", "PRICE-6"],
         "bankrupt at the lowest grid price only: bankruptcy price two ticks (0.2)"),
        ("exact-bankruptcy-price-zero", btc, "long", "60000", ["PRICE-7"],
         "collateral equal to the entry value: the exact bankruptcy price 0 is not reported"),
        ("entry-valuation-liquidation-at-one-tick", bybit, "long", "60299.5",
         ["PRICE-2", "MARGIN-3"],
         "entry valuation, one tier: liquidatable at the lowest grid price only (0.5)"),
        ("inverse-short-never-bankrupt", coinm, "short", "0.01", ["PRICE-5", "PRICE-7"],
         "an inverse short backed by more than its entry value: no bankruptcy price at all"),
    )  # fmt: skip
    for slug, document, side, balance, rules, description in cases:
        position = (side, "1", "60000", balance)
        features = _market_features(document)
        yield _one_position(slug, description, document, position, rules=rules, features=features)
    yield from _inverse_cut_vectors(documents["bitmex-xbtusd-step"])


def _inverse_cut_vectors(bitmex: dict[str, Any]) -> Iterator[Vector]:
    """Inverse step tiers whose liquidation condition flips at a tier cut (PRICE-3).

    An inverse value only falls as the price rises, so a short walks from the adverse end
    into ever higher tiers: its maintenance jumps at each cut, ceil(size x K / (cap - 1)).

    * ``cut-of-a-whole-cap``: settle quantum 0.01 XBT; a short of 10,000,000 contracts is
      worth exactly 200 XBT (the first cap) at 50000, so the cut is 50003 (100006 ticks),
      not 50000. On 1.5 XBT the short is liquidatable from 50128 up, safe down to the cut,
      and liquidatable again just below it, where the 1% tier starts.
    * ``cut-at-two-ticks``: a first cap of 150 XBT puts the cut of a 100-contract short at 1
      (two ticks); its second tier's 60% rate makes it liquidatable at 0.5 (one tick) but not
      at 1: the liquidation price is 1.5, not ``always``.
    * ``caps-of-one-and-two-quantums``: tiers capped at 1 and 2 quantums ahead of the BitMEX
      steps. A value is at least 1 quantum, so the first tier holds no position (no cut);
      the second holds a value of exactly 1 quantum, which this long (1000 quantums at
      max_price) never reaches: its prices are those of the BitMEX tiers.
    """
    coarse = copy.deepcopy(bitmex)
    coarse["market"]["settle_quantum"] = "0.01"
    two_ticks = copy.deepcopy(coarse)
    two_ticks["tiers"] = [
        {"floor": "0", "cap": "150", "mmr": "0.005", "imr": "0.01"},
        {"floor": "150", "cap": "1000", "mmr": "0.6", "imr": "0.7"},
    ]
    tiny = copy.deepcopy(bitmex)
    tiny["tiers"] = [
        {"floor": "0", "cap": "0.00000001", "mmr": "0.005", "imr": "0.01"},
        {"floor": "0.00000001", "cap": "0.00000002", "mmr": "0.005", "imr": "0.01"},
        {**bitmex["tiers"][0], "floor": "0.00000002"},
        *bitmex["tiers"][1:],
    ]
    cases = (
        ("cut-of-a-whole-cap", coarse, "short", "10000000", "50000", "1.5",
         "a short liquidatable from 50128 up whose tier cut is 50003, not 50000"),
        ("cut-at-two-ticks", two_ticks, "short", "100", "1", "10",
         "a short whose tier cut is two ticks: liquidatable at one tick, safe at two"),
        ("caps-of-one-and-two-quantums", tiny, "long", "100", "50000", "1",
         "tiers capped at one and two quantums, which no grid price puts the long in"),
    )  # fmt: skip
    for slug, document, side, size, entry, balance, description in cases:
        yield _one_position(
            f"inverse-step-{slug}", description, document, (side, size, entry, balance),
            rules=["PRICE-3", "MARGIN-4"], features=["inverse", "step-tiers"],
            invariants=("INV-MM-SLOPE",),
        )  # fmt: skip


def _price_cut_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    """Prices that flip exactly at a tier cut or at the ends of the grid (PRICE-2..PRICE-7).

    * ``linear-step-short-liquidation-at-cut``: the step market of :func:`_step_jump_vectors`;
      a 1 BTC short from 49000 on 5000 USDT is liquidatable from the cut, 50000 (20% tier), up,
      and safe one tick below it, where the 0.4% tier holds: the liquidation price is the cut.
    * ``short-bankruptcy-at-one-tick``: a 0.001 BTC short from 0.1 on 0.00005 USDT has equity
      >= 0 at the lowest grid price only: its bankruptcy price is one tick (0.1), not ``always``.
    * ``inverse-short-collateral-equals-entry-value`` and ``...-one-quantum-below-...``: the
      inverse short of ``inverse-short-never-bankrupt`` (entry value 0.00166667 BTC) on exactly
      its entry value, whose equity has no positive root (none), and on one quantum less, whose
      root is size x K over that one quantum, 10^11 ticks: 10,000,000,000, far off the grid.
    """
    btc, coinm = documents[_BASE], documents["binance-btcusd-coinm-2024"]
    bybit_inverse = documents["bybit-btcusd-inverse-examples"]
    step = copy.deepcopy(btc)
    step["market"]["tier_mode"] = "step"
    step["tiers"] = [
        {"floor": "0", "cap": "50000", "mmr": "0.004", "max_leverage": "125"},
        {"floor": "50000", "cap": "1000000", "mmr": "0.2", "max_leverage": "4"},
    ]
    cases = (
        ("linear-step-short-liquidation-at-cut", step, "5000", "1", "49000",
         ["PRICE-2", "PRICE-3", "PRICE-4"], ["linear", "step-tiers"],
         "a short liquidatable from its tier cut up and safe one tick below: price at the cut"),
        ("short-bankruptcy-at-one-tick", btc, "0.00005", "0.001", "0.1",
         ["PRICE-5", "PRICE-6"], ["linear"],
         "a short with equity >= 0 at the lowest grid price only: bankruptcy price one tick"),
        ("inverse-short-collateral-equals-entry-value", coinm, "0.00166667", "1", "60000",
         ["PRICE-7"], ["inverse"],
         "an inverse short backed by exactly its entry value: no exact bankruptcy price"),
        ("inverse-short-collateral-one-quantum-below-entry-value", coinm, "0.00166666", "1",
         "60000", ["PRICE-7"], ["inverse"],
         "an inverse short backed by one quantum less than its entry value: a root far off grid"),
        ("inverse-close-fee-estimate-rounded-up", bybit_inverse, "0.001", "1", "7000",
         ["MARGIN-7", "MARGIN-8", "CONV-6"], ["inverse", "close-fee"],
         ("an inverse short of 1 contract at 7000: entry value 14286 quantums (rounded up); "
          "close-fee estimate 14286 x 0.99 x 0.075% = 10.607, rounded up to 11; "
          "MM = 72 + 11 = 83 and IM = 143 + 11 = 154 quantums")),
    )  # fmt: skip
    for slug, document, balance, size, entry, rules, features, description in cases:
        position = ("short", size, entry, balance)
        yield _one_position(slug, description, document, position, rules=rules, features=features)


def _market_edge_vectors(base: dict[str, Any]) -> Iterator[Vector]:
    """Markets on the bounds of MARKET-2 and MARKET-15.

    A max_price of one tick is accepted. With one tier of mmr 0.4 (2/5), a max_multiplier of
    2.5 makes max_multiplier x mmr exactly 1: rejected; 2.4 makes it 0.96: accepted.
    """
    one_tick = copy.deepcopy(base)
    one_tick["market"]["max_price"] = one_tick["market"]["price_tick"]
    yield make_vector(
        "market",
        "max-price-of-one-tick",
        "a max_price of exactly one tick is accepted (MARKET-2's bound is inclusive)",
        {"market": one_tick},
        ["MARKET-2"],
        ["boundary"],
    )
    for slug, multiplier, text in (
        ("reject-risk-max-multiplier-times-mmr-one", "2.5", "max_multiplier x mmr = 1: rejected"),
        ("risk-max-multiplier-times-mmr-below-one", "2.4", "max_multiplier x mmr = 0.96: accepted"),
    ):
        document = copy.deepcopy(base)
        document["tiers"] = [{"floor": "0", "cap": "50000", "mmr": "0.4", "max_leverage": "2"}]
        document["risk"] = {"max_multiplier": multiplier}
        yield make_vector(
            "market",
            slug,
            f"one tier of mmr 0.4, max_multiplier {multiplier}: {text}",
            {"market": document},
            ["MARKET-15"],
            ["negative", "boundary"] if slug.startswith("reject") else ["boundary"],
        )


def _threshold_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    """Yield accounts exactly on a threshold (MARGIN-7, MARGIN-9, MARGIN-11).

    Equity equal to MM under each trigger, equity of one quantum, and a close fee in margin at
    a leverage whose IMR has a numerator above 1.
    """
    for stem, symbol, balance in (
        ("binance-btcusdt-2024-10-24", "BTCUSDT", "120"),  # MM of 0.5 BTC at 60000, inclusive
        ("hyperliquid-btc-2024", "BTC", "375"),  # MM of 0.5 BTC at 60000, strict
        ("binance-btcusdt-2024-10-24", "BTCUSDT", "0.00000001"),  # one quantum of equity
    ):
        document = documents[stem]
        trigger = document["market"].get("trigger", "strict")
        position = {"market": symbol, "side": "long", "size": "0.5", "entry_price": "60000",
                    "margin_mode": "cross"}  # fmt: skip
        asset = document["market"]["settle_asset"]
        account = _account(asset, balance, [position], {symbol: "60000"})
        slug = "equity-one-quantum" if balance == "0.00000001" else f"equity-equals-mm-{trigger}"
        yield make_vector(
            "margin",
            f"{stem}-{slug}",
            f"equity {balance} against MM 120 or 375, trigger {trigger}",
            {"markets": [document], "account": account},
            [*_MARGIN_RULES, "MARGIN-9", "MARGIN-11"],
            [*_market_features(document), "cross", "boundary"],
            ["INV-TRIGGER"],
        )
    document = documents["bybit-btcperp-usdc-examples"]
    position = {"market": "BTCPERP", "side": "short", "size": "0.5", "entry_price": "60000",
                "margin_mode": "isolated", "isolated_margin": "13000",
                "leverage": "2.5"}  # fmt: skip
    account = _account("USDC", "0", [position], {"BTCPERP": "60000"})
    yield make_vector(
        "margin",
        "bybit-btcperp-usdc-examples-isolated-short-leverage-2.5",
        "an isolated short at leverage 2.5 (IMR 2/5) with the close fee in its margin",
        {"markets": [document], "account": account},
        [*_MARGIN_RULES, "MARGIN-7"],
        [*_market_features(document), "isolated"],
    )


def _literal_vectors() -> Iterator[Vector]:
    """Yield fee cases whose inputs test CONV-1's reading of a decimal, not the fee rule."""
    for slug, nominal, text in (
        ("json-integers", 10, "JSON integers are read as decimals"),
        ("reject-boolean", True, "a boolean is not a decimal"),
        ("reject-exponent", "1e3", "exponent notation is not plain decimal text"),
        ("reject-plus-sign", "+10", "a leading + is not plain decimal text"),
    ):
        yield make_vector(
            "fee",
            slug,
            text,
            {"nominal": nominal, "surplus": 4},
            ["CONV-1"] if slug.startswith("reject") else ["CONV-1", "LIQ-8"],
            ["fee", "negative"] if slug.startswith("reject") else ["fee"],
        )


def _status_vectors(documents: dict[str, dict[str, Any]]) -> Iterator[Vector]:
    """Yield the price statuses of PRICE-1.

    ``none``: a tiny long on a large balance. ``always``: a long beside a cross short whose
    loss no price of the long can cover.
    """
    btc, cyber = documents[_BASE], documents["binance-cyberusdt-2023-08-31"]

    def cross(market: str, side: str, size: str, entry: str) -> dict[str, str]:
        return {"market": market, "side": side, "size": size, "entry_price": entry,
                "margin_mode": "cross"}  # fmt: skip

    cases = (
        ("none", "1000000", [cross("BTCUSDT", "long", "0.001", "60000")], [btc],
         {"BTCUSDT": "60000"}),
        ("always", "0", [cross("BTCUSDT", "long", "0.001", "60000"),
                         cross("CYBERUSDT", "short", "1000000", "1")], [btc, cyber],
         {"BTCUSDT": "60000", "CYBERUSDT": "2"}),
    )  # fmt: skip
    for status, balance, positions, markets, marks in cases:
        yield make_vector(
            "margin",
            f"price-status-{status}",
            f"liquidation and bankruptcy prices of the BTCUSDT leg are '{status}' (PRICE-1)",
            {"markets": markets, "account": _account("USDT", balance, positions, marks)},
            [*_MARGIN_RULES, "PRICE-1", "PRICE-7"],
            ["cross", "boundary"],
        )


def _edge_vectors(base: dict[str, Any]) -> Iterator[Vector]:
    """Yield accounts on the lowest accepted values (ACCOUNT-1, ACCOUNT-5, ACCOUNT-6).

    An entry and a mark of one tick, and an isolated margin of 0.
    """
    tick = {"market": "BTCUSDT", "side": "long", "size": "1", "entry_price": "0.1",
            "margin_mode": "cross"}  # fmt: skip
    bare = {"market": "BTCUSDT", "side": "long", "size": "1", "entry_price": "60000",
            "margin_mode": "isolated", "isolated_margin": "0"}  # fmt: skip
    cases = (
        ("entry-and-mark-of-one-tick", "1", tick, "0.1", ["ACCOUNT-1", "ACCOUNT-5"]),
        ("isolated-margin-zero", "0", bare, "60000", ["ACCOUNT-6"]),
    )
    for slug, balance, position, mark, rules in cases:
        account = _account("USDT", balance, [position], {"BTCUSDT": mark})
        yield make_vector(
            "margin",
            slug,
            f"accepted at the lowest value its rule allows: {slug}",
            {"markets": [base], "account": account},
            [*_MARGIN_RULES, *rules],
            ["boundary"],
        )


def _digit_vectors(base: dict[str, Any]) -> Iterator[Vector]:
    """Yield the 40-digit limits: of an input decimal (CONV-2), of a rendered ratio (OUT-14)."""
    yield make_vector(
        "fee",
        "nominal-40-digits",
        "a decimal of 40 characters is read",
        {"nominal": "9" * 40, "surplus": "1"},
        ["CONV-2", "LIQ-8"],
        ["fee", "boundary"],
    )
    yield make_vector(
        "fee",
        "reject-nominal-41-digits",
        "a decimal of 41 characters is refused before it is read",
        {"nominal": "9" * 41, "surplus": "1"},
        ["CONV-2"],
        ["fee", "negative", "boundary"],
    )
    for power, form in ((40, "decimal"), (41, "fraction")):
        document = copy.deepcopy(base)
        leverage = str(2**power)
        document["tiers"] = [
            {"floor": "0", "cap": "50000", "mmr": "0.0000000000001", "max_leverage": leverage}
        ]
        yield make_vector(
            "market",
            f"imr-one-over-2-to-the-{power}",
            f"IMR 1/2^{power} has {power} fractional digits: written as a {form} (OUT-14)",
            {"market": document},
            ["OUT-14", "MARKET-8"],
            ["boundary"],
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


def build_vectors(spec: Path, first_tries: Mapping[str, int] | None = None) -> list[Vector]:
    """Build every vector from the specification folder ``spec`` (markets and scenarios).

    Raises :class:`InputError`, naming the file, for a missing, unreadable or invalid market
    file; the rejection cases derive from the bundled Binance BTCUSDT market.
    ``first_tries`` starts the search of the random scenario of each name at a later try
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
        *_size_linear_vectors(documents),
        *_fee_vectors(),
        *_share_vectors(),
        *_literal_vectors(),
        *_edge_vectors(documents[_BASE]),
        *_status_vectors(documents),
        *_digit_vectors(documents[_BASE]),
        *_step_jump_vectors(documents[_BASE]),
        *_threshold_vectors(documents),
        *_grid_edge_vectors(documents),
        *_price_cut_vectors(documents),
        *_market_edge_vectors(documents[_BASE]),
        *scenario_vectors(spec),
        *random_scenario_vectors(RANDOM_SEED, RANDOM_COUNT, first_tries),
        *random_scenario_vectors(ISOLATED_SEED, ISOLATED_COUNT, first_tries, generation=2),
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
