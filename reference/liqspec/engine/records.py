"""Output records of the transition function (spec/09-outputs.md).

Every record carries the numbers that justify it, in base units: prices in ticks, sizes in
lots (signed where named ``position_*``), amounts in quantums of the market's or account's
settlement asset. :func:`record_kind` gives each its stable kebab-case name.
"""

from __future__ import annotations

import re
from fractions import Fraction

from attrs import frozen

__all__ = [
    "Allocation",
    "BadDebt",
    "BookSet",
    "BreakerTripped",
    "CascadePredicted",
    "ClockSet",
    "Deleveraged",
    "Deposited",
    "Filled",
    "FundChange",
    "FundDrawdown",
    "ImpliedVolatilitySet",
    "IndexSet",
    "LiquidationEnded",
    "LiquidationFees",
    "LiquidationSized",
    "LiquidationStarted",
    "LiquidationStep",
    "LiquidationWaiting",
    "MarginAdded",
    "MarginRemoved",
    "MarkDerived",
    "MarkSet",
    "OpenInterestSet",
    "ParametersChanged",
    "Record",
    "ReferenceSet",
    "RiskAdjusted",
    "Takeover",
    "TradeSet",
    "WithdrawalsBlocked",
    "Withdrawn",
    "record_kind",
]


@frozen
class MarkSet:
    """OUT-1: the mark of ``market`` moved from ``previous`` to ``price``."""

    market: str
    previous: int
    price: int


@frozen
class BookSet:
    """OUT-1: a new book snapshot with so many bid and ask levels."""

    market: str
    bids: int
    asks: int


@frozen
class Deposited:
    """OUT-1: ``amount`` paid into ``account``."""

    account: str
    amount: int


@frozen
class Withdrawn:
    """OUT-1: ``amount`` paid out of ``account``."""

    account: str
    amount: int


@frozen
class MarginAdded:
    """OUT-1: ``amount`` moved from ``account``'s cross wallet to its unit in ``market``."""

    account: str
    market: str
    amount: int
    unit_balance: int


@frozen
class MarginRemoved:
    """OUT-1: ``amount`` moved from ``account``'s unit in ``market`` to its cross wallet."""

    account: str
    market: str
    amount: int
    unit_balance: int


@frozen
class Filled:
    """OUT-1: an external trade; signed position size before and after."""

    account: str
    market: str
    side: str
    size: int
    price: int
    position_before: int
    position_after: int


@frozen
class IndexSet:
    """OUT-1: a new index price and funding basis (exact, as text)."""

    market: str
    price: int
    basis: str


@frozen
class TradeSet:
    """OUT-1: the last traded price."""

    market: str
    price: int


@frozen
class ReferenceSet:
    """OUT-1: a new reference price for the halt levels."""

    market: str
    price: int


@frozen
class ClockSet:
    """OUT-1: time moved from ``previous`` to ``time``."""

    previous: int
    time: int


@frozen
class LiquidationStarted:
    """OUT-2: the account met the trigger: equity vs maintenance at these marks."""

    account: str
    equity: int
    maintenance: int
    trigger: str
    marks: tuple[tuple[str, int], ...]


@frozen
class LiquidationSized:
    """OUT-3: how the ``optimal`` policy chose a step's target (LIQ-11).

    ``considered`` holds, per candidate target in lots (ascending), its impact cost in quantums
    and its risk term, an exact fraction of quantums.
    """

    account: str
    market: str
    volatility_ppm: int
    volatility_source: str
    horizon: int
    minimum: int
    considered: tuple[tuple[int, int, Fraction], ...]
    chosen: int


@frozen
class LiquidationStep:
    """OUT-3: one step against the book, with every number behind it (LIQ-5..LIQ-7)."""

    account: str
    market: str
    policy: str
    side: str
    position_before: int
    target: int
    bankruptcy_limit: int | None
    impact_limit: int
    limit_price: int
    limit_reason: str
    levels: tuple[tuple[int, int], ...]
    executed: int
    fee: int
    surplus: int
    equity_before: int
    maintenance_before: int
    equity_after: int
    maintenance_after: int


@frozen
class LiquidationFees:
    """OUT-3: a step's fee split between the liquidator and the fund (LIQ-12).

    ``elapsed`` is the time since the account's liquidation started; the rates are exact.
    """

    account: str
    market: str
    elapsed: int
    liquidator_rate: Fraction
    liquidator_fee: int
    fund_rate: Fraction
    fund_fee: int


