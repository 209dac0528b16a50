"""The backtest's semantics and its two routes (spec/14-backtest.md, BT-4 to BT-7).

A backtest *is* an engine replay: :func:`build_state` and :func:`get_events` turn the inputs
into a state and events (BT-4), and :func:`run_engine` feeds them to ``process_event``.

:func:`run_fast` reaches the same ledger without visiting every mark for every unit (BT-6):
inside its domain each unit holds one position, its parameters never change, no book fills
anything and units meet only through the insurance fund. Then a unit's liquidation price
(PRICE-2) splits the marks in two, the first mark on the wrong side is found for all units at
once by a running minimum or maximum of the path and a binary search, and only the events at
which some unit crosses are handed to the engine, holding just those units and the funds.
Where the fund runs short (ADL or socialization would reach other units) the fast path stops
and says so.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction

import attrs
import numpy as np
import numpy.typing as npt
from attrs import frozen

from liqspec.backtest.inputs import MarkPath, Unit
from liqspec.base.errors import InputError, Reason
from liqspec.engine.insurance import get_fund_payment
from liqspec.engine.records import (
    BadDebt,
    Deleveraged,
    FundChange,
    LiquidationEnded,
    LiquidationStarted,
    Record,
    Takeover,
)
from liqspec.engine.state import (
    AccountState,
    Clock,
    Event,
    MarketState,
    MarkUpdate,
    State,
    get_unit,
)
from liqspec.engine.transition import process_event
from liqspec.model.accounts import MarginUnit, Position
from liqspec.model.margin import get_close_fee_estimate, get_equity, get_maintenance_requirement
from liqspec.model.markets import (
    BreakerParams,
    ContractKind,
    Deleveraging,
    Market,
    MarkSource,
    OnUnfilled,
    Tier,
    TierMode,
    Valuation,
    get_value,
)
from liqspec.model.prices import (
    PriceResult,
    PriceStatus,
    get_bankruptcy_price,
    get_liquidation_price,
    is_liquidatable_at,
)

_COVER = {
    Deleveraging.ADL: "ADL",
    Deleveraging.SOCIALIZE: "socialization",
    Deleveraging.BILATERAL: "bilateral deleveraging",
}
"""How a deficit beyond the fund reaches others (INS-4, INS-5, INS-7), for the message."""

__all__ = [
    "Backtest",
    "Close",
    "FundMove",
    "Result",
    "build_state",
    "get_events",
    "get_fast_path_obstacles",
    "get_start_prices",
    "make_backtest",
    "run",
    "run_engine",
    "run_fast",
]

Progress = Callable[[int], None]
"""Called with the number of path points done so far."""


@frozen
class Backtest:
    """Everything a backtest reads (BT-1..BT-3): markets, one path per market, units, funds."""

    markets: Mapping[str, Market]
    paths: Mapping[str, MarkPath]
    units: tuple[Unit, ...]
    funds: Mapping[str, int]

    @property
    def times(self) -> npt.NDArray[np.int64]:
        """Return the path's times, shared by every market (BT-1)."""
        return next(iter(self.paths.values())).times


@frozen
class Close:
    """A position closed by the procedure (BT-5): a takeover at ``price``, the mark at ``mark``.

    ``gain`` is the fund's result; negative, it is the loss beyond bankruptcy. ``residual``
    is the negative balance a takeover at the mark leaves on a unit with no position left.
    """

    point: int
    unit: str
    market: str
    size: int
    mark: int
    price: int
    gain: int
    residual: int = 0

    @property
    def shortfall(self) -> int:
        """Return the loss beyond bankruptcy: the deficit this close hands to INS-1..INS-6."""
        return max(0, -self.gain) + self.residual


@frozen
class FundMove:
    """A change of an insurance fund's balance (BT-5), as INS-2 records it."""

    point: int
    fund: str
    delta: int
    balance: int
    cause: str


