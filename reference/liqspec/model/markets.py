"""Market parameters: the value types and the value function (spec/02-markets.md).

The market rules (MARKET-2..15) are in :mod:`liqspec.model.market_rules`, the market file
(MARKET-1) in :mod:`liqspec.model.market_files`.
"""

from __future__ import annotations

import enum
import math

from attrs import Factory, field, frozen

from liqspec.base.conventions import (
    Ratio,
    decimal_text,
    div_ceil,
)

__all__ = [
    "BasisSmoothing",
    "BreakerParams",
    "ChunkRounding",
    "ContractKind",
    "Deleveraging",
    "HaltAction",
    "LiquidationParams",
    "MarkParams",
    "MarkSource",
    "Market",
    "OnUnfilled",
    "Policy",
    "PreemptMeasure",
    "RiskParams",
    "Source",
    "Tier",
    "TierMode",
    "TierTarget",
    "Trigger",
    "Valuation",
    "VolatilitySource",
    "compute_value_factor",
    "format_amount",
    "format_price",
    "format_size",
    "get_max_leverage",
    "get_size_rate_terms",
    "get_value",
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
    OPTIMAL = "optimal"


class ChunkRounding(enum.Enum):
    """Which way the ``chunk`` policy rounds its share of the position to lots (LIQ-4)."""

    UP = "up"
    DOWN = "down"


class PriceDisplay(enum.Enum):
    """How a report shows the liquidation price beside the conservative one (PRICE-10)."""

    CONSERVATIVE = "conservative"
    NEAREST_HALF_UP = "nearest-half-up"


class TierTarget(enum.Enum):
    """Where the ``tier-step`` policy brings a position (LIQ-4)."""

    NEXT = "next"
    FIRST = "first"


class FeeLimit(enum.Enum):
    """What bounds the liquidation fee rate (LIQ-8, MARKET-12)."""

    MAINTENANCE = "maintenance"
    SURPLUS = "surplus"


class FeeRule(enum.Enum):
    """How the fund's liquidation fee rate is set (LIQ-12)."""

    FIXED = "fixed"
    IMPLIED = "implied"


class LimitRule(enum.Enum):
    """What bounds a step's fills beside the impact bound and the band (LIQ-6, LIQ-13)."""

    BANKRUPTCY = "bankruptcy"
    FILLABLE = "fillable"


class OnUnfilled(enum.Enum):
    """What a step does when the book fills nothing within the limit (LIQ-8)."""

    TAKEOVER = "takeover"
    WAIT = "wait"


class Deleveraging(enum.Enum):
    """Who covers a deficit the insurance fund cannot (INS-4, INS-5)."""

    ADL = "adl"
    SOCIALIZE = "socialize"
    BILATERAL = "bilateral"


@frozen
class LiquidationParams:
    """Liquidation parameters of a market (MARKET-12): amounts in quantums, time in clock units."""

    policy: Policy = Policy.HEALTH
    buffer: Ratio = Ratio(1, 50)
    chunk: Ratio = Ratio(1, 5)
    chunk_rounding: ChunkRounding = ChunkRounding.UP
    tier_target: TierTarget = TierTarget.NEXT
    cooldown: int = 30
    risk_aversion: Ratio = Ratio(0, 1)
    max_step_notional: int = 0
    min_step_notional: int = 0
    dust_notional: int = 0
    fee: Ratio = Ratio(1, 1000)
    fee_limit: FeeLimit = FeeLimit.MAINTENANCE
    fee_rule: FeeRule = FeeRule.FIXED
    liquidator_fee: Ratio = Ratio(0, 1)
    liquidator_fee_step: Ratio = Ratio(0, 1)
    liquidator_fee_grace: int = 0
    liquidator_fee_max: Ratio = Ratio(0, 1)
    impact_bound: Ratio = Ratio(1, 20)
    limit_rule: LimitRule = LimitRule.BANKRUPTCY
    bankruptcy_adjustment: Ratio = Ratio(1, 1)
    spread_to_maintenance: Ratio = Ratio(3, 2)
    on_unfilled: OnUnfilled = OnUnfilled.TAKEOVER
    deleveraging: Deleveraging = Deleveraging.ADL
    insurance_fund: str = ""
    insurance_step_cap: int = 0
    adl_drawdown: Ratio = Ratio(0, 1)
    adl_window: int = 0


class MarkSource(enum.Enum):
    """How a market's mark price is obtained (MARK-1)."""

    EVENT = "event"
    MEDIAN = "median"
    CLAMPED = "clamped"


class BasisSmoothing(enum.Enum):
    """How MARK-2's second candidate smooths the book's basis (MARK-2, MARK-5)."""

    MEAN = "mean"
    EMA = "ema"


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
    basis: BasisSmoothing = BasisSmoothing.MEAN
    ema_decay: Ratio = Ratio(0, 1)
    """MARK-5: the share of its weight a sample keeps per time unit; 0 when unset."""


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


class VolatilitySource(enum.Enum):
    """Which volatility drives the multiplier and the ``optimal`` policy (RISK-8)."""

    REALISED = "realised"
    IMPLIED = "implied"
    MAX = "max"


class PreemptMeasure(enum.Enum):
    """What RISK-7 reads off a predicted cascade."""

    LIQUIDATED = "liquidated"
    DEFICIT = "deficit"
    ADL_NEED = "adl-need"


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
    source: VolatilitySource = VolatilitySource.REALISED
    implied_max_age: int = 300
    preempt_shock: Ratio = Ratio(0, 1)
    """RISK-7: the shock whose predicted cascade is watched, a share; 0 turns RISK-7 off."""
    preempt_measure: PreemptMeasure = PreemptMeasure.LIQUIDATED
    preempt_threshold: Ratio = Ratio(0, 1)
    """RISK-7: the predicted size (settlement asset) above which the target rises."""
    preempt_target: Ratio = Ratio(1, 1)
    preempt_interval: int = 60


@frozen
class Source:
    """Where a market's numbers come from and the date they were read (MARKET-1)."""

    venue: str
    reference: str
    as_of: str
    note: str = ""


@frozen
class MarginTable:
    """A market's margin constants flattened for the integer kernel (spec/04-margin.md).

    Derived from the market's own fields, never given:

    - ``bounds``: the caps between tiers, every cap but the last, ascending (MARKET-6); the
      index of a notional's tier is the number of bounds at or below it;
    - ``rates``: per tier (mmr numerator, mmr denominator, maintenance amount; 0 in step mode);
    - ``risk``: the risk multiplier, or None when it is 1;
    - ``size_rate``: on a size-linear market (MARGIN-13), (a, b, c, d) with the maintenance
      rate of ``q`` lots min(a + b x q, c) / d; else None.
    """

    linear: bool
    at_entry: bool
    factor: int
    bounds: tuple[int, ...]
    rates: tuple[tuple[int, int, int], ...]
    risk: Ratio | None
    close_fee: bool
    size_rate: tuple[int, int, int, int] | None


def make_margin_table(market: Market) -> MarginTable:
    """Return the market's :class:`MarginTable`."""
    continuous = market.tier_mode is TierMode.CONTINUOUS
    rates = tuple(
        (t.mmr.num, t.mmr.den, t.maintenance_amount if continuous else 0) for t in market.tiers
    )
    return MarginTable(
        linear=market.contract is ContractKind.LINEAR,
        at_entry=market.margin_valuation is Valuation.ENTRY,
        factor=market.value_factor,
        bounds=tuple(t.cap for t in market.tiers[:-1]),
        rates=rates,
        risk=None
        if market.risk_multiplier.num == market.risk_multiplier.den
        else market.risk_multiplier,
        close_fee=market.close_fee_in_margin,
        size_rate=get_size_rate_terms(market) if market.size_slope.num else None,
    )


def get_size_rate_terms(market: Market, rate: Ratio | None = None) -> tuple[int, int, int, int]:
    """Return (a, b, c, d): the rate of ``q`` lots is min(a + b x q, c) / d (MARGIN-13).

    ``rate`` is the rate at size 0 (the tier's mmr by default); ``c / d`` is the market's
    ``size_rate_cap`` for the maintenance rate, 1 for any other rate; ``b / d`` the slope per
    lot, ``size_slope x lot_size``.

    >>> import attrs
    >>> from liqspec.model.market_rules import make_market
    >>> tick, lot = Ratio.of(1, 10), Ratio.of(1, 1000)
    >>> btc = make_market(symbol="BTC", contract=ContractKind.LINEAR, base_asset="BTC",
    ...     quote_asset="USDC", settle_asset="USDC", price_tick=tick, lot_size=lot,
    ...     settle_quantum=Ratio.of(1, 10**6), max_price=10**7,
    ...     tiers=(Tier(0, 10**15, Ratio.of(1, 100), Ratio.of(1, 50), 0),),
    ...     tier_mode=TierMode.CONTINUOUS, check=False)
    >>> btc = attrs.evolve(btc, size_slope=Ratio.of(1, 20000), size_rate_cap=Ratio.of(1, 2))
    >>> get_size_rate_terms(btc)  # 1% + 0.005% per BTC = 0.0005% per lot, at most 50%
    (200000, 1, 10000000, 20000000)
    """
    base = market.tiers[0].mmr if rate is None else rate
    cap = market.size_rate_cap if rate is None else Ratio(1, 1)
    per_lot = Ratio.of(market.size_slope.num * market.lot_size.num,
                       market.size_slope.den * market.lot_size.den)  # fmt: skip
    den = math.lcm(base.den, per_lot.den, cap.den)
    return (base.num * (den // base.den), per_lot.num * (den // per_lot.den),
            cap.num * (den // cap.den), den)  # fmt: skip


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
    open_interest_caps: tuple[int, int] = (0, 0)
    """(lower, upper) open notional of MARGIN-12's scaling, in quantums; an upper of 0: off."""
    open_interest: int = 0
    """The market's open interest in lots, from its last ``open-interest`` event (MARGIN-12)."""
    price_display: PriceDisplay = PriceDisplay.CONSERVATIVE
    """How a report shows the liquidation price (PRICE-10); the engine never reads it."""
    size_slope: Ratio = Ratio(0, 1)
    """The rate added per base unit of a position's size (MARGIN-13, Deribit); 0: off."""
    size_rate_cap: Ratio = Ratio(0, 1)
    """The highest maintenance rate the size slope reaches (MARGIN-13, MARKET-4)."""
    table: MarginTable = field(
        init=False,
        eq=False,
        repr=False,
        default=Factory(make_margin_table, takes_self=True),
    )
    """The margin formulas' constants, derived once per market (see :class:`MarginTable`)."""

    @property
    def fund(self) -> str:
        """The insurance fund this market draws on: its own id, or its settlement asset."""
        return self.liquidation.insurance_fund or self.settle_asset


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


def get_value(market: Market, size: int, price: int) -> int:
    """Return the value of ``size`` lots at ``price`` ticks, in quantums (MARGIN-1).

    Linear: size x price x K, exact. Inverse: ceil(size x K / price), the one rounding of an
    inverse contract; PnL and margin both derive from this rounded value.

    >>> tick, quantum, one = Ratio.of(1, 10), Ratio.of(1, 10**8), Ratio(1, 1)
    >>> from liqspec.model.market_rules import make_market
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
