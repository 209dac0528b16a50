"""Market parameters: value types, validation rules and the market file (spec/02-markets.md)."""

from __future__ import annotations

import contextlib
import enum
from itertools import pairwise
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from liqspec.base.conventions import (
    Ratio,
    decimal_text,
    div_ceil,
    parse_decimal,
    parse_ratio,
    ratio_from_leverage,
    to_units,
)
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import check_schema, load_document

__all__ = [
    "BreakerParams",
    "ContractKind",
    "Deleveraging",
    "HaltAction",
    "LiquidationParams",
    "MarkParams",
    "MarkSource",
    "Market",
    "OnUnfilled",
    "Policy",
    "RiskParams",
    "Source",
    "Tier",
    "TierMode",
    "Trigger",
    "Valuation",
    "breaker_params_from",
    "derive_maintenance_amounts",
    "format_amount",
    "format_price",
    "format_size",
    "get_max_leverage",
    "get_value",
    "liquidation_params_from",
    "load_market",
    "make_market",
    "mark_params_from",
    "market_from_document",
    "risk_params_from",
    "validate_market",
]


class ContractKind(enum.Enum):
    """How a contract's value relates to price (MARKET-1)."""

    LINEAR = "linear"
    """Margined and settled in the quote asset; value = size x price."""
    INVERSE = "inverse"
    """Margined and settled in the base asset; value = contracts x contract value / price."""


class TierMode(enum.Enum):
    """How a tier table turns notional into maintenance margin (MARGIN-4, MARGIN-5)."""

    CONTINUOUS = "continuous"
    STEP = "step"


class Trigger(enum.Enum):
    """Whether equity exactly equal to maintenance margin is liquidatable (MARGIN-9)."""

    STRICT = "strict"
    INCLUSIVE = "inclusive"


class Valuation(enum.Enum):
    """Which price values a position for its margin requirements (MARGIN-3)."""

    MARK = "mark"
    ENTRY = "entry"


@frozen
class Tier:
    """One row of a tier table. Amounts in settlement quantums (MARKET-6..10)."""

    floor: int
    cap: int
    mmr: Ratio
    imr: Ratio
    maintenance_amount: int


class Policy(enum.Enum):
    """How much of a position one liquidation step targets (LIQ-4)."""

    HEALTH = "health"
    TIER_STEP = "tier-step"
    CHUNK = "chunk"


class OnUnfilled(enum.Enum):
    """What a step does when the book fills nothing within the limit (LIQ-8)."""

    TAKEOVER = "takeover"
    WAIT = "wait"


class Deleveraging(enum.Enum):
    """Who covers a deficit the insurance fund cannot (INS-4, INS-5)."""

    ADL = "adl"
    SOCIALIZE = "socialize"


@frozen
class LiquidationParams:
    """Liquidation parameters of a market (MARKET-12): amounts in quantums, time in clock units."""

    policy: Policy = Policy.HEALTH
    buffer: Ratio = Ratio(1, 50)
    chunk: Ratio = Ratio(1, 5)
    cooldown: int = 30
    max_step_notional: int = 0
    dust_notional: int = 0
    fee: Ratio = Ratio(1, 1000)
    impact_bound: Ratio = Ratio(1, 20)
    on_unfilled: OnUnfilled = OnUnfilled.TAKEOVER
    deleveraging: Deleveraging = Deleveraging.ADL
    insurance_fund: str = ""
    insurance_step_cap: int = 0


class MarkSource(enum.Enum):
    """How a market's mark price is obtained (MARK-1)."""

    EVENT = "event"
    MEDIAN = "median"
    CLAMPED = "clamped"


class HaltAction(enum.Enum):
    """What liquidation does while a breaker halts or gates the market (BRK-6)."""

    PAUSE = "pause"
    TAKEOVER_ONLY = "takeover-only"
    CONTINUE = "continue"


@frozen
class MarkParams:
    """Mark price parameters (MARKET-13, MARK-1..MARK-4)."""

    source: MarkSource = MarkSource.EVENT
    basis_window: int = 5
    fair_band: Ratio = Ratio(1, 10)


