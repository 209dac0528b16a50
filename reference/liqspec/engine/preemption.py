"""The preemptive risk rule: a predicted cascade raises the margin multiplier (RISK-7).

spec/12-risk.md. Once per ``preempt_interval`` the market's cascade under its configured
shock is predicted from the liquidation map and the book (the map walk of RISK-7, not a
replay of the engine), and its size sets a target multiplier that RISK-3 combines with the
volatility target. The shock's helpers (the shocked price, the moved book) are shared with
the stress chapter's full cascade (STRESS-10).
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from liqspec.base.conventions import Ratio, div_ceil, div_floor
from liqspec.engine.records import CascadePredicted, Record
from liqspec.engine.state import Book, Level, MarketState, State, get_unit, with_market
from liqspec.model.accounts import MarginUnit
from liqspec.model.margin import get_equity
from liqspec.model.markets import PreemptMeasure, RiskParams, get_value
from liqspec.model.prices import PriceStatus, get_liquidation_price

__all__ = [
    "MapLeg",
    "get_liquidation_legs",
    "get_map_walk",
    "get_predicted_cascade",
    "get_preempt_target",
    "get_reference_price",
    "get_shocked_price",
    "process_preemption",
    "shift_book",
]


# --- a shock (STRESS-10, RISK-7) ---------------------------------------------------------------


def get_reference_price(entry: MarketState) -> int:
    """Return the price a shock moves: the index when one is known, else the mark."""
    return entry.index or entry.mark


def get_shocked_price(price: int, shock: Fraction, top: int) -> int:
    """Return ``price x (1 + shock)`` on the grid, rounded toward ``price``, in 1 … ``top``.

    Rounding toward the unshocked price keeps the move at most the shock (STRESS-10).

    >>> get_shocked_price(60_000, Fraction(-1, 3), 10**6), get_shocked_price(7, Fraction(1, 2), 10)
    (40000, 10)
    >>> get_shocked_price(7, Fraction(-1, 2), 10), get_shocked_price(7, Fraction(-1), 10)
    (4, 1)
    """
    moved = price * (1 + shock)
    whole = div_ceil(moved.numerator, moved.denominator) if shock < 0 else int(moved)
    return min(max(whole, 1), top)


def shift_book(book: Book, shock: Fraction, top: int) -> Book:
    """Return the book moved by the shock: each price x (1 + shock) (STRESS-10).

    Bids round down and asks up, on the grid within 1 … ``top``; levels that land on one
    price are merged, their sizes added, so the book stays strictly ordered (STATE-2). Where
    the clamps cross the sides (a shock near -100% or a rise to the top), the side the shock
    moves toward wins: after a fall, asks at or below the best bid are dropped; after a rise,
    bids at or above the best ask.

    >>> book = Book((Level(100, 1), Level(99, 2)), (Level(101, 3),))
    >>> shift_book(book, Fraction(-1, 10), 1000)
    Book(bids=(Level(price=90, size=1), Level(price=89, size=2)), asks=(Level(price=91, size=3),))
    >>> shift_book(book, Fraction(-99, 100), 1000)  # bids 1 and 0.99 merge at 1; 1.01 asks 2
    Book(bids=(Level(price=1, size=3),), asks=(Level(price=2, size=3),))
    >>> shift_book(book, Fraction(-999, 1000), 1000)  # the ask lands on the bid: dropped
    Book(bids=(Level(price=1, size=3),), asks=())
    """

    def moved(level: Level, *, up: bool) -> int:
        value = level.price * (1 + shock)
        whole = (div_ceil if up else div_floor)(value.numerator, value.denominator)
        return min(max(whole, 1), top)

    def merged(levels: tuple[Level, ...], *, up: bool) -> tuple[Level, ...]:
        out: list[Level] = []
        for level in levels:
            price = moved(level, up=up)
            if out and out[-1].price == price:
                out[-1] = Level(price, out[-1].size + level.size)
            else:
                out.append(Level(price, level.size))
        return tuple(out)

    bids, asks = merged(book.bids, up=False), merged(book.asks, up=True)
    if bids and asks and bids[0].price >= asks[0].price:
        if shock < 0:
            asks = tuple(level for level in asks if level.price > bids[0].price)
        else:
            bids = tuple(level for level in bids if level.price < asks[0].price)
    return Book(bids, asks)


# --- the prediction (RISK-7) -------------------------------------------------------------------

MapLeg = tuple[MarginUnit, int, int]
"""A unit, the index of its leg in the market, and that leg's liquidation price (PRICE-2)."""


def get_liquidation_legs(state: State, symbol: str) -> list[MapLeg]:
    """Return every leg in market ``symbol`` with a liquidation price (STRESS-9's map)."""
    legs = []
    for account in state.accounts.values():
        unit = get_unit(state, account)
        for index, leg in enumerate(unit.legs):
            if leg.position.market == symbol:
                result = get_liquidation_price(unit, index)
                if result.status is PriceStatus.AT and result.price is not None:
                    legs.append((unit, index, result.price))
    return legs


