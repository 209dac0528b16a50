"""The market rules MARKET-2..MARKET-15: building and validating a market (spec/02-markets.md)."""

from __future__ import annotations

from itertools import pairwise

from liqspec.base.conventions import (
    Ratio,
    decimal_text,
)
from liqspec.base.errors import InputError, Reason
from liqspec.model.markets import (
    BasisSmoothing,
    BreakerParams,
    ContractKind,
    FeeLimit,
    LimitRule,
    LiquidationParams,
    Market,
    MarkParams,
    MarkSource,
    Source,
    Tier,
    TierMode,
    Trigger,
    Valuation,
    compute_value_factor,
    format_price,
)

__all__ = [
    "check_tier_bounds",
    "check_tier_rates",
    "check_units",
    "derive_maintenance_amounts",
    "make_market",
    "validate_market",
]


_ONE, _ZERO = Ratio(1, 1), Ratio(0, 1)
_NO_SOURCE = Source("", "", "")


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
    check_units(market)
    _check_options(market)
    check_tier_bounds(market.tiers, market.settle_quantum)
    check_tier_rates(market.tiers)
    _check_maintenance_amounts(market)
    _check_liquidation(market.liquidation, market.settle_quantum)
    _check_fillable(market)
    _check_mark(market.mark)
    _check_breakers(market.breakers)
    _check_risk(market)


def _check_mark(params: MarkParams) -> None:
    """MARKET-13: a basis window of at least one sample, a fair band below 1."""
    if params.basis_window < 1:
        raise InputError(Reason.MARK_PARAMS, "mark.basis_window", params.basis_window, ">= 1")
    if not params.fair_band < Ratio(1, 1):
        raise InputError(Reason.MARK_PARAMS, "mark.fair_band", str(params.fair_band), "below 1")
    _check_ema(params)


def _check_ema(params: MarkParams) -> None:
    """MARKET-13: an EMA basis smooths a median mark with a decay strictly between 0 and 1."""
    decay = params.ema_decay
    if params.basis is BasisSmoothing.MEAN:
        if decay.num:
            detail = 'applies only with basis = "ema" (MARK-5)'
            raise InputError(Reason.OPTION_NOT_SUPPORTED, "mark.ema_decay", str(decay), detail)
        return
    if params.source is not MarkSource.MEDIAN:
        detail = 'the EMA smooths the median mark\'s basis: needs source = "median" (MARK-5)'
        raise InputError(Reason.OPTION_NOT_SUPPORTED, "mark.basis", "ema", detail)
    if decay.num == 0 or not decay < Ratio(1, 1):
        raise InputError(
            Reason.MARK_PARAMS, "mark.ema_decay", str(decay), "between 0 and 1, both excluded"
        )


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
    """MARKET-15: 1 <= multiplier <= max, and max x the highest mmr stays below 1.

    On a size-linear market the highest rate is the marginal one, 2 cap - mmr (MARGIN-13).
    """
    params, one = market.risk, Ratio(1, 1)
    top = market.tiers[-1].mmr
    if market.size_slope.num:
        top = _top_rate(market.tiers[0].mmr, market.size_rate_cap)
    if params.max_multiplier < one or not _times(params.max_multiplier, top) < one:
        detail = f"need 1 <= max_multiplier and max_multiplier x {top} < 1"
        raise InputError(
            Reason.RISK_PARAMS, "risk.max_multiplier", str(params.max_multiplier), detail
        )
    if market.risk_multiplier < one or params.max_multiplier < market.risk_multiplier:
        detail = "need 1 <= multiplier <= max_multiplier"
        raise InputError(Reason.RISK_PARAMS, "risk_multiplier", str(market.risk_multiplier), detail)
    for name in ("vol_window", "vol_threshold", "interval", "phase_in", "implied_max_age"):
        if getattr(params, name) < 0:
            raise InputError(Reason.RISK_PARAMS, f"risk.{name}", getattr(params, name), ">= 0")
    if params.max_step.num == 0:
        raise InputError(Reason.RISK_PARAMS, "risk.max_step", "0", "must be > 0")
    _check_preemption(market)


def _check_preemption(market: Market) -> None:
    """MARKET-15: RISK-7's keys need a shock below 1; its target lies in [1, max_multiplier].

    Its threshold is on the settlement grid, its interval at least 1.
    """
    params, one = market.risk, Ratio(1, 1)
    if params.preempt_shock.num == 0:
        if params.preempt_threshold.num or params.preempt_target != one:
            detail = "applies only with a preempt_shock (RISK-7)"
            name = "preempt_threshold" if params.preempt_threshold.num else "preempt_target"
            value = str(getattr(params, name))
            raise InputError(Reason.OPTION_NOT_SUPPORTED, f"risk.{name}", value, detail)
        return
    if not params.preempt_shock < one:
        detail = "a share between 0 and 1, both excluded"
        raise InputError(
            Reason.RISK_PARAMS, "risk.preempt_shock", str(params.preempt_shock), detail
        )
    target = params.preempt_target
    if target < one or params.max_multiplier < target:
        detail = "need 1 <= preempt_target <= max_multiplier"
        raise InputError(Reason.RISK_PARAMS, "risk.preempt_target", str(target), detail)
    quantum, threshold = market.settle_quantum, params.preempt_threshold
    if (threshold.num * quantum.den) % (threshold.den * quantum.num):
        detail = f"a whole number of settlement quanta ({quantum})"
        raise InputError(Reason.OFF_GRID, "risk.preempt_threshold", str(threshold), detail)
    if params.preempt_interval < 1:
        detail = "at least 1 time unit"
        raise InputError(
            Reason.RISK_PARAMS, "risk.preempt_interval", params.preempt_interval, detail
        )


