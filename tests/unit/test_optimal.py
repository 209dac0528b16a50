"""The ``optimal`` policy on hand-worked numbers (spec/07-liquidation.md#LIQ-11).

BTCUSDT (Binance tiers, fee 0.1%, buffer 2%), mark 60,600 after 60,000: with a window of one
return, sigma = 1% = 10,000 ppm. Alice is long 1 BTC from 60,600 with 200 USDT; MM is
0.5% x 60,600 - 50 = 253, so she is in liquidation. The book bids 2 BTC at 60,590: selling
d BTC costs I(d) = 10 x d USDT of impact against the mark. The horizon is 30 s.

The health target is 0.268 BTC: after selling it, 0.732 BTC (44,359.2 USDT) is in the first
tier, T = 1.02 x 0.4% x 44,359.2 = 180.985536, and E - fee = 200 - 2.68 - 16.23812 =
181.08188 reaches it; after 0.267 BTC, T = 181.232784 > 181.15247.

The risk term is R(d) = lambda x sigma^2 x tau x (60,600 x (1 - d))^2
= lambda x 11,017,080 x (1 - d)^2 USDT, so C(d) = 10d + lambda x 11,017,080 x (1 - d)^2,
with its vertex at 1 - d = 10 / (2 x 11,017,080 x lambda).
"""

from __future__ import annotations

from fractions import Fraction

import attrs

from liqspec import load_market
from liqspec.base.conventions import Ratio
from liqspec.engine.execution import get_optimal_sizing
from liqspec.engine.state import AccountState, Book, Level, MarketState, State, apply_fill
from liqspec.model.markets import Policy
from tests.data import MARKETS

BINANCE = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")
USDT = 10**8
IMPACT = 575_700  # 5% under the mark, in ticks: no level is cut off


def alice(aversion: Ratio, bid: str = "60590") -> State:
    params = attrs.evolve(
        BINANCE.liquidation, policy=Policy.OPTIMAL, risk_aversion=aversion, cooldown=30
    )
    market = attrs.evolve(
        BINANCE, liquidation=params, risk=attrs.evolve(BINANCE.risk, vol_window=1)
    )
    book = Book((Level(int(Fraction(bid) * 10), 2000),), ())
    entry = MarketState(market, 606_000, book, history=((0, 600_000), (1, 606_000)))
    account = apply_fill(AccountState("alice", "USDT", 0), market, 1000, 606_000)
    account = attrs.evolve(account, balance=200 * USDT)
    return State(0, {"BTCUSDT": entry}, {"alice": account}, {})


def sized(state: State) -> tuple[int, int, list[tuple[int, int, Fraction]]]:
    sizing = get_optimal_sizing(state, state.accounts["alice"], 0, IMPACT)
    assert sizing.volatility_ppm == 10_000
    assert sizing.volatility_source == "realised"
    assert sizing.horizon == 30
    return sizing.minimum, sizing.chosen, list(sizing.considered)


def test_without_risk_aversion_it_sells_the_health_target() -> None:
    minimum, chosen, considered = sized(alice(Ratio(0, 1)))
    assert (minimum, chosen) == (268, 268)
    assert considered == [(268, 268 * 10**6, Fraction(0)), (1000, 1000 * 10**6, Fraction(0))]


def test_the_vertex_rounded_down_wins() -> None:
    # lambda = 1e-6: 1 - d = 10 / 22.03416 = 0.45384.., d = 0.54616 BTC: 546 or 547 lots.
    # C(0.546) = 5.46 + 11.01708 x 0.454^2 = 7.73079646128
    # C(0.547) = 5.47 + 11.01708 x 0.453^2 = 7.73080396972
    minimum, chosen, considered = sized(alice(Ratio.of(1, 10**6)))
    assert (minimum, chosen) == (268, 546)
    assert (546, 546 * 10**6, Fraction(227079646128, 10**3)) in considered
    assert (547, 547 * 10**6, Fraction(226080396972, 10**3)) in considered


def test_the_vertex_rounded_up_wins() -> None:
    # lambda = 1.2e-6: 1 - d = 10 / 26.440992 = 0.37820.., d = 0.62180 BTC: 621 or 622 lots.
    # C(0.621) = 6.21 + 13.220496 x 0.379^2 = 8.109005265936
    # C(0.622) = 6.22 + 13.220496 x 0.378^2 = 8.108997350464
    minimum, chosen, considered = sized(alice(Ratio.of(12, 10**7)))
    assert (minimum, chosen) == (268, 622)
    assert [d for d, _, _ in considered] == [268, 621, 622, 1000]


def test_equal_costs_choose_the_fewest_lots() -> None:
    # Bids at the mark cost nothing, and without risk aversion nothing is at risk: every
    # target costs 0, and the fewest lots win. The health target is then 0.254 BTC.
    minimum, chosen, considered = sized(alice(Ratio(0, 1), bid="60600"))
    assert (minimum, chosen) == (254, 254)
    assert considered == [(254, 0, Fraction(0)), (1000, 0, Fraction(0))]