@frozen
class BreakerParams:
    """Circuit breaker parameters (MARKET-14, BRK-1..BRK-7); zero switches a breaker off."""

    band: Ratio = Ratio(0, 1)
    band_reference: str = "mark"
    halt_levels: tuple[Ratio, ...] = ()
    halt_durations: tuple[int, ...] = ()
    dynamic_move: Ratio = Ratio(0, 1)
    dynamic_window: int = 0
    dynamic_pause: int = 0
    divergence: Ratio = Ratio(0, 1)
    stale_after: int = 0
    while_halted: HaltAction = HaltAction.PAUSE
    withdrawal_block: int = 0


@frozen
class RiskParams:
    """Dynamic risk adjustment parameters (MARKET-15, RISK-1..RISK-6); window 0 = off."""

    vol_window: int = 0
    vol_threshold: int = 0
    slope: Ratio = Ratio(0, 1)
    max_multiplier: Ratio = Ratio(1, 1)
    max_step: Ratio = Ratio(1, 10)
    hysteresis: Ratio = Ratio(1, 100)
    interval: int = 60
    phase_in: int = 0


@frozen
class Source:
    """Where a market's numbers come from and the date they were read (MARKET-1)."""

    venue: str
    reference: str
    as_of: str
    note: str = ""


@frozen
class Market:
    """A market's complete parameter set, in base units (spec/02-markets.md).

    Build one with :func:`make_market` (which derives ``value_factor``) and check it with
    :func:`validate_market`; loaded files are always validated.
    """

    symbol: str
    contract: ContractKind
    base_asset: str
    quote_asset: str
    settle_asset: str
    price_tick: Ratio
    lot_size: Ratio
    contract_value: Ratio
    settle_quantum: Ratio
    max_price: int
    tiers: tuple[Tier, ...]
    tier_mode: TierMode
    trigger: Trigger
    margin_valuation: Valuation
    taker_fee: Ratio
    close_fee_in_margin: bool
    value_factor: int
    source: Source
    liquidation: LiquidationParams = LiquidationParams()
    mark: MarkParams = MarkParams()
    breakers: BreakerParams = BreakerParams()
    risk: RiskParams = RiskParams()
    risk_multiplier: Ratio = Ratio(1, 1)

    @property
    def fund(self) -> str:
        """The insurance fund this market draws on: its own id, or its settlement asset."""
        return self.liquidation.insurance_fund or self.settle_asset


_ONE, _ZERO = Ratio(1, 1), Ratio(0, 1)
_NO_SOURCE = Source("", "", "")


def compute_value_factor(
    contract: ContractKind,
    price_tick: Ratio,
    lot_size: Ratio,
    contract_value: Ratio,
    settle_quantum: Ratio,
) -> Ratio:
    """Return K, the quantums per (lot x tick) or per (lot / tick) (MARKET-3).

    Linear: K = lot x tick / quantum. Inverse: K = lot x contract value / (tick x quantum).

    >>> tick, quantum, one = Ratio.of(1, 10), Ratio.of(1, 10**8), Ratio(1, 1)
    >>> compute_value_factor(ContractKind.LINEAR, tick, Ratio.of(1, 1000), one, quantum)
    Ratio(num=10000, den=1)
    >>> compute_value_factor(ContractKind.INVERSE, tick, one, Ratio(100, 1), quantum)
    Ratio(num=100000000000, den=1)
    """
    if contract is ContractKind.LINEAR:
        return Ratio.of(
            lot_size.num * price_tick.num * settle_quantum.den,
            lot_size.den * price_tick.den * settle_quantum.num,
        )
    return Ratio.of(
        lot_size.num * contract_value.num * price_tick.den * settle_quantum.den,
        lot_size.den * contract_value.den * price_tick.num * settle_quantum.num,
    )