@frozen
class Result:
    """What a route found (BT-5), in the order the engine produces it, and which route ran.

    ``flags`` and ``ends`` are the units entering and leaving liquidation (LIQ-2), ``open``
    those still in liquidation when the path ends (LIQ-1, LIQ-2),
    ``deleveraged`` ADL's reductions ``(point, unit, market, lots)`` and ``bad_debt``
    ``(point, unit, amount)`` (INS-4, INS-6).
    """

    route: str
    reasons: tuple[str, ...] = ()
    flags: tuple[tuple[int, str], ...] = ()
    ends: tuple[tuple[int, str], ...] = ()
    closes: tuple[Close, ...] = ()
    moves: tuple[FundMove, ...] = ()
    deleveraged: tuple[tuple[int, str, str, int], ...] = ()
    bad_debt: tuple[tuple[int, str, int], ...] = ()
    open: tuple[str, ...] = ()

    def get_facts(self) -> tuple[object, ...]:
        """Return what both routes must agree on: everything but the route and reasons."""
        return (
            self.flags, self.ends, self.closes, self.moves, self.deleveraged, self.bad_debt,
            self.open,
        )  # fmt: skip


def make_backtest(
    markets: Mapping[str, Market],
    paths: Mapping[str, MarkPath],
    units: tuple[Unit, ...],
    funds: Mapping[str, int],
) -> Backtest:
    """Check that the inputs fit together (BT-1..BT-3) and bundle them."""
    for symbol, market in markets.items():
        if symbol not in paths:
            raise InputError(
                Reason.MISSING_MARK, f"path.{symbol}", None, "every market needs a path"
            )
        if market.mark.source is not MarkSource.EVENT:
            detail = "a backtest feeds marks; this market derives its own (MARK-1)"
            raise InputError(
                Reason.MARK_DERIVED, f"market.{symbol}", market.mark.source.value, detail
            )
    first = next(iter(paths.values()))
    for symbol, path in paths.items():
        if symbol not in markets:
            raise InputError(
                Reason.UNKNOWN_MARKET, f"path.{symbol}", symbol, "no market file for it"
            )
        if not np.array_equal(path.times, first.times):
            raise _other_times(path, first)
    assets: dict[str, Market] = {}
    for symbol, market in markets.items():
        other = assets.setdefault(market.settle_asset, market)
        if other.settle_quantum != market.settle_quantum:
            detail = f"{other.symbol} settles {other.settle_asset} in another quantum"
            raise InputError(Reason.CROSS_INCOMPATIBLE, f"market.{symbol}", symbol, detail)
    for fund in funds:
        if not any(market.fund == fund for market in markets.values()):
            raise InputError(
                Reason.UNKNOWN_FUND, f"fund.{fund}", fund, "no loaded market draws on it"
            )
    return Backtest(dict(sorted(markets.items())), dict(sorted(paths.items())), units, funds)


def _other_times(path: MarkPath, first: MarkPath) -> InputError:
    """Name the first line at which ``path``'s times leave ``first``'s (BT-1)."""
    shared = min(len(path.times), len(first.times))
    differ = np.flatnonzero(path.times[:shared] != first.times[:shared])
    index = int(differ[0]) if len(differ) else shared
    field = f"path.{path.market}: line {index + 2}: time"
    value = int(path.times[index]) if index < len(path.times) else None
    expected = int(first.times[index]) if index < len(first.times) else "no line"
    detail = f"every path has the times of {first.market}'s path, which has {expected} here"
    return InputError(Reason.OUT_OF_RANGE, field, value, detail)


# --- the semantics: a state and events --------------------------------------------------------


def build_state(backtest: Backtest) -> State:
    """Return the state at the path's first time: first marks, no books, units (BT-4)."""
    time = int(backtest.times[0])
    markets = {
        symbol: MarketState(
            market, int(path.ticks[0]), reference=int(path.ticks[0]),
            history=((time, int(path.ticks[0])),), last_adjust=time, preempt_time=time,
        )
        for symbol, path in backtest.paths.items()
        for market in (backtest.markets[symbol],)
    }  # fmt: skip
    accounts = {unit.id: _account(unit) for unit in backtest.units}
    return State(time, markets, accounts, _starting_funds(backtest))


