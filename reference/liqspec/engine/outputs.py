"""Plain-data reports of markets, accounts and runs, shared by the CLI's tables and its JSON.

The rendering rules are spec/09-outputs.md#OUT-14 and the schemas ``out-*.schema.json``.
Every amount is exact decimal text in its asset; every price is decimal text in the quote
asset, or a status word (``none``, ``always``) when no grid price exists. The unrounded
bankruptcy price (PRICE-7) is decimal text when it terminates, else ``num/den``.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import attrs

from liqspec.base.conventions import Ratio, decimal_text, ratio_text
from liqspec.engine.records import Record, record_kind
from liqspec.engine.scenarios import Scenario, replay
from liqspec.engine.state import Book, Event, State, get_event_kind, get_unit
from liqspec.model.accounts import (
    AccountFile,
    MarginMode,
    MarginUnit,
    Side,
    get_entry_price,
    get_margin_units,
)
from liqspec.model.margin import (
    get_equity,
    get_initial_margin,
    get_initial_requirement,
    get_maintenance_margin,
    get_maintenance_requirement,
    get_margin_ratio,
    get_notional,
    get_tier_index,
    get_unrealized_pnl,
    is_liquidatable,
)
from liqspec.model.markets import (
    Market,
    PriceDisplay,
    format_amount,
    format_price,
    format_size,
    get_max_leverage,
    get_value,
)
from liqspec.model.prices import (
    PriceResult,
    PriceStatus,
    get_bankruptcy_price,
    get_displayed_liquidation_price,
    get_exact_bankruptcy_price,
    get_exact_liquidation_price,
    get_liquidation_price,
)

__all__ = [
    "Units",
    "account_report",
    "event_report",
    "market_report",
    "percent",
    "record_report",
    "scenario_report",
    "state_report",
]


def percent(ratio: Ratio) -> str:
    """Render a ratio as a percentage with every digit it has (at most 6 decimals, then up).

    >>> percent(Ratio.of(13, 2000)), percent(Ratio.of(1, 3))
    ('0.65%', '33.333334%')
    """
    scaled = -((-ratio.num * 100 * 10**6) // ratio.den)
    return decimal_text(scaled, 10**6) + "%"


def market_report(market: Market) -> dict[str, Any]:
    """Describe a validated market and its tier table with derived quantities.

    A size-linear market also shows its ``size_slope`` and ``size_rate_cap`` (MARGIN-13).
    """
    sized = (
        {"size_slope": str(market.size_slope), "size_rate_cap": str(market.size_rate_cap)}
        if market.size_slope.num
        else {}
    )
    return sized | {
        "symbol": market.symbol,
        "contract": market.contract.value,
        "settle_asset": market.settle_asset,
        "price_tick": str(market.price_tick),
        "lot_size": str(market.lot_size),
        "contract_value": str(market.contract_value),
        "settle_quantum": str(market.settle_quantum),
        "max_price": format_price(market, market.max_price),
        "tier_mode": market.tier_mode.value,
        "trigger": market.trigger.value,
        "margin_valuation": market.margin_valuation.value,
        "taker_fee": str(market.taker_fee),
        "close_fee_in_margin": market.close_fee_in_margin,
        "value_factor": market.value_factor,
        "source": {
            "venue": market.source.venue,
            "reference": market.source.reference,
            "as_of": market.source.as_of,
        },
        "tiers": [
            {
                "tier": i + 1,
                "floor": format_amount(market, tier.floor),
                "cap": format_amount(market, tier.cap),
                "mmr": str(tier.mmr),
                "imr": str(tier.imr),
                "mmr_percent": percent(tier.mmr),
                "imr_percent": percent(tier.imr),
                "max_leverage": str(get_max_leverage(tier)),
                "maintenance_amount": format_amount(market, tier.maintenance_amount),
            }
            for i, tier in enumerate(market.tiers)
        ],
    }


def _price_text(market: Market, result: PriceResult) -> str:
    if result.status is PriceStatus.AT and result.price is not None:
        return format_price(market, result.price)
    return result.status.value


def _exact_price(market: Market, ticks: Fraction) -> str:
    tick = market.price_tick
    return decimal_text(ticks.numerator * tick.num, ticks.denominator * tick.den)


def _nearest_tick(ticks: Fraction) -> Fraction:
    """Round an average entry price half-up to the tick, for display only (ACCOUNT-8)."""
    return Fraction((2 * ticks.numerator + ticks.denominator) // (2 * ticks.denominator))


def _displayed(unit: MarginUnit, index: int) -> dict[str, str]:
    """PRICE-10: the shown liquidation price and its exact root, unless shown conservatively."""
    market = unit.legs[index].market
    if market.price_display is PriceDisplay.CONSERVATIVE:
        return {}
    exact = get_exact_liquidation_price(unit, index)
    return {
        "liquidation_price_displayed": _price_text(
            market, get_displayed_liquidation_price(unit, index)
        ),
        "liquidation_price_exact": "none" if exact is None else _exact_price(market, exact),
    }


def _amount(unit: MarginUnit, quantums: int) -> str:
    return decimal_text(quantums * unit.quantum.num, unit.quantum.den)


def _unit_report(unit: MarginUnit) -> dict[str, Any]:
    positions = []
    for i, leg in enumerate(unit.legs):
        market, position, mark = leg.market, leg.position, leg.mark
        notional = get_value(market, position.size, mark)
        exact = get_exact_bankruptcy_price(unit, i)
        positions.append(
            {
                "market": market.symbol,
                "side": position.side.name.lower(),
                "size": format_size(market, position.size),
                "entry_price": _exact_price(
                    market, _nearest_tick(get_entry_price(market, position))
                ),
                "entry_value": format_amount(market, position.entry_value),
                "mark_price": format_price(market, mark),
                "notional": format_amount(market, notional),
                "tier": get_tier_index(market, get_notional(market, position, mark)) + 1,
                "unrealized_pnl": format_amount(market, get_unrealized_pnl(market, position, mark)),
                "initial_margin": format_amount(market, get_initial_margin(market, position, mark)),
                "maintenance_margin": format_amount(
                    market, get_maintenance_margin(market, position, mark)
                ),
                "liquidation_price": _price_text(market, get_liquidation_price(unit, i)),
                "bankruptcy_price": _price_text(market, get_bankruptcy_price(unit, i)),
                "bankruptcy_price_exact": "none" if exact is None else _exact_price(market, exact),
                **_displayed(unit, i),
            }
        )
    ratio = get_margin_ratio(unit)
    return {
        "unit": unit.name,
        "asset": unit.asset,
        "collateral": _amount(unit, unit.collateral),
        "equity": _amount(unit, get_equity(unit)),
        "initial_margin": _amount(unit, get_initial_requirement(unit)),
        "maintenance_margin": _amount(unit, get_maintenance_requirement(unit)),
        "margin_ratio": percent(ratio) if ratio is not None else "infinite",
        "trigger": unit.trigger.value,
        "liquidatable": is_liquidatable(unit),
        "positions": positions,
    }


def account_report(portfolio: AccountFile, markets: Mapping[str, Market]) -> dict[str, Any]:
    """Describe every margin unit of an account: per position and per unit."""
    account = portfolio.account
    units = get_margin_units(account, markets, portfolio.marks)
    return {
        "account": account.id,
        "collateral_asset": account.collateral_asset,
        "liquidatable": any(is_liquidatable(unit) for unit in units),
        "units": [_unit_report(unit) for unit in units],
    }


# --- scenario runs ---------------------------------------------------------------------------

_PRICE_FIELDS = {
    "previous", "price", "mark", "bankruptcy_limit", "impact_limit", "limit_price", "index",
    "reference",
}  # fmt: skip
_SIZE_FIELDS = {
    "size", "target", "executed", "position_before", "position_after", "minimum", "chosen",
}  # fmt: skip

_AMOUNT_FIELDS = {
    "amount", "equity", "maintenance", "equity_before", "equity_after", "maintenance_before",
    "maintenance_after", "fee", "surplus", "fund_delta", "delta", "balance", "deficit",
    "unallocated", "share", "threshold", "unit_balance", "liquidator_fee", "fund_fee", "peak",
    "floor", "predicted",
}  # fmt: skip


class Units:
    """Resolves the market, account or fund a record names to the units of its numbers."""

    def __init__(self, state: State) -> None:
        self.markets = {symbol: entry.market for symbol, entry in state.markets.items()}
        self.quantum: dict[str, Ratio] = {}
        for market in self.markets.values():
            self.quantum.setdefault(market.settle_asset, market.settle_quantum)
            self.quantum.setdefault(market.fund, market.settle_quantum)

    def amount(self, quantums: int, asset_or_fund: str) -> str:
        """Render an amount of ``asset_or_fund``."""
        q = self.quantum[asset_or_fund]
        return decimal_text(quantums * q.num, q.den)


def _field(name: str, value: object, market: Market | None, asset: str, units: Units) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        if name in _PRICE_FIELDS and market is not None:
            return format_price(market, value)
        if name in _SIZE_FIELDS and market is not None:
            return format_size(market, value)
        if name in _AMOUNT_FIELDS:
            return units.amount(value, asset)
    if isinstance(value, Fraction):  # an exact rate (OUT-14)
        return ratio_text(value)
    return value


def record_report(record: Record, state: State, units: Units) -> dict[str, Any]:
    """Render one output record with decimal prices, sizes and amounts (OUT-9)."""
    fields = attrs.asdict(record, recurse=False)
    market = units.markets.get(str(fields.get("market", "")))
    account = state.accounts.get(str(fields.get("account", "")))
    asset = (
        str(fields["fund"]) if "fund" in fields
        else market.settle_asset if market
        else account.asset if account
        else next(iter(units.quantum))
    )  # fmt: skip
    shown: dict[str, Any] = {"kind": record_kind(record)}
    for name, value in fields.items():
        if name == "levels" and market is not None:
            shown[name] = [[format_price(market, p), format_size(market, q)] for p, q in value]
        elif name == "candidates" and market is not None:
            shown[name] = [_exact_price(market, Fraction(text)) for text in value]
        elif name == "considered" and market is not None:
            q = units.quantum[asset]
            shown[name] = [
                {"lots": format_size(market, lots), "impact": units.amount(impact, asset),
                 "risk": decimal_text(risk.numerator * q.num, risk.denominator * q.den)}
                for lots, impact, risk in value
            ]  # fmt: skip
        elif name == "marks":
            shown[name] = {s: format_price(units.markets[s], p) for s, p in value}
        elif name == "allocations" and market is not None:
            shown[name] = [
                {"account": a.account, "score": a.score, "size": format_size(market, a.size),
                 "share": units.amount(a.share, asset)}
                for a in value
            ]  # fmt: skip
        else:
            shown[name] = _field(name, value, market, asset, units)
    return shown


def event_report(event: Event, units: Units) -> dict[str, Any]:
    """Render an input event like a record: its kind and its decimal fields."""
    fields = attrs.asdict(event, recurse=False)
    market = units.markets.get(str(fields.get("market", "")))
    shown: dict[str, Any] = {"kind": get_event_kind(event)}
    for name, value in fields.items():
        if isinstance(value, Book) and market is not None:
            shown["bids"] = [[format_price(market, x.price), format_size(market, x.size)]
                             for x in value.bids]  # fmt: skip
            shown["asks"] = [[format_price(market, x.price), format_size(market, x.size)]
                             for x in value.asks]  # fmt: skip
        elif isinstance(value, Side):
            shown[name] = "buy" if value > 0 else "sell"
        elif name == "amount":
            asset = fields.get("asset", market.settle_asset if market else "")
            shown[name] = units.amount(value, str(asset))
        elif isinstance(value, MarginMode):
            if value is MarginMode.ISOLATED:  # the default, cross, is not shown (STATE-6)
                shown[name] = value.value
        elif isinstance(value, Market):
            shown[name] = value.symbol
            shown["risk_multiplier"] = str(value.risk_multiplier)
        elif isinstance(value, Fraction):
            shown[name] = ratio_text(value)
        else:
            shown[name] = _field(name, value, market, "", units)
    return shown


def state_report(state: State, units: Units) -> dict[str, Any]:
    """Describe balances, positions and funds of a state."""
    accounts = []
    for account in sorted(state.accounts.values(), key=lambda a: a.id):
        unit = get_unit(state, account)
        accounts.append(
            {
                "account": account.id,
                "balance": units.amount(account.balance, account.asset),
                "equity": units.amount(get_equity(unit), account.asset),
                "maintenance": units.amount(get_maintenance_requirement(unit), account.asset),
                "positions": [
                    {
                        "market": p.market,
                        "side": p.side.name.lower(),
                        "size": format_size(units.markets[p.market], p.size),
                    }
                    for p in account.positions
                ],
                "liquidating": account.liquidating,
            }
        )
    funds = {fund: units.amount(balance, fund) for fund, balance in sorted(state.funds.items())}
    return {"time": state.time, "accounts": accounts, "funds": funds}


def scenario_report(scenario: Scenario, *, details: bool = True) -> dict[str, Any]:
    """Replay a scenario and describe every step and the final state (OUT-9).

    Without ``details`` a rejection shows only its reason and rule (the detail text is
    free-form and not compared by the conformance suite).
    """
    units = Units(scenario.state)
    steps, final = [], scenario.state
    for step, state in replay(scenario):
        final = state
        rejected = None
        if step.rejection is not None:
            rejected = {
                "reason": step.rejection.reason.identifier,
                "rule": step.rejection.reason.rule,
            }
            if details:
                rejected["detail"] = step.rejection.detail
        steps.append(
            {
                "index": step.index,
                "event": event_report(step.event, units),
                "rejected": rejected,
                "records": [record_report(r, state, units) for r in step.records],
            }
        )
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "steps": steps,
        "final": state_report(final, units),
    }
