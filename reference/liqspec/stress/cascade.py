"""The cascade: one stress run as a sequence of engine events (spec/15-stress.md).

Each step sets the index and a refilled ladder, prints a trade at the index, and then lets
the engine's own liquidations move the mark: the last price a liquidation filled at in the
book is printed as the next trade, which the derived mark (chapter 10) follows, until a round
fills nothing new (STRESS-3). Every decision is the engine's, with its explanation record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fractions import Fraction

from attrs import frozen

from liqspec.backtest.generators import generate_path, generate_population, path_csv
from liqspec.backtest.inputs import Unit, parse_population
from liqspec.base.conventions import div_ceil, to_units
from liqspec.engine.records import (
    BadDebt,
    Deleveraged,
    FundChange,
    LiquidationStarted,
    LiquidationStep,
    Record,
    Takeover,
)
from liqspec.engine.state import (
    AccountState,
    Book,
    BookUpdate,
    Clock,
    Event,
    IndexUpdate,
    Level,
    MarketState,
    State,
    TradeUpdate,
)
from liqspec.engine.transition import process_event
from liqspec.model.margin import get_tier_index
from liqspec.model.markets import Market, get_value
from liqspec.stress.levels import LevelCache, LevelMap, get_liquidation_levels
from liqspec.stress.plan import Ladder, LadderShape, StressPlan, get_run_seed

__all__ = [
    "RunResult",
    "StepResult",
    "Tally",
    "build_ladder_book",
    "build_run_state",
    "get_baseline_depth",
    "get_fill_price",
    "get_full_depth",
    "get_path_csv",
    "get_population",
    "get_population_csv",
    "get_remaining",
    "process_cascade_step",
    "process_rounds",
    "process_run",
    "refill",
]

Depths = tuple[int, ...]
"""Remaining lots per ladder level, nearest the index first (STRESS-2)."""

MAP_COLUMNS = 120
"""A run kept with its steps samples its liquidation map at most about this many times."""

Tracer = Callable[[int, Event, State, tuple[Record, ...]], None]
"""Called with (step, event, state after it, records) for every event of a run (``--trace``)."""


# --- the ladder (STRESS-2) ---------------------------------------------------------------------


def get_full_depth(ladder: Ladder, level: int) -> int:
    """Return the lots level ``level`` (from 1) holds when full and not thinned (STRESS-2).

    >>> flat, sqrt = Ladder(3, 10, 100), Ladder(3, 10, 100, shape=LadderShape.SQRT)
    >>> [get_full_depth(flat, k) for k in (1, 2, 3)], [get_full_depth(sqrt, k) for k in (1, 2, 3)]
    ([100, 100, 100], [100, 300, 500])
    """
    if ladder.shape is LadderShape.SQRT:
        return ladder.depth * (2 * level - 1)
    return ladder.depth


def get_baseline_depth(ladder: Ladder, start: int, index: int, level: int = 1) -> int:
    """Return the lots level ``level`` holds when full while the index is at ``index`` (STRESS-2).

    >>> thin = Ladder(levels=3, gap=10, depth=100, thin_below=Fraction(9, 10),
    ...     thin_depth=Fraction(1, 50))
    >>> get_baseline_depth(thin, 1000, 900), get_baseline_depth(thin, 1000, 899)
    (100, 2)
    """
    full = get_full_depth(ladder, level)
    if index * ladder.thin_below.denominator < start * ladder.thin_below.numerator:
        share = ladder.thin_depth
        return div_ceil(full * share.numerator, share.denominator)
    return full


def refill(depth: int, baseline: int, resilience: Fraction) -> int:
    """Return a level's lots after one step's refill toward ``baseline`` (STRESS-2).

    A level above the baseline drops to it; below, it regains ``resilience`` of what it
    misses, rounded up, so any positive resilience refills a level in finitely many steps.

    >>> refill(0, 10, Fraction(1, 4)), refill(9, 10, Fraction(1, 4)), refill(12, 10, Fraction(1, 4))
    (3, 10, 10)
    """
    if depth >= baseline:
        return baseline
    missing = baseline - depth
    return depth + div_ceil(missing * resilience.numerator, resilience.denominator)


def build_ladder_book(ladder: Ladder, index: int, bids: Depths, asks: Depths, top: int) -> Book:
    """Return the book of the ladder centred on ``index``: level k at index -+ k x gap.

    Empty levels and levels outside the price domain ``1..top`` are left out (STATE-2).
    """
    bid_levels = tuple(
        Level(index - k * ladder.gap, lots)
        for k, lots in enumerate(bids, 1)
        if lots > 0 and index - k * ladder.gap >= 1
    )
    ask_levels = tuple(
        Level(index + k * ladder.gap, lots)
        for k, lots in enumerate(asks, 1)
        if lots > 0 and index + k * ladder.gap <= top
    )
    return Book(bid_levels, ask_levels)


def get_remaining(
    ladder: Ladder, index: int, book: Book, sent: tuple[Depths, Depths], top: int
) -> tuple[Depths, Depths]:
    """Return the lots left at each ladder level after the engine consumed ``book``.

    A level inside the price domain holds what the book holds at its price (0 once emptied);
    a level outside ``1..top`` was never sent and keeps its ``sent`` depth (STRESS-2).
    """
    bids = {level.price: level.size for level in book.bids}
    asks = {level.price: level.size for level in book.asks}
    steps = range(1, ladder.levels + 1)
    below = tuple(index - k * ladder.gap for k in steps)
    above = tuple(index + k * ladder.gap for k in steps)
    return (
        tuple(bids.get(p, 0) if p >= 1 else d for p, d in zip(below, sent[0], strict=True)),
        tuple(asks.get(p, 0) if p <= top else d for p, d in zip(above, sent[1], strict=True)),
    )


# --- one step: the cascade's rounds (STRESS-3) --------------------------------------------------


def get_fill_price(records: Iterable[Record]) -> int | None:
    """Return the price of the last lot a liquidation filled in the book, or None (STRESS-3)."""
    price = None
    for record in records:
        if isinstance(record, LiquidationStep) and record.levels:
            price = record.levels[-1][0]
    return price


@frozen
class StepResult:
    """What one step did (STRESS-5): the index, the marks, the rounds and the flows."""

    time: int
    index: int
    mark: int
    """The mark when the cascade stopped."""
    low: int
    """The mark farthest below the index during the step (the index when none was)."""
    high: int
    """The mark farthest above the index during the step (the index when none was)."""
    rounds: int
    """Trades printed by liquidations: 0 when nobody was liquidated in the book."""
    liquidated_long: int
    liquidated_short: int
    """Notional closed by liquidation steps and takeovers, in settlement quantums."""
    fund: int
    """The market's fund when the step ended."""