def _starting_funds(backtest: Backtest) -> dict[str, int]:
    """Return every fund a market draws on, with its starting balance (BT-3)."""
    return {m.fund: backtest.funds.get(m.fund, 0) for m in backtest.markets.values()}


def _account(unit: Unit) -> AccountState:
    return AccountState(unit.id, unit.asset, unit.wallet, unit.positions)


def get_events(backtest: Backtest) -> Iterator[tuple[int, Event]]:
    """Point 0: a clock event at the first time; point i: its clock, then each mark (BT-4)."""
    times = backtest.times
    ticks = {symbol: path.ticks.tolist() for symbol, path in backtest.paths.items()}
    yield 0, Clock(int(times[0]))
    for i in range(1, len(times)):
        yield i, Clock(int(times[i]))
        for symbol, marks in ticks.items():
            yield i, MarkUpdate(symbol, marks[i])


def run_engine(backtest: Backtest, progress: Progress | None = None) -> Result:
    """Replay the backtest through ``process_event``: the definition (BT-4, BT-5)."""
    state = build_state(backtest)
    facts = _Facts()
    done = 0
    for point, event in get_events(backtest):
        state, records = process_event(state, event)
        for record in records:
            facts.add(point, record)
        if progress is not None and point != done:
            done = point
            progress(point)
    # LIQ-2: an account is flagged exactly while it is in liquidation
    facts.open = [account.id for account in state.accounts.values() if account.liquidating]
    return facts.result("engine")


class _Facts:
    """Collects the facts of BT-5 from engine records."""

    def __init__(self) -> None:
        self.flags: list[tuple[int, str]] = []
        self.ends: list[tuple[int, str]] = []
        self.closes: list[Close] = []
        self.moves: list[FundMove] = []
        self.deleveraged: list[tuple[int, str, str, int]] = []
        self.bad_debt: list[tuple[int, str, int]] = []
        self.open: list[str] = []

    def add(self, point: int, record: Record) -> None:
        if isinstance(record, LiquidationStarted):
            self.flags.append((point, record.account))
        elif isinstance(record, LiquidationEnded):
            self.ends.append((point, record.account))
        elif isinstance(record, Takeover):
            last = record.maintenance_after == 0  # no leg left: MM is positive for any leg
            residual = max(0, -record.equity_after) if last else 0
            self.closes.append(
                Close(point, record.account, record.market, record.size, record.mark,
                      record.price, record.fund_delta, residual)
            )  # fmt: skip
        elif isinstance(record, FundChange):
            self.moves.append(FundMove(point, record.fund, record.delta, record.balance,
                                       record.cause))  # fmt: skip
        elif isinstance(record, Deleveraged):
            self.deleveraged.extend(
                (point, share.account, record.market, share.size) for share in record.allocations
            )
        elif isinstance(record, BadDebt):
            self.bad_debt.append((point, record.account, record.amount))

    def result(self, route: str, reasons: tuple[str, ...] = ()) -> Result:
        return Result(route, reasons, tuple(self.flags), tuple(self.ends), tuple(self.closes),
                      tuple(self.moves), tuple(self.deleveraged), tuple(self.bad_debt),
                      tuple(sorted(self.open)))  # fmt: skip


# --- the fast path -----------------------------------------------------------------------------


def get_fast_path_obstacles(backtest: Backtest) -> tuple[str, ...]:
    """Why the fast path does not apply, or () when it does (BT-6)."""
    reasons = []
    several = [u.id for u in backtest.units if len(u.positions) > 1]
    if several:
        reasons.append(f"{len(several)} cross unit(s) hold several positions (e.g. {several[0]})")
    for symbol, market in backtest.markets.items():
        if not _is_half_line(market):
            reasons.append(
                f"{symbol} has step tiers: its liquidatable marks need not be a half-line (PRICE-3)"
            )
        if market.risk.vol_window:
            reasons.append(f"{symbol} adjusts its risk parameters (RISK-1)")
        if _has_breakers(market.breakers):
            reasons.append(f"{symbol} has circuit breakers (BRK-1)")
        if market.liquidation.on_unfilled is not OnUnfilled.TAKEOVER:
            reasons.append(f"{symbol} waits when nothing fills (LIQ-9)")
        if market.liquidation.adl_drawdown.num:
            reasons.append(f"{symbol} stops its fund at a drawdown floor (INS-8)")
    return tuple(reasons)


