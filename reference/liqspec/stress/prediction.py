"""Cascade prediction: a state's exact liquidation map and the cascades shocks set off.

spec/15-stress.md §15.6. The map (STRESS-9) is the stress chapter's, made cumulative; a shock
(STRESS-10) moves the index and the book together and lets STRESS-3's rounds run to their
fixed point; the thresholds (STRESS-11) are read off a scan of shocks. Every figure comes
from engine events and their records, as in a stress run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction

import attrs
from attrs import frozen

from liqspec.engine.preemption import (
    MapLeg,
    get_liquidation_legs,
    get_map_walk,
    get_reference_price,
    get_shocked_price,
    shift_book,
)
from liqspec.engine.records import Record
from liqspec.engine.state import (
    BookUpdate,
    Event,
    IndexUpdate,
    MarketState,
    State,
    TradeUpdate,
    with_market,
)
from liqspec.model.markets import Market, MarkParams, MarkSource, PreemptMeasure
from liqspec.stress.cascade import Tally, process_rounds
from liqspec.stress.levels import get_liquidation_levels

__all__ = [
    "MapLevel",
    "Prediction",
    "ShockResult",
    "Threshold",
    "get_liquidation_map",
    "get_thresholds",
    "predict",
    "process_shock",
]


# --- the map (STRESS-9) ------------------------------------------------------------------------


@frozen
class MapLevel:
    """One liquidation price of the map, in ticks, with its values in quantums (STRESS-9)."""

    price: int
    long: int
    short: int
    long_cumulative: int
    """Longs liquidated at this price or above: what a fall to ``price`` makes liquidatable."""
    short_cumulative: int
    """Shorts liquidated at this price or below: what a rise to ``price`` makes liquidatable."""


def get_liquidation_map(state: State, symbol: str) -> tuple[MapLevel, ...]:
    """Return the cumulative liquidation map of market ``symbol`` (STRESS-9), lowest first."""
    levels = get_liquidation_levels(state, symbol)
    shorts, total = [], 0
    for _, _, short in levels:
        total += short
        shorts.append(total)
    longs, total = [], 0
    for _, long, _ in reversed(levels):
        total += long
        longs.append(total)
    longs.reverse()
    return tuple(
        MapLevel(price, long, short, down, up)
        for (price, long, short), down, up in zip(levels, longs, shorts, strict=True)
    )


# --- one shock (STRESS-10) ---------------------------------------------------------------------


@frozen
class ShockResult:
    """What a shock's cascade did (STRESS-10); amounts in quantums, prices in ticks."""

    shock: Fraction
    index: int
    """The shocked index."""
    mark: int
    """The mark when the cascade stopped."""
    rounds: int
    path: tuple[int, ...]
    """The mark after each event: the book, the index, the trade, then each round."""
    liquidated_accounts: int
    liquidated_long: int
    liquidated_short: int
    fund_start: int
    fund_end: int
    fund_paid: int
    fund_income: int
    adl_covered: int
    socialized: int
    bad_debt: int
    adl_count: int
    exhausted: bool
    """A deficit the fund did not cover: ADL, socialization or bad debt followed."""
    map_walk: int = 0
    """RISK-7's map walk of the same shock, measure ``liquidated``: the quick estimate."""

    @property
    def liquidated(self) -> int:
        """Return the notional closed by liquidation, both sides."""
        return self.liquidated_long + self.liquidated_short

    @property
    def fund_loss(self) -> int:
        """Return the fund's net loss: start minus end (negative when fees outweighed deficits)."""
        return self.fund_start - self.fund_end

    @property
    def adl_need(self) -> int:
        """Return what deficits needed beyond the fund: ADL, socialized and bad debt."""
        return self.adl_covered + self.socialized + self.bad_debt


def _derived(entry: MarketState) -> MarketState:
    """Return the market deriving its mark by MARK-3 if events fed it (STRESS-10)."""
    if entry.market.mark.source is not MarkSource.EVENT:
        return entry
    params = MarkParams(MarkSource.CLAMPED, fair_band=entry.market.mark.fair_band)
    return attrs.evolve(entry, market=attrs.evolve(entry.market, mark=params))