@frozen
class LiquidationWaiting:
    """OUT-3: a step that did nothing, and why (cooldown, no liquidity within the limit)."""

    account: str
    market: str
    reason: str


@frozen
class Takeover:
    """OUT-4: the insurance fund took ``size`` lots over at the bankruptcy quote ``price``."""

    account: str
    market: str
    size: int
    price: int
    mark: int
    fund: str
    fund_delta: int
    equity_before: int
    maintenance_before: int
    equity_after: int
    maintenance_after: int


@frozen
class FundChange:
    """OUT-5: an insurance fund moved by ``delta`` to ``balance``, and why."""

    fund: str
    delta: int
    balance: int
    cause: str


@frozen
class FundDrawdown:
    """OUT-5: a fund stopped paying at its drawdown floor; the rest goes on (INS-8)."""

    fund: str
    peak: int
    floor: int
    balance: int


@frozen
class Allocation:
    """OUT-6: one counterparty's part of a deficit: closed lots and cash share."""

    account: str
    score: str
    size: int
    share: int


@frozen
class Deleveraged:
    """OUT-6: a deficit allocated by ADL or socialization; ``unallocated`` is left as bad debt."""

    market: str
    method: str
    deficit: int
    allocations: tuple[Allocation, ...]
    unallocated: int


@frozen
class BadDebt:
    """OUT-7: a deficit nobody covered stays on the account as a negative balance."""

    account: str
    amount: int


@frozen
class LiquidationEnded:
    """OUT-8: equity reached the exit threshold (or no position is left)."""

    account: str
    equity: int
    maintenance: int
    threshold: int


@frozen
class MarkDerived:
    """OUT-10: a derived mark, with its inputs and candidates (exact ticks as text)."""

    market: str
    source: str
    index: int
    basis: str
    candidates: tuple[str, ...]
    mark: int


@frozen
class BreakerTripped:
    """OUT-11: a halt level or the dynamic breaker tripped: reference, mark, move, until when.

    ``until`` is ``None`` for a halt that lasts until the next reference price (BRK-3).
    """

    market: str
    breaker: str
    reference: int
    mark: int
    move: str
    until: int | None


@frozen
class WithdrawalsBlocked:
    """OUT-12: withdrawals in ``asset`` blocked until ``until`` after negative equity was seen."""

    asset: str
    account: str
    equity: int
    until: int


@frozen
class RiskAdjusted:
    """OUT-13: the volatility (ppm), its source, target, old and new multiplier, effective time."""

    market: str
    volatility_ppm: int
    volatility_source: str
    target: str
    old: str
    new: str
    effective: int


@frozen
class CascadePredicted:
    """OUT-13: RISK-7's prediction: shock, measure, predicted size, threshold, target set."""

    market: str
    shock: str
    measure: str
    predicted: int
    threshold: int
    preempt_target: str


@frozen
class OpenInterestSet:
    """OUT-1: a market's open interest, in lots, now scaling its initial margin (MARGIN-12)."""

    market: str
    size: int


@frozen
class ImpliedVolatilitySet:
    """OUT-13: the implied volatility of ``market`` is now ``volatility_ppm`` (RISK-8)."""

    market: str
    volatility_ppm: int


@frozen
class ParametersChanged:
    """OUT-13: an operator's parameter change; MM increases phase in until ``effective``."""

    market: str
    effective: int


Record = (
    MarkSet
    | BookSet
    | Deposited
    | MarginAdded
    | MarginRemoved
    | Withdrawn
    | Filled
    | ClockSet
    | LiquidationStarted
    | LiquidationSized
    | LiquidationStep
    | LiquidationFees
    | LiquidationWaiting
    | Takeover
    | FundChange
    | FundDrawdown
    | Deleveraged
    | BadDebt
    | LiquidationEnded
    | IndexSet
    | TradeSet
    | ReferenceSet
    | MarkDerived
    | BreakerTripped
    | WithdrawalsBlocked
    | RiskAdjusted
    | CascadePredicted
    | ImpliedVolatilitySet
    | OpenInterestSet
    | ParametersChanged
)


def record_kind(record: object) -> str:
    """Return the stable kebab-case name of a record's (or an event's) kind.

    >>> record_kind(MarkSet("BTCUSDT", 1, 2))
    'mark-set'
    """
    return re.sub(r"(?<!^)(?=[A-Z])", "-", type(record).__name__).lower()