def _has_breakers(params: BreakerParams) -> bool:
    return bool(
        params.band.num or params.halt_levels or params.dynamic_move.num
        or params.divergence.num or params.stale_after or params.withdrawal_block
    )  # fmt: skip


def run_fast(
    backtest: Backtest, prices: Mapping[tuple[str, str], PriceResult] | None = None
) -> Result:
    """Find the engine's facts from first passages, visiting only crossing events (BT-6).

    A result with ``reasons`` says why the fast path does not apply, or where it stopped.
    """
    obstacles = get_fast_path_obstacles(backtest)
    if obstacles:
        return Result("fast-path", obstacles)
    crossings = _first_crossings(backtest, prices or get_start_prices(backtest))
    funds = _starting_funds(backtest)
    facts = _Facts()
    for (point, _), units in sorted(crossings.items()):
        marks = {s: MarketState(backtest.markets[s], int(p.ticks[point]))
                 for s, p in backtest.paths.items()}  # fmt: skip
        event = State(int(backtest.times[point]), marks, {}, {})
        stop = _take_over_all(event, point, [_account(u) for u in units], funds, facts)
        if stop:
            return facts.result("fast-path", (stop,))
    return facts.result("fast-path")


def _take_over_all(
    event: State, point: int, accounts: list[AccountState], funds: dict[str, int], facts: _Facts
) -> str:
    """Liquidate one event's units: queue order (LIQ-3), each a takeover (LIQ-9), fund-covered.

    Return why the fast path must stop (the fund cannot cover, INS-2), or ''.
    """
    queue = []
    for account in accounts:
        unit = get_unit(event, account)
        equity, maintenance = get_equity(unit), get_maintenance_requirement(unit)
        queue.append((Fraction(equity, maintenance), account.id, unit))
    for _, account_id, unit in sorted(queue, key=lambda entry: entry[:2]):
        leg = unit.legs[0]
        market, mark, position = leg.market, leg.mark, leg.position
        quote = _get_whole_quote(unit)
        if quote is None:
            return f"{account_id} is bankrupt at every price at time {event.time} (LIQ-9)"
        facts.flags.append((point, account_id))
        direction = int(position.side) * (1 if market.contract is ContractKind.LINEAR else -1)
        gain = direction * (get_value(market, position.size, mark)
                            - get_value(market, position.size, quote))  # fmt: skip
        facts.closes.append(
            Close(point, account_id, market.symbol, position.size, mark, quote, gain)
        )
        fund = funds[market.fund]
        if gain > 0:
            funds[market.fund] = fund + gain
            facts.moves.append(FundMove(point, market.fund, gain, fund + gain, "takeover"))
        elif gain < 0:
            paid = get_fund_payment(-gain, fund, market.liquidation.insurance_step_cap)
            if paid < -gain:
                cover = _COVER[market.liquidation.deleveraging]
                time = event.time
                return f"the insurance fund runs short at time {time}: {cover} would reach others"
            funds[market.fund] = fund - paid
            facts.moves.append(FundMove(point, market.fund, -paid, fund - paid, "deficit"))
        facts.ends.append((point, account_id))
    return ""


def _get_whole_quote(unit: MarginUnit) -> int | None:
    """Return LIQ-6's quote for a unit's whole, last position: PRICE-5's bankruptcy price.

    That is where E' >= 0 begins; the worst grid price if equity is never negative, none if
    it always is.
    """
    found = get_bankruptcy_price(unit, 0)
    if found.status is PriceStatus.ALWAYS:
        return None
    if found.status is PriceStatus.NEVER:
        return 1 if unit.legs[0].position.side > 0 else unit.legs[0].market.max_price
    return found.price