def process_shock(
    state: State, symbol: str, shock: Fraction, legs: list[MapLeg] | None = None
) -> ShockResult:
    """Run the cascade a shock of ``shock`` (a signed share) sets off in ``state`` (STRESS-10).

    The events: the book moved by the shock, ``index(I', basis 0)``, ``trade(I')`` with
    ``I'`` the shocked reference price, then STRESS-3's rounds to their fixed point. ``legs``
    are the state's for the map walk beside it (computed when not given).
    """
    measure = PreemptMeasure.LIQUIDATED
    walked = get_map_walk(state, symbol, shock, measure, legs) if shock else 0
    entry = _derived(state.markets[symbol])
    state = with_market(state, entry)
    market = entry.market
    shocked = get_shocked_price(get_reference_price(entry), shock, market.max_price)
    opening: list[Event] = [
        BookUpdate(symbol, shift_book(entry.book, shock, market.max_price)),
        IndexUpdate(symbol, shocked, Fraction(0)),
        TradeUpdate(symbol, shocked),
    ]
    fund = state.funds.get(market.fund, 0)
    tally = Tally(market, fund, entry.mark)
    path: list[int] = []

    def observe(before: State, after: State, _: Event, records: tuple[Record, ...]) -> None:
        tally.add(before, after, records)
        path.append(after.markets[symbol].mark)

    state, rounds, _, _ = process_rounds(state, symbol, opening, shocked, observe=observe)
    return ShockResult(
        shock=shock,
        index=shocked,
        mark=state.markets[symbol].mark,
        rounds=rounds,
        path=tuple(path),
        liquidated_accounts=len(tally.accounts),
        liquidated_long=tally.long,
        liquidated_short=tally.short,
        fund_start=fund,
        fund_end=tally.fund,
        fund_paid=tally.fund_paid,
        fund_income=tally.fund_income,
        adl_covered=tally.adl_covered,
        socialized=tally.socialized,
        bad_debt=tally.bad_debt,
        adl_count=tally.adl_count,
        exhausted=tally.exhausted,
        map_walk=walked,
    )


# --- thresholds (STRESS-11) --------------------------------------------------------------------


@frozen
class Threshold:
    """The smallest scanned shock at which a predicate holds, if any (STRESS-11).

    ``monotone``: once it holds in the scan, it holds at every larger shock scanned, so the
    smallest shock is also where the predicate starts to hold for good within the scan.
    """

    name: str
    shock: Fraction | None
    monotone: bool


def get_thresholds(results: Sequence[ShockResult]) -> tuple[Threshold, ...]:
    """Return the smallest shocks that exhaust the fund and that trigger ADL (STRESS-11).

    ``results`` are a scan's, in order of growing size; the search reads every one: no
    monotonicity is assumed, it is reported.
    """
    predicates: tuple[tuple[str, Callable[[ShockResult], bool]], ...] = (
        ("fund-exhausted", lambda r: r.exhausted),
        ("adl", lambda r: r.adl_count > 0),
    )
    thresholds = []
    for name, holds in predicates:
        flags = [holds(r) for r in results]
        first = next((k for k, flag in enumerate(flags) if flag), None)
        shock = None if first is None else results[first].shock
        monotone = first is None or all(flags[first:])
        thresholds.append(Threshold(name, shock, monotone))
    return tuple(thresholds)


# --- all of it (STRESS-9..STRESS-11) ------------------------------------------------------------


@frozen
class Prediction:
    """A state's liquidation map, its chosen shocks' cascades and a scan's thresholds."""

    market: Market
    reference: int
    mark: int
    levels: tuple[MapLevel, ...]
    shocks: tuple[ShockResult, ...]
    scan: tuple[ShockResult, ...]
    thresholds: tuple[Threshold, ...]


def predict(
    state: State, symbol: str, shocks: Sequence[Fraction], scan: Sequence[Fraction]
) -> Prediction:
    """Return ``symbol``'s map, the cascades of ``shocks`` and the thresholds of ``scan``.

    STRESS-9..STRESS-11; every shock starts from ``state`` itself.
    """
    entry = state.markets[symbol]
    legs = get_liquidation_legs(state, symbol)  # the map walk's, once for every shock
    scanned = tuple(process_shock(state, symbol, shock, legs) for shock in scan)
    return Prediction(
        market=entry.market,
        reference=get_reference_price(entry),
        mark=entry.mark,
        levels=get_liquidation_map(state, symbol),
        shocks=tuple(process_shock(state, symbol, shock, legs) for shock in shocks),
        scan=scanned,
        thresholds=get_thresholds(scanned),
    )
