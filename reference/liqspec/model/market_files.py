"""The market file (spec/02-markets.md#MARKET-1): TOML or JSON text to a checked market."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import attrs

from liqspec.base.conventions import (
    Ratio,
    parse_decimal,
    parse_rate,
    parse_ratio,
    ratio_from_leverage,
    to_units,
)
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import check_schema, load_document
from liqspec.model.market_rules import (
    check_tier_bounds,
    check_tier_rates,
    check_units,
    derive_maintenance_amounts,
    make_market,
    validate_market,
)
from liqspec.model.markets import (
    BasisSmoothing,
    BreakerParams,
    ChunkRounding,
    ContractKind,
    Deleveraging,
    FeeLimit,
    FeeRule,
    HaltAction,
    LimitRule,
    LiquidationParams,
    Market,
    MarkParams,
    MarkSource,
    OnUnfilled,
    Policy,
    PreemptMeasure,
    PriceDisplay,
    RiskParams,
    Source,
    Tier,
    TierMode,
    TierTarget,
    Trigger,
    Valuation,
    VolatilitySource,
)

__all__ = [
    "breaker_params_from",
    "liquidation_params_from",
    "load_market",
    "mark_params_from",
    "market_from_document",
    "risk_params_from",
]


def load_market(path: str | os.PathLike[str], *, check: bool = True) -> Market:
    """Read, check and validate a market file (MARKET-1); errors name ``path``.

    With ``check`` off only the structure and the units are enforced (for prove and gate).
    """
    try:
        return market_from_document(load_document(path), check=check)
    except InputError as exc:
        raise exc.located(str(path)) from None


def market_from_document(document: dict[str, Any], *, check: bool = True) -> Market:
    """Build a validated :class:`Market` from a parsed market document (MARKET-1)."""
    check_schema(document, "market")
    spec = document["market"]
    contract = ContractKind(spec["contract"])
    tick = _positive(spec["price_tick"], "market.price_tick")
    quantum = _positive(spec["settle_quantum"], "market.settle_quantum")
    if contract is ContractKind.INVERSE and "contract_value" not in spec:
        detail = "required for inverse contracts"
        raise InputError(Reason.MISSING_KEY, "market.contract_value", None, detail)
    if contract is ContractKind.LINEAR and "contract_value" in spec:
        detail = "linear contracts express their multiplier through lot_size"
        raise InputError(
            Reason.OPTION_NOT_SUPPORTED, "market.contract_value", spec["contract_value"], detail
        )
    tier_mode = TierMode(spec["tier_mode"])
    halved = spec.get("mmr_from_max_leverage", False)
    tiers = tuple(_tier(row, i, quantum, halved) for i, row in enumerate(document["tiers"]))
    if not tiers:  # even unchecked (prove, gate): a market needs a tier to be a market
        raise InputError(Reason.NO_TIERS, "tiers", None, "at least one tier is required")
    if check:
        check_tier_bounds(tiers, quantum)
        check_tier_rates(tiers)  # the recursion below needs non-decreasing rates
    if tier_mode is TierMode.CONTINUOUS:
        # decreasing rates (reachable unchecked only) leave the amounts as given
        with contextlib.suppress(ValueError):
            tiers = _with_derived_amounts(tiers, document["tiers"])
    source = document["source"]
    liquidation = liquidation_params_from(document.get("liquidation", {}), quantum)
    market = make_market(
        symbol=spec["symbol"],
        contract=contract,
        base_asset=spec["base_asset"],
        quote_asset=spec["quote_asset"],
        settle_asset=spec["settle_asset"],
        price_tick=tick,
        lot_size=_positive(spec["lot_size"], "market.lot_size"),
        contract_value=_positive(spec.get("contract_value", "1"), "market.contract_value"),
        settle_quantum=quantum,
        max_price=to_units(spec["max_price"], tick, "market.max_price", "price tick"),
        tiers=tiers,
        tier_mode=tier_mode,
        trigger=Trigger(spec.get("trigger", "strict")),
        margin_valuation=Valuation(spec.get("margin_valuation", "mark")),
        taker_fee=parse_ratio(spec.get("taker_fee", "0"), "market.taker_fee"),
        close_fee_in_margin=bool(spec.get("close_fee_in_margin", False)),
        source=Source(
            venue=source["venue"],
            reference=source["reference"],
            as_of=source["as_of"],
            note=source.get("note", ""),
        ),
        liquidation=liquidation,
        check=False,
    )
    market = attrs.evolve(
        market,
        mark=mark_params_from(document.get("mark", {})),
        breakers=breaker_params_from(document.get("breakers", {})),
        risk=risk_params_from(document.get("risk", {})),
        open_interest_caps=(_cap(spec, "lower", quantum), _cap(spec, "upper", quantum)),
        price_display=PriceDisplay(spec.get("price_display", "conservative")),
        size_slope=parse_ratio(spec.get("size_slope", "0"), "market.size_slope"),
        size_rate_cap=parse_rate(spec.get("size_rate_cap", "0"), "market.size_rate_cap"),
    )
    if check:
        validate_market(market)
    else:
        check_units(market)
    return market


_LIQUIDATOR_RATES = ("liquidator_fee", "liquidator_fee_step", "liquidator_fee_max")
"""The liquidator's fee and its ramp (LIQ-12)."""