def get_start_prices(backtest: Backtest) -> dict[tuple[str, str], PriceResult]:
    """Return each position's liquidation price at the first marks, the others held (PRICE-2).

    For a one-position unit on a market whose liquidatable marks form a half-line (PRICE-3:
    continuous tiers, a single tier, or entry valuation), a closed-form guess is checked
    exactly: a price at which the unit is liquidatable while one tick safer it is not *is*
    the liquidation price. Where the check fails, and everywhere else, the search of PRICE-3
    decides.
    """
    state = build_state(backtest)
    guesses = _guess_prices(backtest)
    prices = {}
    for unit in backtest.units:
        margin_unit = get_unit(state, state.accounts[unit.id])
        for index, position in enumerate(unit.positions):
            guess = guesses.get(unit.id)
            if guess is not None and _is_boundary(margin_unit, guess):
                prices[(unit.id, position.market)] = PriceResult(PriceStatus.AT, guess)
            else:
                prices[(unit.id, position.market)] = get_liquidation_price(margin_unit, index)
    return prices


def _is_boundary(unit: MarginUnit, price: int) -> bool:
    safer = price + int(unit.legs[0].position.side)
    top = unit.legs[0].market.max_price
    return (
        1 <= price <= top and 1 <= safer <= top
        and is_liquidatable_at(unit, 0, price) and not is_liquidatable_at(unit, 0, safer)
    )  # fmt: skip


def _is_half_line(market: Market) -> bool:
    """PRICE-3: the liquidatable marks of one position form a half-line on this market."""
    return (
        market.tier_mode is TierMode.CONTINUOUS or len(market.tiers) == 1
        or market.margin_valuation is Valuation.ENTRY
    )  # fmt: skip


def _guess_prices(backtest: Backtest) -> dict[str, int]:
    """Guess one-position units' liquidation prices in floating point, all at once.

    Per tier, the root of E = MM with the tier's rate and amount; the tier whose notional range
    holds its root is the guess. Only a guess: :func:`get_start_prices` checks each exactly.
    """
    guesses: dict[str, int] = {}
    for symbol, market in backtest.markets.items():
        units = [
            u for u in backtest.units if len(u.positions) == 1 and u.positions[0].market == symbol
        ]
        if not units or not _is_half_line(market):
            continue
        roots = _roots(market, units)
        sides = np.array([int(u.positions[0].side) for u in units])
        with np.errstate(invalid="ignore"):
            ticks = np.where(sides > 0, np.floor(roots), np.ceil(roots))
            usable = np.isfinite(ticks) & (ticks >= 1) & (ticks <= market.max_price)
        for unit, tick, ok in zip(units, ticks.tolist(), usable.tolist(), strict=True):
            if ok:
                guesses[unit.id] = int(tick)
    return guesses


def _guess_rates(
    market: Market, tier: Tier, positions: list[Position]
) -> npt.NDArray[np.float64] | float:
    """Return the tier's mmr, or each position's size-linear rate (MARGIN-13), in floats."""
    if market.table.size_rate is None:
        return tier.mmr.num / tier.mmr.den
    base, per_lot, cap, den = market.table.size_rate
    sizes = np.array([p.size for p in positions], dtype=np.float64)
    rates: npt.NDArray[np.float64] = np.minimum(base + per_lot * sizes, cap) / den
    return rates