def make_market(
    *,
    symbol: str,
    contract: ContractKind,
    base_asset: str,
    quote_asset: str,
    settle_asset: str,
    price_tick: Ratio,
    lot_size: Ratio,
    settle_quantum: Ratio,
    max_price: int,
    tiers: tuple[Tier, ...],
    tier_mode: TierMode,
    contract_value: Ratio = _ONE,
    trigger: Trigger = Trigger.STRICT,
    margin_valuation: Valuation = Valuation.MARK,
    taker_fee: Ratio = _ZERO,
    close_fee_in_margin: bool = False,
    source: Source = _NO_SOURCE,
    liquidation: LiquidationParams | None = None,
    check: bool = True,
) -> Market:
    """Build a market, deriving its value factor (MARKET-3); validate it unless ``check`` is off.

    Unchecked markets exist for the proofs and the gate, which report broken rules as
    counterexamples instead of refusing the file (spec/invariants.md).
    """
    factor = compute_value_factor(contract, price_tick, lot_size, contract_value, settle_quantum)
    market = Market(
        symbol=symbol,
        contract=contract,
        base_asset=base_asset,
        quote_asset=quote_asset,
        settle_asset=settle_asset,
        price_tick=price_tick,
        lot_size=lot_size,
        contract_value=contract_value,
        settle_quantum=settle_quantum,
        max_price=max_price,
        tiers=tiers,
        tier_mode=tier_mode,
        trigger=trigger,
        margin_valuation=margin_valuation,
        taker_fee=taker_fee,
        close_fee_in_margin=close_fee_in_margin,
        value_factor=factor.num // factor.den,
        source=source,
        liquidation=liquidation or LiquidationParams(),
    )
    if check:
        validate_market(market)
    return market


# --- rules -------------------------------------------------------------------------------------


def validate_market(market: Market) -> None:
    """Check every market rule MARKET-2..MARKET-10; raise the first one broken."""
    _check_units(market)
    _check_options(market)
    _check_tier_bounds(market.tiers)
    _check_tier_rates(market.tiers)
    _check_maintenance_amounts(market)
    _check_liquidation(market.liquidation)
    _check_mark(market.mark)
    _check_breakers(market.breakers)
    _check_risk(market)


def _check_mark(params: MarkParams) -> None:
    """MARKET-13: a basis window of at least one sample, a fair band below 1."""
    if params.basis_window < 1:
        raise InputError(Reason.MARK_PARAMS, "mark.basis_window", params.basis_window, ">= 1")
    if not params.fair_band < Ratio(1, 1):
        raise InputError(Reason.MARK_PARAMS, "mark.fair_band", str(params.fair_band), "below 1")


def _check_breakers(params: BreakerParams) -> None:
    """MARKET-14: rates below 1, halt levels increasing with one duration each, times >= 0."""
    one = Ratio(1, 1)
    for name in ("band", "dynamic_move", "divergence"):
        if not getattr(params, name) < one:
            raise InputError(
                Reason.BREAKER_PARAMS, f"breakers.{name}", str(getattr(params, name)), "below 1"
            )
    levels = params.halt_levels
    if len(levels) != len(params.halt_durations):
        detail = "one duration per halt level"
        raise InputError(
            Reason.BREAKER_PARAMS, "breakers.halt_durations", len(params.halt_durations), detail
        )
    for i, level in enumerate(levels):
        if level.num == 0 or not level < one or (i and not levels[i - 1] < level):
            detail = "levels strictly increasing, each between 0 and 1"
            raise InputError(
                Reason.BREAKER_PARAMS, f"breakers.halt_levels[{i}]", str(level), detail
            )
    times = ("dynamic_window", "dynamic_pause", "stale_after", "withdrawal_block")
    for name in times:
        if getattr(params, name) < 0:
            raise InputError(
                Reason.BREAKER_PARAMS, f"breakers.{name}", getattr(params, name), ">= 0"
            )
    if any(d < 0 for d in params.halt_durations):
        raise InputError(Reason.BREAKER_PARAMS, "breakers.halt_durations", "-", ">= 0")
    if params.band_reference not in {"mark", "index"}:
        detail = "mark or index"
        raise InputError(
            Reason.BREAKER_PARAMS, "breakers.band_reference", params.band_reference, detail
        )


