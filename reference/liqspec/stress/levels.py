"""The liquidation map: where the open positions of a market would be liquidated (STRESS-5).

For every unit holding a position in the market, its liquidation price (PRICE-2, the other
legs at their marks) and the value of the position there (MARGIN-1), summed per price and
side. A stress run samples it over time for the heatmap of ``liqspec stress --run K``.
"""

from __future__ import annotations

from collections import defaultdict

from liqspec.engine.state import State, get_unit
from liqspec.model.accounts import Position
from liqspec.model.markets import Market, get_value
from liqspec.model.prices import PriceStatus, get_liquidation_price

__all__ = ["LevelCache", "LevelMap", "get_liquidation_levels"]

LevelMap = tuple[tuple[int, int, int], ...]
"""(price in ticks, long value, short value) per liquidation price, lowest price first."""

LevelCache = dict[tuple[int, Position, int], tuple[Market, int | None]]
"""A unit's liquidation price by (collateral, position, identity of its rules), with the rules
kept alive so that their identity stays theirs."""


def get_liquidation_levels(state: State, symbol: str, cache: LevelCache | None = None) -> LevelMap:
    """Return the liquidation map of market ``symbol`` in ``state`` (STRESS-5).

    A unit that is liquidatable at every price, or at none, has no level and is left out.
    ``cache`` may carry prices from earlier calls: a single-leg unit's liquidation price
    depends only on its collateral, its position and the rules that margin it.
    """
    known: LevelCache = {} if cache is None else cache
    levels: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0])
    for account in state.accounts.values():
        unit = get_unit(state, account)
        for index, leg in enumerate(unit.legs):
            if leg.position.market != symbol:
                continue
            key = (unit.collateral, leg.position, id(leg.market))
            if len(unit.legs) > 1 or key not in known:
                result = get_liquidation_price(unit, index)
                price = result.price if result.status is PriceStatus.AT else None
                known[key] = (leg.market, price)
            price = known[key][1]
            if price is not None:
                side = 0 if leg.position.side > 0 else 1
                levels[price][side] += get_value(leg.market, leg.position.size, price)
    return tuple((price, long, short) for price, (long, short) in sorted(levels.items()))