def _roots(market: Market, units: list[Unit]) -> npt.NDArray[np.float64]:
    """Return the real root of E = MM per unit, NaN where no tier's range holds it."""
    positions = [u.positions[0] for u in units]
    side = np.array([int(p.side) for p in positions], dtype=np.float64)
    scale = np.array([p.size * market.value_factor for p in positions], dtype=np.float64)
    entry = np.array([p.entry_value for p in positions], dtype=np.float64)
    wallet = np.array([u.wallet for u in units], dtype=np.float64)
    fee = np.array([get_close_fee_estimate(market, p) for p in positions], dtype=np.float64)
    multiplier = market.risk_multiplier.num / market.risk_multiplier.den
    linear = market.contract is ContractKind.LINEAR
    roots = np.full(len(units), np.nan)
    for i, tier in enumerate(market.tiers):
        rate = multiplier * _guess_rates(market, tier, positions)
        amount = multiplier * (
            tier.maintenance_amount if market.tier_mode is TierMode.CONTINUOUS else 0
        )
        cap = np.inf if i == len(market.tiers) - 1 else tier.cap
        with np.errstate(divide="ignore", invalid="ignore"):
            if market.margin_valuation is Valuation.ENTRY:
                maintenance = rate * entry - amount + fee
                value = entry
                price = (
                    (maintenance - wallet + side * entry) / (side * scale) if linear
                    else scale / ((wallet + side * entry - maintenance) / side)
                )  # fmt: skip
            elif linear:
                price = (fee - amount - wallet + side * entry) / (scale * (side - rate))
                value = scale * price
            else:
                value = (wallet + side * entry + amount - fee) / (side + rate)
                price = scale / value
            held = (value >= tier.floor) & (value < cap) & np.isnan(roots)
        roots = np.where(held, price, roots)
    return roots


def _first_crossings(
    backtest: Backtest, prices: Mapping[tuple[str, str], PriceResult]
) -> dict[tuple[int, int], list[Unit]]:
    """Group units by the event at which they first enter liquidation (BT-6).

    Key: (path point, the market's place in symbol order); point 0 is one event for all.
    """
    order = {symbol: i for i, symbol in enumerate(backtest.markets)}
    by_market: dict[str, list[tuple[Unit, int, int]]] = defaultdict(list)
    for unit in backtest.units:
        symbol = unit.positions[0].market
        top = backtest.markets[symbol].max_price
        side = int(unit.positions[0].side)
        found = prices[(unit.id, symbol)]
        if found.status is PriceStatus.AT:
            threshold = int(found.price or 0)
        else:  # NEVER: beyond the adverse end; ALWAYS: beyond the safe end
            never = found.status is PriceStatus.NEVER
            threshold = (0 if never else top + 1) if side > 0 else (top + 1 if never else 0)
        by_market[symbol].append((unit, side, threshold))
    crossings: dict[tuple[int, int], list[Unit]] = defaultdict(list)
    for symbol, entries in by_market.items():
        points = _first_points(backtest.paths[symbol].ticks, entries)
        for (unit, _, _), point in zip(entries, points.tolist(), strict=True):
            if point < len(backtest.times):
                crossings[(point, 0 if point == 0 else 1 + order[symbol])].append(unit)
    return crossings


def _first_points(
    ticks: npt.NDArray[np.int64], entries: list[tuple[Unit, int, int]]
) -> npt.NDArray[np.int64]:
    """Return the first path point at or beyond each unit's threshold, or len(path)."""
    sides = np.array([side for _, side, _ in entries], dtype=np.int64)
    thresholds = np.array([t for _, _, t in entries], dtype=np.int64)
    lows = -np.minimum.accumulate(ticks)  # non-decreasing
    highs = np.maximum.accumulate(ticks)  # non-decreasing
    long_points = np.searchsorted(lows, -thresholds, side="left")
    short_points = np.searchsorted(highs, thresholds, side="left")
    return np.where(sides > 0, long_points, short_points)


def run(
    backtest: Backtest,
    *,
    engine: bool = False,
    progress: Progress | None = None,
    prices: Mapping[tuple[str, str], PriceResult] | None = None,
) -> Result:
    """Run the fast path where it applies, else the engine, saying why (BT-7)."""
    reasons: tuple[str, ...] = ("asked for",)
    if not engine:
        fast = run_fast(backtest, prices)
        if not fast.reasons:
            return fast
        reasons = fast.reasons
    return attrs.evolve(run_engine(backtest, progress), reasons=reasons)