def _cap(spec: dict[str, Any], end: str, quantum: Ratio) -> int:
    """Return an open-interest cap of MARGIN-12 in quantums (0 when absent)."""
    field = f"market.open_interest_{end}"
    return to_units(spec.get(f"open_interest_{end}", "0"), quantum, field, "settlement quantum")


def liquidation_params_from(
    table: dict[str, Any], quantum: Ratio, base: LiquidationParams | None = None
) -> LiquidationParams:
    """Read a ``[liquidation]`` table over ``base`` (defaults if None) (MARKET-12)."""
    params = base or LiquidationParams()
    changes: dict[str, Any] = {}
    rates = ("buffer", "chunk", "fee", "impact_bound", "risk_aversion", *_LIQUIDATOR_RATES,
             "bankruptcy_adjustment", "spread_to_maintenance", "adl_drawdown")  # fmt: skip
    for name in rates:
        if name in table:
            changes[name] = parse_ratio(table[name], f"liquidation.{name}")
    for name in ("max_step_notional", "min_step_notional", "dust_notional", "insurance_step_cap"):
        if name in table:
            field = f"liquidation.{name}"
            changes[name] = to_units(table[name], quantum, field, "settlement quantum")
    for name in ("cooldown", "liquidator_fee_grace", "adl_window"):
        if name in table:
            changes[name] = to_units(table[name], Ratio(1, 1), f"liquidation.{name}", "clock unit")
    enums = {
        "policy": Policy, "on_unfilled": OnUnfilled, "deleveraging": Deleveraging,
        "chunk_rounding": ChunkRounding, "tier_target": TierTarget, "fee_limit": FeeLimit,
        "fee_rule": FeeRule, "limit_rule": LimitRule,
    }  # fmt: skip
    for name, kind in enums.items():
        if name in table:
            changes[name] = kind(table[name])
    if "insurance_fund" in table:
        changes["insurance_fund"] = table["insurance_fund"]
    return attrs.evolve(params, **changes)


def mark_params_from(table: dict[str, Any], base: MarkParams | None = None) -> MarkParams:
    """Read a ``[mark]`` table over ``base`` (MARKET-13)."""
    changes: dict[str, Any] = {}
    if "source" in table:
        changes["source"] = MarkSource(table["source"])
    if "basis_window" in table:
        changes["basis_window"] = _count(table["basis_window"], "mark.basis_window")
    if "fair_band" in table:
        changes["fair_band"] = parse_ratio(table["fair_band"], "mark.fair_band")
    if "basis" in table:
        changes["basis"] = BasisSmoothing(table["basis"])
    if "ema_decay" in table:
        changes["ema_decay"] = parse_ratio(table["ema_decay"], "mark.ema_decay")
    return attrs.evolve(base or MarkParams(), **changes)


def breaker_params_from(table: dict[str, Any], base: BreakerParams | None = None) -> BreakerParams:
    """Read a ``[breakers]`` table over ``base`` (MARKET-14)."""
    changes: dict[str, Any] = {}
    for name in ("band", "dynamic_move", "divergence"):
        if name in table:
            changes[name] = parse_ratio(table[name], f"breakers.{name}")
    for name in ("dynamic_window", "dynamic_pause", "stale_after", "withdrawal_block"):
        if name in table:
            changes[name] = _count(table[name], f"breakers.{name}")
    if "halt_levels" in table:
        changes["halt_levels"] = tuple(
            parse_ratio(v, f"breakers.halt_levels[{i}]") for i, v in enumerate(table["halt_levels"])
        )
    if "halt_durations" in table:
        changes["halt_durations"] = tuple(
            _count(v, f"breakers.halt_durations[{i}]")
            for i, v in enumerate(table["halt_durations"])
        )
    if "while_halted" in table:
        changes["while_halted"] = HaltAction(table["while_halted"])
    if "band_reference" in table:
        changes["band_reference"] = table["band_reference"]
    return attrs.evolve(base or BreakerParams(), **changes)