class Tally:
    """Adds up the records of a run, or of a shock's cascade (STRESS-5, STRESS-10)."""

    def __init__(self, market: Market, fund: int, mark: int) -> None:
        self.market = market
        self.accounts: set[str] = set()
        self.long = self.short = 0
        self.bad_debt = self.adl_count = self.adl_notional = 0
        self.fund_income = self.fund_paid = self.adl_covered = self.socialized = 0
        self.exhausted = False
        self.fund = self.fund_peak = self.fund_low = fund
        self.drawdown = 0
        self.by_tier = [0] * len(market.tiers)
        self.closes_by_tier = [0] * len(market.tiers)
        self.max_rounds = self.cascade_steps = 0
        self.impact = Fraction(0)
        self.mark_low = self.mark_high = mark

    def step_done(self, index: int, rounds: int, low: int, high: int) -> None:
        """Add a step's rounds, its impact and its extreme marks (STRESS-5)."""
        self.max_rounds = max(self.max_rounds, rounds)
        self.cascade_steps += rounds > 0
        self.impact = max(self.impact, Fraction(max(index - low, high - index), index))
        self.mark_low, self.mark_high = min(self.mark_low, low), max(self.mark_high, high)

    def _fund_at(self, balance: int) -> None:
        self.fund_peak, self.fund_low = max(self.fund_peak, balance), min(self.fund_low, balance)
        self.drawdown = max(self.drawdown, self.fund_peak - balance)

    def add(self, before: State, after: State, records: tuple[Record, ...]) -> None:
        """Add one event's records; ``before`` and ``after`` are the states around it."""
        mark = after.markets[self.market.symbol].mark
        for record in records:
            if isinstance(record, LiquidationStarted):
                self.accounts.add(record.account)
            elif isinstance(record, LiquidationStep):
                value = sum(get_value(self.market, lots, price) for price, lots in record.levels)
                held = abs(record.position_before)
                self._closed(record.position_before > 0, value, self._tier(held, mark))
            elif isinstance(record, Takeover):
                long = _is_long(before, record.account, record.market)
                value = get_value(self.market, record.size, record.price)
                self._closed(long, value, self._tier(record.size, record.mark))
            elif isinstance(record, Deleveraged):
                self.exhausted = True
                covered = sum(share.share for share in record.allocations)
                if record.method == "socialize":  # ADL and bilateral close positions
                    self.socialized += covered
                    continue
                self.adl_covered += covered
                for share in record.allocations:
                    self.adl_count += 1
                    self.adl_notional += get_value(self.market, share.size, mark)
            elif isinstance(record, BadDebt):
                self.exhausted = True
                self.bad_debt += record.amount
            elif isinstance(record, FundChange) and record.fund == self.market.fund:
                self._fund_at(record.balance)  # lows inside an event count too
                if record.delta > 0:
                    self.fund_income += record.delta
                else:
                    self.fund_paid -= record.delta

        self.fund = after.funds.get(self.market.fund, 0)
        self._fund_at(self.fund)

    def _tier(self, lots: int, mark: int) -> int:
        """Return the tier (0-based) of ``lots`` valued at ``mark`` (MARGIN-1, MARGIN-4)."""
        return get_tier_index(self.market, get_value(self.market, lots, mark))

    def _closed(self, long: bool, value: int, tier: int) -> None:
        if long:
            self.long += value
        else:
            self.short += value
        self.by_tier[tier] += value
        self.closes_by_tier[tier] += 1


