"""Naive peers for bench_margin: what an afternoon's implementation computes, in Decimal.

Neither is a reference: they round once at the end, know only linear continuous tiers and
the mark valuation, and are checked against the engine on the benchmark's inputs before
being timed. They are the yardstick the issue set: the engine should be at least as fast.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from liqspec import MarginUnit
from liqspec.model.markets import Market


def _decimal(num: int, den: int) -> Decimal:
    return Decimal(num) / Decimal(den)


class DecimalTiers:
    """A market's tiers as Decimal (floor, cap, mmr, amount), in the quote asset."""

    def __init__(self, market: Market) -> None:
        q = market.settle_quantum
        self.rows = [
            (_decimal(t.floor * q.num, q.den), _decimal(t.cap * q.num, q.den),
             _decimal(t.mmr.num, t.mmr.den), _decimal(t.maintenance_amount * q.num, q.den))
            for t in market.tiers
        ]  # fmt: skip

    def maintenance(self, notional: Decimal) -> Decimal:
        for _, cap, mmr, amount in self.rows:
            if notional < cap:
                return notional * mmr - amount
        _, _, mmr, amount = self.rows[-1]
        return notional * mmr - amount


class DecimalCross:
    """Margin and trigger of a cross unit of linear positions, the obvious way."""

    def __init__(self, unit: MarginUnit) -> None:
        first = unit.legs[0].market
        q, tick, lot = first.settle_quantum, first.price_tick, first.lot_size
        self.tiers = DecimalTiers(first)
        self.collateral = _decimal(unit.collateral * q.num, q.den)
        self.legs = [
            (int(leg.position.side), _decimal(leg.position.size * lot.num, lot.den),
             _decimal(leg.position.entry_value * q.num, q.den),
             _decimal(leg.mark * tick.num, tick.den))
            for leg in unit.legs
        ]  # fmt: skip
        self.quantum = _decimal(q.num, q.den)

    def is_liquidatable(self) -> bool:
        equity, maintenance = self.collateral, Decimal(0)
        for side, size, entry_value, mark in self.legs:
            notional = size * mark
            equity += side * (notional - entry_value)
            maintenance += self.tiers.maintenance(notional).quantize(self.quantum, ROUND_CEILING)
        return equity <= maintenance


def isolated_liquidation_price(unit: MarginUnit) -> Decimal:
    """The venues' closed form for one linear position, tier by tier, rounded to the tick.

    LP = (side x entry x size - wallet - amount) / (size x (side - mmr)), taking the tier whose
    notional range holds LP x size; rounded to the grid toward the adverse side.
    """
    leg = unit.legs[0]
    market = leg.market
    q, tick, lot = market.settle_quantum, market.price_tick, market.lot_size
    side = int(leg.position.side)
    size = _decimal(leg.position.size * lot.num, lot.den)
    entry_value = _decimal(leg.position.entry_value * q.num, q.den)
    wallet = _decimal(unit.collateral * q.num, q.den)
    step = _decimal(tick.num, tick.den)
    for floor, cap, mmr, amount in DecimalTiers(market).rows:
        price = (side * entry_value - wallet - amount) / (size * (side - mmr))
        if floor <= price * size < cap:
            rounding = ROUND_FLOOR if side > 0 else ROUND_CEILING
            return (price / step).quantize(Decimal(1), rounding) * step
    raise ValueError("no tier holds the root")