def risk_params_from(table: dict[str, Any], base: RiskParams | None = None) -> RiskParams:
    """Read a ``[risk]`` table over ``base`` (MARKET-15)."""
    changes: dict[str, Any] = {}
    counts = ("vol_window", "vol_threshold", "interval", "phase_in", "implied_max_age",
              "preempt_interval")  # fmt: skip
    for name in counts:
        if name in table:
            changes[name] = _count(table[name], f"risk.{name}")
    if "source" in table:
        changes["source"] = VolatilitySource(table["source"])
    if "preempt_measure" in table:
        changes["preempt_measure"] = PreemptMeasure(table["preempt_measure"])
    ratios = ("slope", "max_multiplier", "max_step", "hysteresis", "preempt_shock",
              "preempt_threshold", "preempt_target")  # fmt: skip
    for name in ratios:
        if name in table:
            changes[name] = parse_ratio(table[name], f"risk.{name}")
    return attrs.evolve(base or RiskParams(), **changes)


def _count(text: object, field: str) -> int:
    return to_units(text, Ratio(1, 1), field, "whole number")


def _positive(text: object, field: str) -> Ratio:
    num, den = parse_decimal(text, field)
    if num <= 0:
        raise InputError(Reason.NOT_POSITIVE, field, text, "must be greater than zero")
    return Ratio.of(num, den)


def _tier(row: dict[str, Any], i: int, quantum: Ratio, halved: bool) -> Tier:
    """Read one tier; with ``halved`` (``mmr_from_max_leverage``) its mmr is half its imr."""
    where = f"tiers[{i}]"
    if halved and "mmr" in row:
        detail = "mmr_from_max_leverage derives every tier's mmr; give none"
        raise InputError(Reason.CONFLICTING_KEYS, f"{where}.mmr", row["mmr"], detail)
    if not halved and "mmr" not in row:
        detail = "every tier needs mmr, unless the market sets mmr_from_max_leverage"
        raise InputError(Reason.MISSING_KEY, f"{where}.mmr", None, detail)
    if "imr" in row and "max_leverage" in row:
        detail = "give exactly one of imr and max_leverage, not both"
        raise InputError(Reason.CONFLICTING_KEYS, f"{where}.max_leverage", None, detail)
    if "imr" not in row and "max_leverage" not in row:
        detail = "give exactly one of imr and max_leverage"
        raise InputError(Reason.MISSING_KEY, f"{where}.imr", None, detail)
    imr = (
        parse_ratio(row["imr"], f"{where}.imr")
        if "imr" in row
        else ratio_from_leverage(row["max_leverage"], f"{where}.max_leverage")
    )
    amount = row.get("maintenance_amount", "0")
    return Tier(
        floor=to_units(row["floor"], quantum, f"{where}.floor", "settlement quantum"),
        cap=to_units(row["cap"], quantum, f"{where}.cap", "settlement quantum"),
        mmr=Ratio.of(imr.num, 2 * imr.den) if halved else parse_rate(row["mmr"], f"{where}.mmr"),
        imr=imr,
        maintenance_amount=to_units(
            amount, quantum, f"{where}.maintenance_amount", "settlement quantum"
        ),
    )


def _with_derived_amounts(tiers: tuple[Tier, ...], rows: list[dict[str, Any]]) -> tuple[Tier, ...]:
    """Fill in omitted maintenance amounts from the recursion (MARKET-10)."""
    derived = derive_maintenance_amounts(tiers)
    filled = []
    for tier, row, amount in zip(tiers, rows, derived, strict=True):
        if "maintenance_amount" in row or amount.den != 1:
            filled.append(tier)
        else:
            filled.append(
                Tier(tier.floor, tier.cap, tier.mmr, tier.imr, maintenance_amount=amount.num)
            )
    return tuple(filled)
