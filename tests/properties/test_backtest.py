"""The backtest's fast path finds the engine's facts (spec/14-backtest.md, BT-6, BT-7).

Seeded populations and paths, on linear and inverse markets, one or two markets sharing a
fund or not, paths that gap through bankruptcy prices, and funds from empty to ample: where
the fast path applies its facts equal the engine's, and where it stops (the fund runs short)
what it found is a prefix of the engine's.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from liqspec.backtest.inputs import parse_path, parse_population
from liqspec.backtest.routes import (
    Backtest,
    build_state,
    get_fast_path_obstacles,
    get_start_prices,
    make_backtest,
    run,
    run_engine,
    run_fast,
)
from liqspec.base.conventions import decimal_text
from liqspec.base.files import get_bundled
from liqspec.engine.state import get_unit
from liqspec.model.market_files import load_market
from liqspec.model.markets import Market, format_price, get_value
from liqspec.model.prices import get_liquidation_price

_SETS = (
    ("binance-btcusdt-2024-10-24.toml",),
    ("binance-btcusdt-2022-02-12.toml", "binance-cyberusdt-2023-08-31.toml"),
    ("binance-btcusd-coinm-2024.toml",),
    ("bybit-btcperp-usdc-examples.toml", "binance-cyberusdt-2023-08-31.toml"),
    ("hyperliquid-btc-2024.toml",),
    ("bybit-btcusdt-isolated-examples.toml", "binance-btcusd-coinm-2024.toml"),
)
_START = {"CYBERUSDT": "5"}  # every other market starts at 60000


def _market(name: str) -> Market:
    return load_market(get_bundled("markets", name))


@st.composite
def backtests(draw: st.DrawFn, names: tuple[str, ...] | None = None) -> Backtest:
    """A population of 1-25 units and a path of 2-40 marks per market, moves up to 30%."""
    chosen = names or draw(st.sampled_from(_SETS))
    markets = {m.symbol: m for m in map(_market, chosen)}
    starts = {}
    paths = {}
    points = draw(st.integers(2, 40))
    for symbol, market in markets.items():
        tick = market.price_tick
        start = int(_START.get(symbol, "60000")) * tick.den // tick.num
        moves = draw(st.lists(st.one_of(st.integers(-20, 20), st.integers(-300, 300)),
                              min_size=points - 1, max_size=points - 1))  # fmt: skip
        ticks = [start]
        for move in moves:
            ticks.append(min(max(1, ticks[-1] * (1000 + move) // 1000), market.max_price))
        starts[symbol] = start
        lines = [
            "time,price",
            *(f"{60 * i},{format_price(market, p)}" for i, p in enumerate(ticks)),
        ]
        paths[symbol] = parse_path("\n".join(lines), market)
    rows = ["id,mode,market,side,size,entry_price,wallet"]
    for i in range(draw(st.integers(1, 25))):
        symbol = draw(st.sampled_from(sorted(markets)))
        market = markets[symbol]
        lots = draw(st.integers(1, 5000))
        entry = starts[symbol] * draw(st.integers(97, 103)) // 100
        value = get_value(market, lots, entry)
        wallet = value * draw(st.sampled_from([1, 2, 4, 10, 20, 50, 100])) // 100
        quantum = market.settle_quantum
        mode = draw(st.sampled_from(["cross", "isolated"]))
        side = draw(st.sampled_from(["long", "short"]))
        size = decimal_text(lots * market.lot_size.num, market.lot_size.den)
        amount = decimal_text(wallet * quantum.num, quantum.den)
        rows.append(f"u{i},{mode},{symbol},{side},{size},{format_price(market, entry)},{amount}")
    units = parse_population("\n".join(rows), markets)
    scale = draw(st.sampled_from([0, 10**6, 10**9, 10**15]))
    funds = {market.fund: scale for market in markets.values()}
    return make_backtest(markets, paths, units, funds)


@given(backtests())
def test_fast_path_finds_the_engines_facts(backtest: Backtest) -> None:
    """BT-6: identical flags, closes, fund moves; where it stops, a prefix of the engine's."""
    if any(len(unit.positions) > 1 for unit in backtest.units):
        assert get_fast_path_obstacles(backtest)
        return
    fast, engine = run_fast(backtest), run_engine(backtest)
    if not fast.reasons:
        assert fast.get_facts() == engine.get_facts()
        return
    assert engine.closes[: len(fast.closes)] == fast.closes
    assert engine.moves[: len(fast.moves)] == fast.moves
    assert engine.flags[: len(fast.flags)] == fast.flags


@given(backtests(names=("bitmex-xbtusd-step.toml",)))
def test_outside_the_domain_the_engine_runs_and_says_why(backtest: Backtest) -> None:
    """BT-7: step tiers are outside the fast path; run() takes the engine route, with why."""
    result = run(backtest)
    assert result.route == "engine"
    assert any("step tiers" in reason for reason in result.reasons)
    assert result.get_facts() == run_engine(backtest).get_facts()


@given(backtests())
def test_checked_guesses_are_the_liquidation_prices(backtest: Backtest) -> None:
    """PRICE-2: the guessed-and-checked start prices equal the search's, position by position."""
    state = build_state(backtest)
    prices = get_start_prices(backtest)
    for unit in backtest.units:
        margin_unit = get_unit(state, state.accounts[unit.id])
        for index, position in enumerate(unit.positions):
            assert prices[(unit.id, position.market)] == get_liquidation_price(margin_unit, index)