def _times(a: Ratio, b: Ratio) -> Ratio:
    return Ratio.of(a.num * b.num, a.den * b.den)


def _check_fees(params: LiquidationParams) -> None:
    """MARKET-12: fee rates below 1, the fund's up to 1 under surplus; a ramp never lowers."""
    one = Ratio(1, 1)
    if params.fee_limit is FeeLimit.SURPLUS:
        if one < params.fee:
            detail = "at most 1 with fee_limit = surplus"
            raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.fee", str(params.fee), detail)
    elif not params.fee < one:
        detail = "below 1 (up to 1 with fee_limit = surplus)"
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.fee", str(params.fee), detail)
    for name in ("liquidator_fee", "liquidator_fee_max"):
        rate = getattr(params, name)
        if not rate < one:
            raise InputError(Reason.LIQUIDATION_PARAMS, f"liquidation.{name}", str(rate), "below 1")
    if params.liquidator_fee_step.num and params.liquidator_fee_max < params.liquidator_fee:
        shown, detail = str(params.liquidator_fee_max), "at least liquidator_fee under a ramp"
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.liquidator_fee_max", shown, detail)


def _check_fillable(market: Market) -> None:
    """MARKET-12: the fillable-price rule on linear markets, with BA >= 1 and SMMR > 0 (LIQ-13)."""
    params = market.liquidation
    if params.limit_rule is not LimitRule.FILLABLE:
        return
    if market.contract is not ContractKind.LINEAR:
        detail = "the fillable-price rule is for linear contracts"
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.limit_rule", "fillable", detail)
    if params.bankruptcy_adjustment < Ratio(1, 1):
        shown = str(params.bankruptcy_adjustment)
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.bankruptcy_adjustment", shown,
                         "at least 1")  # fmt: skip
    if params.spread_to_maintenance.num == 0:
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.spread_to_maintenance", "0",
                         "above 0")  # fmt: skip


def _check_liquidation(params: LiquidationParams, quantum: Ratio) -> None:
    """MARKET-12: rates below 1, a positive chunk, non-negative amounts and times."""
    one = Ratio(1, 1)
    if not params.impact_bound < one:
        shown = str(params.impact_bound)
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.impact_bound", shown, "below 1")
    _check_fees(params)
    if params.chunk.num == 0 or one < params.chunk:
        detail = "need 0 < chunk <= 1"
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.chunk", str(params.chunk), detail)
    if not params.adl_drawdown < one:
        shown = str(params.adl_drawdown)
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.adl_drawdown", shown, "below 1")
    if params.adl_window > 0 and not params.adl_drawdown.num:
        detail = "a window needs adl_drawdown > 0 (INS-8)"
        shown = str(params.adl_window)
        raise InputError(Reason.LIQUIDATION_PARAMS, "liquidation.adl_window", shown, detail)
    times = ("cooldown", "liquidator_fee_grace", "adl_window")
    amounts = ("max_step_notional", "min_step_notional", "dust_notional", "insurance_step_cap")
    for name in (*times, *amounts):
        value: int = getattr(params, name)
        if value < 0:
            shown = str(value) if name in times else _amount(quantum, value)
            raise InputError(Reason.LIQUIDATION_PARAMS, f"liquidation.{name}", shown, "negative")


