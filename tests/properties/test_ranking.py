"""ADL's ranking index (engine/ranking.py) gives INS-4's scan at every deficit.

Random accounts on two markets, one of them maybe in a phase-in (RISK-6), then random
changes between queries: an account replaced (balance or position), a mark moved, the clock
advanced (which, during a phase-in, changes margins with the same market states). After
each, the indexed ranking for either side and any excluded account equals the scan's.
"""

from __future__ import annotations

import attrs
import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from liqspec.base.conventions import Ratio
from liqspec.base.files import get_bundled
from liqspec.engine.insurance import get_adl_ranking
from liqspec.engine.ranking import get_indexed_ranking
from liqspec.engine.state import AccountState, MarketState, State, with_account, with_market
from liqspec.model.accounts import Side, open_position
from liqspec.model.market_files import load_market

MARKETS = {
    m.symbol: m
    for m in (
        load_market(get_bundled("markets", "binance-btcusdt-2024-10-24.toml")),
        load_market(get_bundled("markets", "binance-cyberusdt-2023-08-31.toml")),
    )
}
MARKS = {"BTCUSDT": 600_000, "CYBERUSDT": 5_000}


@st.composite
def accounts(draw: st.DrawFn, name: str) -> AccountState:
    positions = []
    for symbol in draw(st.sets(st.sampled_from(sorted(MARKETS)), max_size=2)):
        market, mark = MARKETS[symbol], MARKS[symbol]
        side = draw(st.sampled_from([Side.LONG, Side.SHORT]))
        size = draw(st.integers(1, 3_000))
        entry = mark * draw(st.integers(80, 120)) // 100
        positions.append(open_position(market, side, size, entry))
    balance = draw(st.integers(0, 20_000)) * 10**8
    return AccountState(name, "USDT", balance, tuple(sorted(positions, key=lambda p: p.market)))


@given(st.data())
def test_the_indexed_ranking_is_the_scans(data: st.DataObject) -> None:
    count = data.draw(st.integers(1, 12), label="accounts")
    names = [f"a{i}" for i in range(count)]
    markets = {s: MarketState(m, MARKS[s]) for s, m in MARKETS.items()}
    if data.draw(st.booleans(), label="phase-in"):  # RISK-6: MM changes with the clock alone
        old = MARKETS["BTCUSDT"]
        new = attrs.evolve(old, risk_multiplier=Ratio(data.draw(st.integers(11, 30)), 10))
        end = data.draw(st.integers(1, 4))
        markets["BTCUSDT"] = MarketState(new, MARKS["BTCUSDT"], previous=old, phase_end=end)
    accounts_ = {name: data.draw(accounts(name)) for name in names}
    state = State(0, markets, accounts_, {"USDT": 0})
    for _ in range(data.draw(st.integers(1, 12), label="steps")):
        change = data.draw(st.sampled_from(["query", "account", "mark", "clock"]))
        if change == "account":
            state = with_account(state, data.draw(accounts(data.draw(st.sampled_from(names)))))
        elif change == "mark":
            symbol = data.draw(st.sampled_from(sorted(MARKETS)))
            mark = MARKS[symbol] * data.draw(st.integers(70, 130)) // 100
            state = with_market(state, attrs.evolve(state.markets[symbol], mark=mark))
        elif change == "clock":
            state = attrs.evolve(state, time=state.time + 1)
        symbol = data.draw(st.sampled_from(sorted(MARKETS)))
        side = data.draw(st.sampled_from([1, -1]))
        exclude = data.draw(st.sampled_from([*names, ""]))
        found, state = get_indexed_ranking(state, MARKETS[symbol], side, exclude)
        ranking = list(found)
        assert ranking == get_adl_ranking(state, MARKETS[symbol], side, exclude)
        hypothesis.event(f"candidates: {min(len(ranking), 3)}+")


def test_a_phase_in_ending_changes_the_ranking_with_the_same_market_states() -> None:
    # 10 BTC long from 60,000 at mark 60,030: PnL 300 USDT, notional 600,300 USDT, in the tier
    # 600,000-3,000,000 (mmr 0.65%, amount 950): MM 2,951.95 -> 2,952 USDT under the old set,
    # twice that under the new one (multiplier 2). Equity 3,300 USDT: a candidate while the
    # account is grandfathered (RISK-6), liquidatable, so no candidate, once the phase-in ends.
    old = MARKETS["BTCUSDT"]
    new = attrs.evolve(old, risk_multiplier=Ratio(2, 1))
    position = open_position(old, Side.LONG, 10_000, 600_000)
    account = AccountState("a", "USDT", 3_000 * 10**8, (position,))
    entry = MarketState(new, 600_300, previous=old, phase_end=5)
    state = State(0, {"BTCUSDT": entry}, {"a": account}, {"USDT": 0})
    during, state = get_indexed_ranking(state, old, 1, "")
    assert [account_id for _, account_id in during] == ["a"]
    state = attrs.evolve(state, time=5)
    after, state = get_indexed_ranking(state, old, 1, "")
    assert list(after) == get_adl_ranking(state, old, 1, "") == []