def _is_long(state: State, unit: str, symbol: str) -> bool:
    account: AccountState = state.accounts[unit]
    return any(p.side > 0 for p in account.positions if p.market == symbol)


def process_cascade_step(
    state: State,
    ladder: Ladder,
    depths: tuple[Depths, Depths],
    time: int,
    index: int,
    *,
    observe: Callable[[State, State, Event, tuple[Record, ...]], None],
) -> tuple[State, int, int, int]:
    """Run one step (STRESS-3); return the state, the rounds and the lowest and highest marks.

    Opening events: the refilled ladder as a book, the clock, the index (basis 0), a trade at
    the index. Then, while the events since the last printed trade filled a liquidation in the
    book at a price other than the last trade, that price is printed as a trade: a round.
    """
    symbol = next(iter(state.markets))
    top = state.markets[symbol].market.max_price
    opening: list[Event] = [
        BookUpdate(symbol, build_ladder_book(ladder, index, *depths, top)),
        Clock(time),
        IndexUpdate(symbol, index, Fraction(0)),
        TradeUpdate(symbol, index),
    ]
    return process_rounds(state, symbol, opening, index, observe=observe)


def process_rounds(
    state: State,
    symbol: str,
    opening: list[Event],
    start: int,
    *,
    observe: Callable[[State, State, Event, tuple[Record, ...]], None],
) -> tuple[State, int, int, int]:
    """Process ``opening``, then STRESS-3's rounds; return the state, the rounds, low and high.

    While the events since the last printed trade filled a liquidation in the book at a price
    other than the last trade, that price is printed as a trade: a round. ``low`` and ``high``
    are the extreme marks after any event, from ``start``.
    """
    low = high = start
    rounds = 0
    seen: list[Record] = []
    for event in opening:
        before = state
        state, records = process_event(state, event)
        observe(before, state, event, records)
        seen.extend(records)
        low, high = min(low, state.markets[symbol].mark), max(high, state.markets[symbol].mark)
    price = get_fill_price(seen)
    while price is not None and price != state.markets[symbol].last_trade:
        event = TradeUpdate(symbol, price)
        before = state
        state, records = process_event(state, event)
        observe(before, state, event, records)
        rounds += 1
        low, high = min(low, state.markets[symbol].mark), max(high, state.markets[symbol].mark)
        price = get_fill_price(records)
    return state, rounds, low, high


# --- one run (STRESS-4, STRESS-5) ---------------------------------------------------------------


@frozen
class RunResult:
    """One run's figures (STRESS-5); amounts in settlement quantums, prices in ticks."""

    run: int
    seed: int
    liquidated_accounts: int
    liquidated_long: int
    liquidated_short: int
    bad_debt: int
    adl_count: int
    adl_notional: int
    fund_start: int
    fund_end: int
    fund_low: int
    fund_drawdown: int
    exhausted: bool
    max_rounds: int
    cascade_steps: int
    """Steps in which liquidations printed at least one trade."""
    max_impact: Fraction
    """The largest |mark - index| / index seen in a step."""
    mark_low: int = 0
    mark_high: int = 0
    """The lowest and highest marks after any event of the run, in ticks."""
    liquidated_by_tier: tuple[int, ...] = ()
    closes_by_tier: tuple[int, ...] = ()
    """Per tier of the position closed: notional closed, and the steps and takeovers."""
    fund_income: int = 0
    fund_paid: int = 0
    adl_covered: int = 0
    socialized: int = 0
    """The loss waterfall: fees and takeover gains paid into the fund; deficits paid by it,
    covered by ADL shares, socialized; what is left is ``bad_debt``."""
    steps: tuple[StepResult, ...] = ()
    level_maps: tuple[tuple[int, LevelMap], ...] = ()
    """With the steps: (time, liquidation map) at the end of sampled steps (STRESS-5)."""

    @property
    def liquidated(self) -> int:
        """Return the notional closed by liquidation, both sides."""
        return self.liquidated_long + self.liquidated_short


def get_population_csv(plan: StressPlan) -> str:
    """Return the plan's population as BT-2 CSV: drawn once, with the seed of run -1 (STRESS-4)."""
    start = _start_ticks(plan)
    return generate_population(plan.market, start, plan.population, get_run_seed(plan.seed, -1))