def _fill_price(levels: tuple[Level, ...], lots: int) -> int | None:
    """Return the price at which the ``lots``-th lot fills walking ``levels``, best first.

    The last level's price when the levels hold fewer lots; None without levels.

    >>> _fill_price((Level(10, 2), Level(9, 3)), 4), _fill_price((Level(10, 2),), 5)
    (9, 10)
    """
    left = lots
    for level in levels:
        left -= level.size
        if left <= 0:
            return level.price
    return levels[-1].price if levels else None


def _is_reached(leg: MapLeg, price: int, *, falling: bool) -> bool:
    """Whether ``price`` reaches the leg's liquidation price from the safe side."""
    unit, index, level = leg
    long = unit.legs[index].position.side > 0
    return long == falling and (level >= price if falling else level <= price)


def _deficit(leg: MapLeg, price: int) -> int:
    """Return the unit's negative equity with the leg at ``price`` (others at their marks)."""
    unit, index, _ = leg
    legs = list(unit.legs)
    legs[index] = attrs.evolve(legs[index], mark=price)
    return max(0, -get_equity(attrs.evolve(unit, legs=tuple(legs))))


def get_map_walk(
    state: State,
    symbol: str,
    shock: Fraction,
    measure: PreemptMeasure,
    legs: list[MapLeg] | None = None,
) -> int:
    """Return the measure of RISK-7's map walk for a signed ``shock``, in quantums.

    A fall (``shock`` < 0) reaches longs through the moved bids, a rise shorts through the
    moved asks; ``legs`` are :func:`get_liquidation_legs`'s, computed when not given.
    """
    entry = state.markets[symbol]
    market = entry.market
    falling = shock < 0
    legs = get_liquidation_legs(state, symbol) if legs is None else legs
    price = get_shocked_price(get_reference_price(entry), shock, market.max_price)
    book = shift_book(entry.book, shock, market.max_price)
    levels = book.bids if falling else book.asks
    chosen = [leg for leg in legs if _is_reached(leg, price, falling=falling)]
    while True:
        lots = sum(unit.legs[index].position.size for unit, index, _ in chosen)
        fill = _fill_price(levels, lots) if lots else None
        if fill is not None:
            price = min(price, fill) if falling else max(price, fill)
        reached = [leg for leg in legs if _is_reached(leg, price, falling=falling)]
        if len(reached) == len(chosen):
            break
        chosen = reached
    if measure is PreemptMeasure.LIQUIDATED:
        return sum(
            get_value(market, unit.legs[index].position.size, level)
            for unit, index, level in chosen
        )
    deficit = sum(_deficit(leg, price) for leg in chosen)
    if measure is PreemptMeasure.DEFICIT:
        return deficit
    return max(0, deficit - state.funds.get(market.fund, 0))


def get_predicted_cascade(state: State, symbol: str) -> int:
    """Return RISK-7's prediction for market ``symbol``: the larger of a fall and a rise."""
    params = state.markets[symbol].market.risk
    shock = Fraction(params.preempt_shock.num, params.preempt_shock.den)
    legs = get_liquidation_legs(state, symbol)
    walks = (get_map_walk(state, symbol, s, params.preempt_measure, legs) for s in (-shock, shock))
    return max(walks)


def get_preempt_target(params: RiskParams, predicted: int, quantum: Ratio) -> Fraction:
    """RISK-7: ``preempt_target`` when the prediction exceeds the threshold, else 1.

    Bounded by [1, preempt_target] and non-decreasing in the prediction (INV-PREEMPT).

    >>> params = RiskParams(preempt_threshold=Ratio(100, 1), preempt_target=Ratio(3, 2))
    >>> [get_preempt_target(params, q, Ratio(1, 1)) for q in (100, 101)]
    [Fraction(1, 1), Fraction(3, 2)]
    """
    threshold = Fraction(params.preempt_threshold.num, params.preempt_threshold.den)
    if predicted * Fraction(quantum.num, quantum.den) > threshold:
        return Fraction(params.preempt_target.num, params.preempt_target.den)
    return Fraction(1)


def process_preemption(state: State, symbol: str, time: int) -> tuple[State, tuple[Record, ...]]:
    """RISK-7: at most once per ``preempt_interval``, predict and set the preemptive target."""
    entry = state.markets[symbol]
    params = entry.market.risk
    if not params.preempt_shock.num or time < entry.preempt_time + params.preempt_interval:
        return state, ()
    predicted = get_predicted_cascade(state, symbol)
    quantum = entry.market.settle_quantum
    target = get_preempt_target(params, predicted, quantum)
    entry = attrs.evolve(entry, preempt_time=time, preempt_target=target)
    threshold = (
        params.preempt_threshold.num * quantum.den // (params.preempt_threshold.den * quantum.num)
    )
    record = CascadePredicted(
        symbol, str(params.preempt_shock), params.preempt_measure.value, predicted, threshold,
        str(Ratio.of(target.numerator, target.denominator)),
    )  # fmt: skip
    return with_market(state, entry), (record,)