def _check_risk(market: Market) -> None:
    """MARKET-15: 1 <= multiplier <= max, and max x the highest mmr stays below 1."""
    params, one = market.risk, Ratio(1, 1)
    top = market.tiers[-1].mmr
    if params.max_multiplier < one or not _times(params.max_multiplier, top) < one:
        detail = f"need 1 <= max_multiplier and max_multiplier x {top} < 1"
        raise InputError(
            Reason.RISK_PARAMS, "risk.max_multiplier", str(params.max_multiplier), detail
        )
    if market.risk_multiplier < one or params.max_multiplier < market.risk_multiplier:
        detail = "need 1 <= multiplier <= max_multiplier"
        raise InputError(Reason.RISK_PARAMS, "risk_multiplier", str(market.risk_multiplier), detail)
    for name in ("vol_window", "vol_threshold", "interval", "phase_in"):
        if getattr(params, name) < 0:
            raise InputError(Reason.RISK_PARAMS, f"risk.{name}", getattr(params, name), ">= 0")
    if params.max_step.num == 0:
        raise InputError(Reason.RISK_PARAMS, "risk.max_step", "0", "must be > 0")


def _times(a: Ratio, b: Ratio) -> Ratio:
    return Ratio.of(a.num * b.num, a.den * b.den)


def _check_liquidation(params: LiquidationParams) -> None:
    """MARKET-12: rates below 1, a positive chunk, non-negative amounts and cooldown."""
    one = Ratio(1, 1)
    for name in ("fee", "impact_bound"):
        rate: Ratio = getattr(params, name)
        if not rate < one:
            raise InputError(Reason.LIQUIDATION_PARAMS, f"liquidation.{name}", str(rate), "below 1")
    if params.chunk.num == 0 or one < params.chunk:
        detail = "need 0 < chunk <= 1"
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.chunk", str(params.chunk), detail)
    for name in ("cooldown", "max_step_notional", "dust_notional", "insurance_step_cap"):
        value: int = getattr(params, name)
        if value < 0:
            raise InputError(Reason.LIQUIDATION_PARAMS, f"liquidation.{name}", value, "negative")


def _check_units(market: Market) -> None:
    units = {
        "market.price_tick": market.price_tick,
        "market.lot_size": market.lot_size,
        "market.contract_value": market.contract_value,
        "market.settle_quantum": market.settle_quantum,
    }
    for field, unit in units.items():
        if unit.num <= 0:
            raise InputError(Reason.NOT_POSITIVE, field, str(unit), "must be greater than zero")
    if market.max_price < 1:
        raise InputError(
            Reason.NOT_POSITIVE, "market.max_price", market.max_price, "must be at least one tick"
        )
    factor = compute_value_factor(
        market.contract,
        market.price_tick,
        market.lot_size,
        market.contract_value,
        market.settle_quantum,
    )
    if factor.den != 1 or factor.num != market.value_factor:
        what = "lot x tick" if market.contract is ContractKind.LINEAR else "lot x value / tick"
        raise InputError(
            Reason.UNITS_NOT_COMMENSURATE,
            "market.settle_quantum",
            str(market.settle_quantum),
            f"{what} = {factor} quantums must be a whole number",
        )


def _check_options(market: Market) -> None:
    if market.close_fee_in_margin and market.contract is not ContractKind.LINEAR:
        raise InputError(
            Reason.OPTION_NOT_SUPPORTED,
            "market.close_fee_in_margin",
            value=True,
            detail="the close-fee estimate is defined for linear contracts only",
        )
    if not market.taker_fee < Ratio(1, 1):
        raise InputError(
            Reason.OUT_OF_RANGE, "market.taker_fee", str(market.taker_fee), "must be below 1"
        )


