"""Property tests of the ``optimal`` policy (spec/07-liquidation.md#LIQ-11).

The policy's target is checked against a brute-force minimiser written here from the spec's
words: walk the book, price every lot count from the health target to the position, take the
least cost, ties the fewest lots. Then its guarantees: the target lies between the health
target and the position; it never falls as volatility, risk aversion or the horizon rise
(INV-OPTIMAL-MONOTONE); with no weight and no fill better than the mark it is the health
target.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import attrs
from hypothesis import assume, given
from hypothesis import strategies as st

from liqspec import load_market
from liqspec.base.conventions import Ratio
from liqspec.engine.execution import get_optimal_sizing, get_target_size
from liqspec.engine.risk import get_volatility
from liqspec.engine.state import AccountState, Book, Level, MarketState, State, apply_fill
from liqspec.model.margin import get_unrealized_pnl
from liqspec.model.markets import Market, Policy, get_value
from tests.data import MARKETS

BINANCE = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")
COIN_M = load_market(MARKETS / "binance-btcusd-coinm-2024.toml")
MARK = 600_000  # 60,000.0 USDT in ticks of 0.1


@st.composite
def situations(draw: st.DrawFn, market: Market = BINANCE) -> tuple[State, int]:
    """A market under ``optimal`` with a random book, history and account; the impact limit."""
    aversion = Ratio.of(draw(st.integers(0, 10**5)), 10**10)  # up to 1e-5 per USDT per second
    params = attrs.evolve(
        market.liquidation,
        policy=Policy.OPTIMAL,
        risk_aversion=aversion,
        cooldown=draw(st.integers(0, 60)),
    )
    market = attrs.evolve(market, liquidation=params, risk=attrs.evolve(market.risk, vol_window=3))
    side = draw(st.sampled_from([1, -1]))
    size = draw(st.integers(1, 3000))  # lots
    impact = MARK - side * draw(st.integers(0, 6_000))
    prices = draw(st.lists(st.integers(-2_000, 7_000), max_size=5, unique=True))
    levels = tuple(
        Level(MARK - side * offset, draw(st.integers(1, 1500)))
        for offset in sorted(prices)  # best first: the highest bid, the lowest ask
    )
    book = Book(levels, ()) if side > 0 else Book((), levels)
    history = tuple(
        (t, MARK + draw(st.integers(-20_000, 20_000)))
        for t in range(draw(st.sampled_from([0, 4, 5, 6, 8])))
    )
    entry = MarketState(market, MARK, book, history=history)
    account = AccountState("a", market.settle_asset, 0)
    account = apply_fill(account, market, side * size, MARK + side * draw(st.integers(0, 5000)))
    loss = -get_unrealized_pnl(market, account.positions[0], MARK)
    balance = loss + get_value(market, size, MARK) * draw(st.integers(0, 2000)) // 100_000
    account = attrs.evolve(account, balance=balance)
    return State(0, {market.symbol: entry}, {"a": account}, {}), impact


def brute_force(state: State, impact: int) -> int:
    """The least minimiser of LIQ-11's cost over every lot count from d0 to q."""
    account = state.accounts["a"]
    position = account.positions[0]
    entry = state.markets[position.market]
    market, size, selling = entry.market, position.size, position.side > 0
    health = attrs.evolve(
        market, liquidation=attrs.evolve(market.liquidation, policy=Policy.HEALTH)
    )
    health_state = attrs.evolve(state, markets={market.symbol: attrs.evolve(entry, market=health)})
    minimum = get_target_size(health_state, account, 0, impact)
    prices: list[int] = []  # the price of each lot, best first, the rest at the impact limit
    for level in entry.book.bids if selling else entry.book.asks:
        if level.price < impact if selling else level.price > impact:
            break
        prices.extend([level.price] * level.size)
    prices = (prices + [impact] * size)[:size]
    sigma = get_volatility(entry.history, market.risk.vol_window) or 0
    lam = market.liquidation.risk_aversion
    quantum = market.settle_quantum
    weight = (
        Fraction(lam.num, lam.den)
        * Fraction(quantum.num, quantum.den)
        * Fraction(sigma, 10**6) ** 2
        * market.liquidation.cooldown
    )
    mark = entry.mark

    filled = [0]  # filled[d]: the value of the first d lots at their prices, one by one
    for price in prices:
        filled.append(filled[-1] + get_value(market, 1, price))

    def cost(lots: int) -> Fraction:
        shortfall = (get_value(market, lots, mark) - filled[lots]) * (1 if selling else -1)
        return shortfall + weight * get_value(market, size - lots, mark) ** 2

    return min(range(minimum, size + 1), key=lambda d: (cost(d), d))