def check_units(market: Market) -> None:
    """MARKET-2, MARKET-3: positive units and max price, and a whole value factor."""
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
        shown = format_price(market, market.max_price)
        raise InputError(
            Reason.NOT_POSITIVE, "market.max_price", shown, "must be at least one tick"
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
    """MARKET-4: a taker fee below 1; open-interest caps not negative, lower <= upper."""
    if not market.taker_fee < Ratio(1, 1):
        raise InputError(
            Reason.OUT_OF_RANGE, "market.taker_fee", str(market.taker_fee), "must be below 1"
        )
    lower, upper = market.open_interest_caps
    quantum = market.settle_quantum
    if lower < 0 or upper < 0:
        field, value = ("lower", lower) if lower < 0 else ("upper", upper)
        shown = _amount(quantum, value)
        raise InputError(Reason.OUT_OF_RANGE, f"market.open_interest_{field}", shown, "negative")
    if upper and upper < lower:
        shown, detail = _amount(quantum, upper), "at least open_interest_lower (0: off)"
        raise InputError(Reason.OUT_OF_RANGE, "market.open_interest_upper", shown, detail)
    _check_size_rate(market)


def _check_size_rate(market: Market) -> None:
    """MARKET-4: a size slope needs one linear tier, no close fee, mmr <= cap, 2 cap - mmr < 1.

    The last bound keeps the marginal rate m0 + 2kq below 1 up to the cap (INV-MM-SIZE).
    """
    slope, cap = market.size_slope, market.size_rate_cap
    if slope.num == 0:
        if cap.num:
            detail = "applies only with a size_slope (MARGIN-13)"
            raise InputError(Reason.OPTION_NOT_SUPPORTED, "market.size_rate_cap", str(cap), detail)
        return
    if market.contract is not ContractKind.LINEAR or len(market.tiers) != 1:
        detail = "a size slope needs a linear market with one tier (MARGIN-13)"
        raise InputError(Reason.OPTION_NOT_SUPPORTED, "market.size_slope", str(slope), detail)
    if market.close_fee_in_margin:  # its estimate would grow with the size's initial rate
        detail = "not with a size slope: the fee estimate would grow with the size (MARGIN-13)"
        raise InputError(Reason.OPTION_NOT_SUPPORTED, "market.close_fee_in_margin", "true", detail)
    if cap.num == 0:
        detail = "required with a size_slope (MARGIN-13)"
        raise InputError(Reason.MISSING_KEY, "market.size_rate_cap", None, detail)
    mmr = market.tiers[0].mmr
    if cap < mmr or not _top_rate(mmr, cap) < _ONE:
        detail = f"need {mmr} <= size_rate_cap and 2 x size_rate_cap - {mmr} < 1"
        raise InputError(Reason.OUT_OF_RANGE, "market.size_rate_cap", str(cap), detail)


def _top_rate(mmr: Ratio, cap: Ratio) -> Ratio:
    """Return 2 cap - mmr, the highest marginal rate of a size-linear MM (MARGIN-13).

    >>> str(_top_rate(Ratio.of(1, 100), Ratio.of(1, 2)))
    '0.99'
    """
    return Ratio.of(2 * cap.num * mmr.den - mmr.num * cap.den, cap.den * mmr.den)


def check_tier_bounds(tiers: tuple[Tier, ...], quantum: Ratio) -> None:
    """MARKET-5, MARKET-6: at least one tier, contiguous from 0, caps above floors."""
    if not tiers:
        raise InputError(Reason.NO_TIERS, "tiers", [], "at least one tier is required")
    if tiers[0].floor != 0:
        shown = _amount(quantum, tiers[0].floor)
        raise InputError(Reason.TIERS_NOT_CONTIGUOUS, "tiers[0].floor", shown, "must be 0")
    for i, tier in enumerate(tiers):
        if tier.cap <= tier.floor:
            raise InputError(
                Reason.TIERS_NOT_CONTIGUOUS,
                f"tiers[{i}].cap",
                _amount(quantum, tier.cap),
                f"must exceed the floor {_amount(quantum, tier.floor)}",
            )
        if i and tier.floor != tiers[i - 1].cap:
            raise InputError(
                Reason.TIERS_NOT_CONTIGUOUS,
                f"tiers[{i}].floor",
                _amount(quantum, tier.floor),
                f"must equal the previous cap {_amount(quantum, tiers[i - 1].cap)}: "
                "sorted, no gap, no overlap",
            )


def check_tier_rates(tiers: tuple[Tier, ...]) -> None:
    """MARKET-7..MARKET-9: 0 < mmr < imr <= 1, rates non-decreasing from tier to tier."""
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
    quantum = market.settle_quantum
    if market.tier_mode is TierMode.STEP:
        for i, tier in enumerate(market.tiers):
            if tier.maintenance_amount:
                raise InputError(
                    Reason.MAINTENANCE_AMOUNT,
                    f"tiers[{i}].maintenance_amount",
                    _amount(market.settle_quantum, tier.maintenance_amount),
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
                decimal_text(derived.num * quantum.num, derived.den * quantum.den),
                "the recursion gives a fraction of a settlement quantum",
            )
        if tier.maintenance_amount != derived.num:
            raise InputError(
                Reason.MAINTENANCE_AMOUNT,
                f"tiers[{i}].maintenance_amount",
                _amount(quantum, tier.maintenance_amount),
                f"must equal the recursion's {_amount(quantum, derived.num)}; "
                "omit it to have it derived",
            )


def _amount(quantum: Ratio, quantums: int) -> str:
    """Render ``quantums`` as decimal text of the settlement asset, as the file wrote it.

    >>> _amount(Ratio.of(1, 10**8), 5_000_000_000)
    '50'
    """
    return decimal_text(quantums * quantum.num, quantum.den)