def _check_tier_bounds(tiers: tuple[Tier, ...]) -> None:
    if not tiers:
        raise InputError(Reason.NO_TIERS, "tiers", [], "at least one tier is required")
    if tiers[0].floor != 0:
        raise InputError(Reason.TIERS_NOT_CONTIGUOUS, "tiers[0].floor", tiers[0].floor, "must be 0")
    for i, tier in enumerate(tiers):
        if tier.cap <= tier.floor:
            raise InputError(
                Reason.TIERS_NOT_CONTIGUOUS, f"tiers[{i}].cap", tier.cap, "must exceed floor"
            )
        if i and tier.floor != tiers[i - 1].cap:
            raise InputError(
                Reason.TIERS_NOT_CONTIGUOUS,
                f"tiers[{i}].floor",
                tier.floor,
                f"must equal the previous cap {tiers[i - 1].cap}: sorted, no gap, no overlap",
            )


def _check_tier_rates(tiers: tuple[Tier, ...]) -> None:
    one = Ratio(1, 1)
    for i, tier in enumerate(tiers):
        if tier.mmr.num == 0 or not tier.mmr < one:
            raise InputError(Reason.MMR_RANGE, f"tiers[{i}].mmr", str(tier.mmr), "need 0 < mmr < 1")
        if not (tier.mmr < tier.imr and tier.imr <= one):
            raise InputError(
                Reason.IMR_NOT_ABOVE_MMR,
                f"tiers[{i}].imr",
                str(tier.imr),
                f"need mmr {tier.mmr} < imr <= 1",
            )
        if i and (tier.mmr < tiers[i - 1].mmr or tier.imr < tiers[i - 1].imr):
            raise InputError(
                Reason.RATES_DECREASING,
                f"tiers[{i}]",
                f"mmr {tier.mmr}, imr {tier.imr}",
                "mmr and imr must not decrease from one tier to the next",
            )


def derive_maintenance_amounts(tiers: tuple[Tier, ...]) -> tuple[Ratio, ...]:
    """Return each tier's maintenance amount by the recursion of MARKET-10 (exact).

    cum(0) = 0; cum(i) = cum(i-1) + floor(i) x (mmr(i) - mmr(i-1)), in quantums.

    >>> t = (Tier(0, 50, Ratio.of(1, 100), Ratio.of(1, 50), 0),
    ...      Tier(50, 90, Ratio.of(3, 100), Ratio.of(1, 20), 0))
    >>> [str(a) for a in derive_maintenance_amounts(t)]
    ['0', '1']
    """
    amounts = [Ratio(0, 1)]
    for previous, tier in pairwise(tiers):
        step_num = tier.floor * (tier.mmr.num * previous.mmr.den - previous.mmr.num * tier.mmr.den)
        step_den = tier.mmr.den * previous.mmr.den
        last = amounts[-1]
        amounts.append(Ratio.of(last.num * step_den + step_num * last.den, last.den * step_den))
    return tuple(amounts)


def _check_maintenance_amounts(market: Market) -> None:
    if market.tier_mode is TierMode.STEP:
        for i, tier in enumerate(market.tiers):
            if tier.maintenance_amount:
                raise InputError(
                    Reason.MAINTENANCE_AMOUNT,
                    f"tiers[{i}].maintenance_amount",
                    tier.maintenance_amount,
                    "step tiers have no maintenance amount; it must be 0 or absent",
                )
        return
    for i, (tier, derived) in enumerate(
        zip(market.tiers, derive_maintenance_amounts(market.tiers), strict=True)
    ):
        if derived.den != 1:
            raise InputError(
                Reason.MAINTENANCE_AMOUNT,
                f"tiers[{i}].maintenance_amount",
                str(derived),
                "the recursion gives a fraction of a settlement quantum",
            )
        if tier.maintenance_amount != derived.num:
            raise InputError(
                Reason.MAINTENANCE_AMOUNT,
                f"tiers[{i}].maintenance_amount",
                tier.maintenance_amount,
                f"must equal the recursion's {derived.num} quantums",
            )