def get_population(plan: StressPlan) -> tuple[Unit, ...]:
    """Return the plan's population as units (STRESS-4, BT-2)."""
    return parse_population(get_population_csv(plan), {plan.market.symbol: plan.market})


def get_path_csv(plan: StressPlan, run: int) -> str:
    """Return run ``run``'s index path as BT-1 CSV (STRESS-4)."""
    times, ticks = generate_path(plan.market, plan.path, get_run_seed(plan.seed, run))
    return path_csv(plan.market, times, ticks)


def _start_ticks(plan: StressPlan) -> int:
    return to_units(plan.path.start, plan.market.price_tick, "path.start", "price tick")


def build_run_state(plan: StressPlan, units: tuple[Unit, ...], time: int, index: int) -> State:
    """Return the state before a run's first step: the units, the fund, the mark at the index."""
    market = plan.market
    entry = MarketState(
        market, index, reference=index, history=((time, index),), last_adjust=time,
        preempt_time=time,
    )  # fmt: skip
    accounts = {u.id: AccountState(u.id, u.asset, u.wallet, u.positions) for u in units}
    return State(time, {market.symbol: entry}, accounts, {market.fund: plan.fund})


def process_run(
    plan: StressPlan,
    units: tuple[Unit, ...],
    run: int,
    *,
    keep_steps: bool = False,
    keep_levels: bool = False,
    trace: Tracer | None = None,
) -> RunResult:
    """Run ``run`` of ``plan`` on ``units`` through the engine (STRESS-3..STRESS-5).

    ``keep_steps`` keeps each step's figures; ``keep_levels`` samples the liquidation map at
    the end of about :data:`MAP_COLUMNS` evenly spaced steps, the first and last included.
    """
    seed = get_run_seed(plan.seed, run)
    times, ticks = generate_path(plan.market, plan.path, seed)
    market, ladder = plan.market, plan.ladder
    start = _start_ticks(plan)
    state = build_run_state(plan, units, int(times[0]), int(ticks[0]))
    tally = Tally(market, plan.fund, int(ticks[0]))
    full = tuple(get_full_depth(ladder, k) for k in range(1, ladder.levels + 1))
    depths = (full, full)
    steps: list[StepResult] = []
    level_maps: list[tuple[int, LevelMap]] = []
    cache: LevelCache = {}
    sample = -(-len(times) // MAP_COLUMNS)
    step = 0  # the step being run, read by observe

    def observe(before: State, after: State, event: Event, records: tuple[Record, ...]) -> None:
        tally.add(before, after, records)
        if trace is not None:
            trace(step, event, after, records)

    for step, (time, index) in enumerate(zip(times.tolist(), ticks.tolist(), strict=True)):
        baselines = [get_baseline_depth(ladder, start, index, k) for k in range(1, len(full) + 1)]
        depths = (
            tuple(
                refill(d, b, ladder.resilience) for d, b in zip(depths[0], baselines, strict=True)
            ),
            tuple(
                refill(d, b, ladder.resilience) for d, b in zip(depths[1], baselines, strict=True)
            ),
        )
        long_before, short_before = tally.long, tally.short
        state, rounds, low, high = process_cascade_step(
            state, ladder, depths, time, index, observe=observe
        )
        depths = get_remaining(
            ladder, index, state.markets[market.symbol].book, depths, market.max_price
        )
        tally.step_done(index, rounds, low, high)
        if keep_steps:
            steps.append(
                StepResult(
                    time, index, state.markets[market.symbol].mark, low, high, rounds,
                    tally.long - long_before, tally.short - short_before, tally.fund,
                )
            )  # fmt: skip
        if keep_levels and (step % sample == 0 or step == len(times) - 1):
            level_maps.append((time, get_liquidation_levels(state, market.symbol, cache)))
    return RunResult(
        run=run,
        seed=seed,
        liquidated_accounts=len(tally.accounts),
        liquidated_long=tally.long,
        liquidated_short=tally.short,
        bad_debt=tally.bad_debt,
        adl_count=tally.adl_count,
        adl_notional=tally.adl_notional,
        fund_start=plan.fund,
        fund_end=tally.fund,
        fund_low=tally.fund_low,
        fund_drawdown=tally.drawdown,
        exhausted=tally.exhausted,
        max_rounds=tally.max_rounds,
        cascade_steps=tally.cascade_steps,
        max_impact=tally.impact,
        mark_low=tally.mark_low,
        mark_high=tally.mark_high,
        liquidated_by_tier=tuple(tally.by_tier),
        closes_by_tier=tuple(tally.closes_by_tier),
        fund_income=tally.fund_income,
        fund_paid=tally.fund_paid,
        adl_covered=tally.adl_covered,
        socialized=tally.socialized,
        steps=tuple(steps),
        level_maps=tuple(level_maps),
    )