@given(situations())
def test_linear_choice_is_the_least_minimiser_over_every_lot(case: tuple[State, int]) -> None:
    state, impact = case
    sizing = get_optimal_sizing(state, state.accounts["a"], 0, impact)
    assert sizing.chosen == brute_force(state, impact)


@given(st.one_of(situations(), situations(COIN_M)))
def test_choice_lies_between_the_health_target_and_the_position(case: tuple[State, int]) -> None:
    state, impact = case
    account = state.accounts["a"]
    sizing = get_optimal_sizing(state, account, 0, impact)
    assert sizing.minimum <= sizing.chosen <= account.positions[0].size
    lots = [lots for lots, _, _ in sizing.considered]
    assert lots == sorted(set(lots))
    assert sizing.chosen in lots


def _with(state: State, **changes: Any) -> State:
    ((symbol, entry),) = state.markets.items()
    market = entry.market
    params = attrs.evolve(market.liquidation, **changes)
    return attrs.evolve(
        state,
        markets={symbol: attrs.evolve(entry, market=attrs.evolve(market, liquidation=params))},
    )


@given(situations(), st.integers(0, 100), st.integers(0, 60))
def test_more_risk_aversion_or_horizon_never_liquidates_more_slowly(
    case: tuple[State, int], scale: int, extra: int
) -> None:
    state, impact = case
    params = next(iter(state.markets.values())).market.liquidation
    lam = params.risk_aversion
    bolder = _with(state, risk_aversion=Ratio.of(lam.num * scale, lam.den))
    longer = _with(state, cooldown=params.cooldown + extra)
    account = state.accounts["a"]
    chosen = get_optimal_sizing(state, account, 0, impact).chosen
    if scale >= 1:
        assert get_optimal_sizing(bolder, account, 0, impact).chosen >= chosen
    else:
        assert get_optimal_sizing(bolder, account, 0, impact).chosen <= chosen
    assert get_optimal_sizing(longer, account, 0, impact).chosen >= chosen


@given(situations(), st.integers(1, 20))
def test_higher_volatility_never_liquidates_more_slowly(case: tuple[State, int], k: int) -> None:
    """Stretch every return of the history by k: sigma grows, nothing else changes."""
    state, impact = case
    ((symbol, entry),) = state.markets.items()
    assume(len(entry.history) >= 4)
    first = entry.history[0][1]
    stretched = tuple((t, max(1, first + k * (p - first))) for t, p in entry.history)
    calm, wild = (get_volatility(h, 3) or 0 for h in (entry.history, stretched))
    assume(wild >= calm)
    state_wild = attrs.evolve(state, markets={symbol: attrs.evolve(entry, history=stretched)})
    account = state.accounts["a"]
    low = get_optimal_sizing(state, account, 0, impact)
    high = get_optimal_sizing(state_wild, account, 0, impact)
    assert (low.volatility_ppm, high.volatility_ppm) == (calm, wild)
    assert high.chosen >= low.chosen


@given(st.one_of(situations(), situations(COIN_M)))
def test_fills_no_better_than_the_mark_never_cost_less_than_nothing(
    case: tuple[State, int],
) -> None:
    """I(d) >= 0 when no expected fill beats the mark: the sign of LIQ-11, linear and inverse."""
    state, impact = _without_better_fills(*case)
    sizing = get_optimal_sizing(state, state.accounts["a"], 0, impact)
    assert all(cost >= 0 for _, cost, _ in sizing.considered)


def _without_better_fills(state: State, impact: int) -> tuple[State, int]:
    """Drop the levels that beat the mark (the impact limit never does)."""
    ((symbol, entry),) = state.markets.items()
    selling = state.accounts["a"].positions[0].side > 0
    levels = entry.book.bids if selling else entry.book.asks
    worse = tuple(
        level
        for level in levels
        if (level.price <= entry.mark if selling else level.price >= entry.mark)
    )
    book = Book(worse, ()) if selling else Book((), worse)
    return attrs.evolve(state, markets={symbol: attrs.evolve(entry, book=book)}), impact


@given(situations())
def test_without_weight_and_without_better_fills_it_is_the_health_target(
    case: tuple[State, int],
) -> None:
    state, impact = _without_better_fills(*case)
    state = _with(state, risk_aversion=Ratio(0, 1))
    sizing = get_optimal_sizing(state, state.accounts["a"], 0, impact)
    assert sizing.chosen == sizing.minimum
    assert all(risk == 0 and cost >= 0 for _, cost, risk in sizing.considered)