def get_value(market: Market, size: int, price: int) -> int:
    """Return the value of ``size`` lots at ``price`` ticks, in quantums (MARGIN-1).

    Linear: size x price x K, exact. Inverse: ceil(size x K / price), the one rounding of an
    inverse contract; PnL and margin both derive from this rounded value.

    >>> tick, quantum, one = Ratio.of(1, 10), Ratio.of(1, 10**8), Ratio(1, 1)
    >>> coin_m = make_market(symbol="BTCUSD", contract=ContractKind.INVERSE, base_asset="BTC",
    ...     quote_asset="USD", settle_asset="BTC", price_tick=tick, lot_size=one,
    ...     contract_value=Ratio(100, 1), settle_quantum=quantum, max_price=10**8,
    ...     tiers=(Tier(0, 5 * 10**8, Ratio.of(1, 250), Ratio.of(1, 125), 0),),
    ...     tier_mode=TierMode.CONTINUOUS)
    >>> get_value(coin_m, 100, 250_000)  # 100 contracts at 25,000: 0.4 BTC
    40000000
    >>> get_value(coin_m, 1, 3)  # ceil(10**11 / 3)
    33333333334
    """
    if market.contract is ContractKind.LINEAR:
        return size * price * market.value_factor
    return div_ceil(size * market.value_factor, price)


def get_max_leverage(tier: Tier) -> Ratio:
    """Return the tier's maximum leverage, 1 / imr (MARKET-8).

    >>> str(get_max_leverage(Tier(0, 1, Ratio.of(1, 250), Ratio.of(1, 125), 0)))
    '125'
    """
    return Ratio.of(tier.imr.den, tier.imr.num)


# --- the market file ---------------------------------------------------------------------------


def load_market(path: Path, *, check: bool = True) -> Market:
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
    tiers = tuple(_tier(row, i, quantum) for i, row in enumerate(document["tiers"]))
    if check:
        _check_tier_bounds(tiers)
        _check_tier_rates(tiers)  # the recursion below needs non-decreasing rates
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
    )
    if check:
        validate_market(market)
    else:
        _check_units(market)
    return market


def liquidation_params_from(
    table: dict[str, Any], quantum: Ratio, base: LiquidationParams | None = None
) -> LiquidationParams:
    """Read a ``[liquidation]`` table over ``base`` (defaults if None) (MARKET-12)."""
    params = base or LiquidationParams()
    changes: dict[str, Any] = {}
    for name in ("buffer", "chunk", "fee", "impact_bound"):
        if name in table:
            changes[name] = parse_ratio(table[name], f"liquidation.{name}")
    for name in ("max_step_notional", "dust_notional", "insurance_step_cap"):
        if name in table:
            field = f"liquidation.{name}"
            changes[name] = to_units(table[name], quantum, field, "settlement quantum")
    if "cooldown" in table:
        changes["cooldown"] = to_units(table["cooldown"], Ratio(1, 1), "liquidation.cooldown", "1")
    enums = {"policy": Policy, "on_unfilled": OnUnfilled, "deleveraging": Deleveraging}
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
    for name in ("vol_window", "vol_threshold", "interval", "phase_in"):
        if name in table:
            changes[name] = _count(table[name], f"risk.{name}")
    for name in ("slope", "max_multiplier", "max_step", "hysteresis"):
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


def _tier(row: dict[str, Any], i: int, quantum: Ratio) -> Tier:
    where = f"tiers[{i}]"
    if ("imr" in row) == ("max_leverage" in row):
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
        mmr=parse_ratio(row["mmr"], f"{where}.mmr"),
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


def format_amount(market: Market, quantums: int) -> str:
    """Render an amount in settlement quantums as exact decimal text of the settle asset."""
    q = market.settle_quantum
    return decimal_text(quantums * q.num, q.den)


def format_price(market: Market, ticks: int) -> str:
    """Render a price in ticks as exact decimal text of the quote asset."""
    t = market.price_tick
    return decimal_text(ticks * t.num, t.den)


def format_size(market: Market, lots: int) -> str:
    """Render a size in lots as exact decimal text (base units or contracts)."""
    lot = market.lot_size
    return decimal_text(lots * lot.num, lot.den)
