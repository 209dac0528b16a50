"""Gating a change of market parameters (docs/ci-gating.md).

``gate(old, new)`` runs every per-market check of the catalogue on the new parameters, diffs
the tier tables, recomputes liquidation and bankruptcy prices for a fixed panel of reference
positions, and, given a positions snapshot, finds positions that the change alone makes
liquidatable and those whose distance to liquidation shrinks by more than a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from liqproofs.catalogue import Result, run_market
from liqspec.base.conventions import Ratio
from liqspec.engine.outputs import percent
from liqspec.model.accounts import (
    AccountFile,
    Leg,
    MarginMode,
    MarginUnit,
    Side,
    get_margin_units,
    open_position,
)
from liqspec.model.margin import is_liquidatable
from liqspec.model.markets import Market, format_amount, format_price, get_max_leverage, get_value
from liqspec.model.prices import PriceStatus, get_bankruptcy_price, get_liquidation_price

__all__ = ["PANEL_LEVERAGES", "gate", "gate_markdown"]

PANEL_LEVERAGES = (2, 10, 50)
"""Leverages of the reference panel; positions sit at the middle of each old tier."""


def _tiers(market: Market) -> list[dict[str, str]]:
    return [
        {
            "floor": format_amount(market, t.floor),
            "cap": format_amount(market, t.cap),
            "mmr": str(t.mmr),
            "max_leverage": str(get_max_leverage(t)),
            "maintenance_amount": format_amount(market, t.maintenance_amount),
        }
        for t in market.tiers
    ]


def _tier_diff(old: Market, new: Market) -> list[dict[str, Any]]:
    before, after = _tiers(old), _tiers(new)
    rows = []
    for i in range(max(len(before), len(after))):
        a = before[i] if i < len(before) else None
        b = after[i] if i < len(after) else None
        if a != b:
            rows.append({"tier": i + 1, "old": a, "new": b})
    return rows


def _price(market: Market, unit: MarginUnit, kind: str) -> str:
    result = get_liquidation_price(unit, 0) if kind == "lp" else get_bankruptcy_price(unit, 0)
    if result.status is PriceStatus.AT and result.price is not None:
        return format_price(market, result.price)
    return result.status.value


def _panel_unit(market: Market, side: Side, size: int, price: int, leverage: int) -> MarginUnit:
    value = get_value(market, size, price)
    margin = -(-value // leverage)
    position = open_position(
        market, side, size, price, margin_mode=MarginMode.ISOLATED, isolated_margin=margin,
        chosen_imr=Ratio.of(1, leverage),
    )  # fmt: skip
    leg = Leg(market, position, price)
    return MarginUnit(
        "panel", market.settle_asset, market.settle_quantum, margin, (leg,), market.trigger
    )


def _panel(old: Market, new: Market, price: int) -> list[dict[str, Any]]:
    """Return the reference panel: the middle of each old tier, both sides, each leverage."""
    rows = []
    per_lot = get_value(old, 1, price)
    for tier in old.tiers:
        middle = (tier.floor + tier.cap) // 2
        size = max(1, middle // max(per_lot, 1))
        for leverage in PANEL_LEVERAGES:
            for side in Side:
                before = _panel_unit(old, side, size, price, leverage)
                after = _panel_unit(new, side, size, price, leverage)
                row = {
                    "side": side.name.lower(), "leverage": leverage,
                    "notional": format_amount(old, get_value(old, size, price)),
                    "lp_old": _price(old, before, "lp"), "lp_new": _price(new, after, "lp"),
                    "bp_old": _price(old, before, "bp"), "bp_new": _price(new, after, "bp"),
                }  # fmt: skip
                rows.append(row)
    return rows


def _distance(unit: MarginUnit, index: int) -> Fraction | None:
    result = get_liquidation_price(unit, index)
    if result.status is not PriceStatus.AT or result.price is None:
        return None
    mark = unit.legs[index].mark
    return Fraction(abs(mark - result.price), mark)


def _percent(value: Fraction) -> str:
    return percent(Ratio.of(value.numerator, value.denominator))


def _with_market(markets: Mapping[str, Market], market: Market) -> dict[str, Market]:
    return {**markets, market.symbol: market}


def _snapshot(
    old: Market,
    new: Market,
    snapshot: AccountFile,
    others: Mapping[str, Market],
    threshold: Fraction,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    account = snapshot.account
    before = get_margin_units(account, _with_market(others, old), snapshot.marks)
    after = get_margin_units(account, _with_market(others, new), snapshot.marks)
    newly, shrunk = [], []
    for unit_old, unit_new in zip(before, after, strict=True):
        if unit_new.legs and is_liquidatable(unit_new) and not is_liquidatable(unit_old):
            newly.append({"account": account.id, "unit": unit_new.name})
        for i, leg in enumerate(unit_new.legs):
            if leg.market.symbol != new.symbol:
                continue
            d_old, d_new = _distance(unit_old, i), _distance(unit_new, i)
            if d_old and d_new is not None and (d_old - d_new) / d_old > threshold:
                shrunk.append({
                    "account": account.id, "unit": unit_new.name, "market": new.symbol,
                    "distance_old": _percent(d_old), "distance_new": _percent(d_new),
                })  # fmt: skip
    return newly, shrunk


def gate(
    old: Market,
    new: Market,
    *,
    price: int,
    snapshot: AccountFile | None = None,
    others: Mapping[str, Market] | None = None,
    threshold: Fraction = Fraction(1, 10),
) -> dict[str, Any]:
    """Return the gate report of replacing ``old`` by ``new`` (JSON-ready)."""
    results: list[Result] = run_market(new)
    failures = [r for r in results if not r.holds]
    newly: list[dict[str, Any]] = []
    shrunk: list[dict[str, Any]] = []
    if snapshot is not None:
        newly, shrunk = _snapshot(old, new, snapshot, others or {}, threshold)
    return {
        "market": new.symbol,
        "price": format_price(old, price),
        "checks": [
            {
                "id": r.invariant.id,
                "result": "proved" if r.holds else type(r.outcome).__name__.lower(),
                "detail": r.replay
                or str(getattr(r.outcome, "values", getattr(r.outcome, "reason", ""))),
            }
            for r in results
        ],
        "tiers_changed": _tier_diff(old, new),
        "panel": _panel(old, new, price),
        "newly_liquidatable": newly,
        "distance_shrunk": shrunk,
        "passed": not failures and not newly,
    }


def _tier_text(tier: dict[str, str] | None) -> str:
    if tier is None:
        return "(none)"
    return (
        f"[{tier['floor']}, {tier['cap']}) MMR {tier['mmr']}, {tier['max_leverage']}x, "
        f"amount {tier['maintenance_amount']}"
    )


def gate_markdown(report: dict[str, Any]) -> str:
    """Render a gate report as a pull-request comment."""
    verdict = "passes" if report["passed"] else "FAILS"
    lines = [f"## liqspec gate: {report['market']} {verdict}", ""]
    lines += ["| invariant | result | detail |", "|---|---|---|"]
    lines += [f"| {c['id']} | {c['result']} | {c['detail']} |" for c in report["checks"]]
    lines += ["", f"### Tier changes ({len(report['tiers_changed'])})", ""]
    for row in report["tiers_changed"]:
        lines.append(f"- tier {row['tier']}: {_tier_text(row['old'])} -> {_tier_text(row['new'])}")
    lines += ["", f"### Reference positions at {report['price']}", ""]
    lines += ["| side | leverage | notional | LP old | LP new | BP old | BP new |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for p in report["panel"]:
        if p["lp_old"] != p["lp_new"] or p["bp_old"] != p["bp_new"]:
            lines.append(f"| {p['side']} | {p['leverage']}x | {p['notional']} | {p['lp_old']} | "
                         f"{p['lp_new']} | {p['bp_old']} | {p['bp_new']} |")  # fmt: skip
    lines += ["", f"### Positions liquidatable at once: {len(report['newly_liquidatable'])}"]
    lines += [f"- {n['account']} ({n['unit']})" for n in report["newly_liquidatable"]]
    shrunk = len(report["distance_shrunk"])
    lines += ["", f"### Distance to liquidation shrunk beyond the threshold: {shrunk}"]
    lines += [f"- {s['account']} {s['market']}: {s['distance_old']} -> {s['distance_new']}"
              for s in report["distance_shrunk"]]  # fmt: skip
    return "\n".join(lines) + "\n"
