"""Every published example of ../shared/DOMAIN.md that the first chapters cover.

Expected numbers are the venues' published figures; each market file expresses the venue's
convention through market options (trigger, margin_valuation, close_fee_in_margin).
"""

from __future__ import annotations

import math
import tomllib
from fractions import Fraction

import attrs

from liqspec import (
    Leg,
    MarginMode,
    MarginUnit,
    Market,
    PriceStatus,
    Ratio,
    Side,
    get_bankruptcy_price,
    get_initial_margin,
    get_liquidation_price,
    get_maintenance_margin,
    get_value,
    load_market,
    open_position,
)
from liqspec.base.conventions import to_units
from liqspec.engine.markprice import get_ema_update
from liqspec.model.margin import get_close_fee_estimate, get_open_interest_rate
from liqspec.model.market_files import market_from_document
from liqspec.model.market_rules import derive_maintenance_amounts
from liqspec.model.markets import (
    ChunkRounding,
    Deleveraging,
    LimitRule,
    PriceDisplay,
    TierTarget,
    get_max_leverage,
)
from liqspec.model.prices import get_displayed_liquidation_price, get_exact_liquidation_price
from tests.data import MARKETS


def market(name: str) -> Market:
    return load_market(MARKETS / name)


def units(m: Market, text: str, kind: str) -> int:
    unit = {"price": m.price_tick, "size": m.lot_size, "amount": m.settle_quantum}[kind]
    return to_units(text, unit, kind, kind)


def isolated(
    m: Market, side: Side, size: str, entry: str, margin: str, leverage: int
) -> MarginUnit:
    entry_price = units(m, entry, "price")
    position = open_position(
        m, side, units(m, size, "size"), entry_price, margin_mode=MarginMode.ISOLATED,
        isolated_margin=units(m, margin, "amount"), chosen_imr=Ratio.of(1, leverage),
    )  # fmt: skip
    return MarginUnit("isolated", m.settle_asset, m.settle_quantum, position.isolated_margin,
                      (Leg(m, position, entry_price),), m.trigger)  # fmt: skip


def price(m: Market, text: str) -> int:
    return units(m, text, "price")


BYBIT = "bybit-btcusdt-isolated-examples.toml"


def test_bybit_long_50x_liquidation_and_bankruptcy() -> None:
    """Bybit: long 1 BTC @ 10,000, 50x, MMR 0.5% -> LP 9,850; BP 9,800."""
    m = market(BYBIT)
    unit = isolated(m, Side.LONG, "1", "10000", "200", 50)
    assert get_liquidation_price(unit, 0).price == price(m, "9850")
    assert get_bankruptcy_price(unit, 0).price == price(m, "9800")


def test_bybit_short_40x_liquidation() -> None:
    """Bybit: short 1 BTC @ 8,000, 40x, MMR 0.5% -> LP 8,160."""
    m = market(BYBIT)
    unit = isolated(m, Side.SHORT, "1", "8000", "200", 40)
    assert get_liquidation_price(unit, 0).price == price(m, "8160")


def test_bybit_long_20000_margins_and_liquidation() -> None:
    """Bybit: long 1 BTC @ 20,000, 50x, MMR 0.5% -> IM 400, MM 100, LP 19,700."""
    m = market(BYBIT)
    unit = isolated(m, Side.LONG, "1", "20000", "400", 50)
    leg = unit.legs[0]
    assert get_initial_margin(m, leg.position, leg.mark) == units(m, "400", "amount")
    assert get_maintenance_margin(m, leg.position, leg.mark) == units(m, "100", "amount")
    assert get_liquidation_price(unit, 0).price == price(m, "19700")


def test_bybit_usdc_initial_margin_includes_fee_to_close() -> None:
    """Bybit USDC: 0.5 BTC @ 50,000, 10x, mark 50,500, taker 0.055% -> IM 2,537.375."""
    m = market("bybit-btcperp-usdc-examples.toml")
    position = open_position(
        m, Side.LONG, units(m, "0.5", "size"), price(m, "50000"), chosen_imr=Ratio.of(1, 10)
    )
    assert get_initial_margin(m, position, price(m, "50500")) == units(m, "2537.375", "amount")


def test_binance_2022_level_3_maintenance_amount() -> None:
    """Binance: level 3 of the 2022 table: 250,000 x (1% - 0.5%) + 50 = 1,300."""
    m = market("binance-btcusdt-2022-02-12.toml")
    assert derive_maintenance_amounts(m.tiers)[2] == Ratio(units(m, "1300", "amount"), 1)


def test_binance_2024_maintenance_amounts_are_the_published_cum() -> None:
    """Binance 2024-10-24 brackets: the published cum column equals the recursion."""
    m = market("binance-btcusdt-2024-10-24.toml")
    published = [0, 50, 950, 11450, 131450, 481450, 2981450, 14481450, 26481450, 41481450,
                 121481450, 421481450]  # fmt: skip
    derived = derive_maintenance_amounts(m.tiers)
    assert [Ratio(units(m, str(c), "amount"), 1) for c in published] == list(derived)
    assert [str(get_max_leverage(t)) for t in m.tiers] == [
        "125", "100", "75", "50", "25", "20", "10", "5", "4", "3", "2", "1",
    ]  # fmt: skip


def test_binance_coin_margined_notional_and_maintenance() -> None:
    """Binance COIN-M: 100 BTCUSD contracts (100 USD) at mark 25,000 -> 0.4 BTC, MM 0.0016."""
    m = market("binance-btcusd-coinm-2024.toml")
    position = open_position(m, Side.LONG, units(m, "100", "size"), price(m, "25000"))
    mark = price(m, "25000")
    assert get_value(m, position.size, mark) == units(m, "0.4", "amount")
    assert get_maintenance_margin(m, position, mark) == units(m, "0.0016", "amount")


def test_bitmex_step_tiers() -> None:
    """BitMEX: 180 XBT at base MM 0.50% -> MM 0.90 XBT; 230 XBT moves to 1.00% / 1.50%."""
    m = market("bitmex-xbtusd-step.toml")
    mark = price(m, "50000")
    small = open_position(m, Side.LONG, units(m, "9000000", "size"), mark)  # 180 XBT
    large = open_position(m, Side.LONG, units(m, "11500000", "size"), mark)  # 230 XBT
    assert get_value(m, small.size, mark) == units(m, "180", "amount")
    assert get_maintenance_margin(m, small, mark) == units(m, "0.9", "amount")
    assert get_maintenance_margin(m, large, mark) == units(m, "2.3", "amount")  # 1.00%
    assert get_initial_margin(m, large, mark) == units(m, "3.45", "amount")  # 1.50%


def test_hyperliquid_maintenance_rate_is_half_the_initial_rate() -> None:
    """Hyperliquid: MMR = 1 / (2 x max leverage): 40x -> 1.25%, 20x -> 2.5%."""
    m = market("hyperliquid-btc-2024.toml")
    assert [(str(get_max_leverage(t)), t.mmr) for t in m.tiers] == [
        ("40", Ratio.of(125, 10_000)),
        ("20", Ratio.of(25, 1_000)),
    ]
    for tier in m.tiers:
        assert tier.mmr == Ratio.of(tier.imr.num, 2 * tier.imr.den)


def test_hyperliquid_3x_maintenance_rate_is_one_sixth_exactly() -> None:
    """Hyperliquid (DOMAIN.md): max leverage 3x -> MMR 16.7%, 50x -> 1%.

    1/6 has no finite decimal: the market derives it (``mmr_from_max_leverage``) and keeps it
    exact; the published 16.7% is it rounded to a tenth of a percent.
    """
    m = market("hyperliquid-3x-2024.toml")
    (tier,) = m.tiers
    assert (str(get_max_leverage(tier)), tier.mmr, str(tier.mmr)) == ("3", Ratio.of(1, 6), "1/6")
    assert round(Fraction(tier.mmr.num * 100, tier.mmr.den), 1) == Fraction("16.7")
    fifty = Ratio.of(1, 50)
    assert Ratio.of(fifty.num, 2 * fifty.den) == Ratio.of(1, 100)  # 50x -> 1%
    # 600 ALT at 1 USDC: MM = 600 / 6 = 100 exactly; 601 ALT: 100.1666..., up to 100.166667
    one = units(m, "1", "price")
    six_hundred = open_position(m, Side.LONG, 600, one)
    assert get_maintenance_margin(m, six_hundred, one) == units(m, "100", "amount")
    more = open_position(m, Side.LONG, 601, one)
    assert get_maintenance_margin(m, more, one) == units(m, "100.166667", "amount")


def test_fully_collateralised_long_has_no_liquidation_price() -> None:
    """PRICE-1: a 1x long (collateral = entry value) is never liquidated nor bankrupt."""
    m = market("binance-btcusdt-2024-10-24.toml")
    unit = isolated(m, Side.LONG, "1", "60000", "60000", 1)
    assert get_liquidation_price(unit, 0).status is PriceStatus.NEVER
    assert get_bankruptcy_price(unit, 0).status is PriceStatus.NEVER


def _target(m: Market, lots: int, mark_text: str) -> int:
    """The market's policy target for a long of ``lots`` opened at the mark (LIQ-4, LIQ-5)."""
    from liqspec.engine.execution import get_target_size  # noqa: PLC0415
    from liqspec.engine.state import AccountState, MarketState, State, apply_fill  # noqa: PLC0415

    mark = units(m, mark_text, "price")
    account = apply_fill(AccountState("a", m.settle_asset, 0), m, lots, mark)
    state = State(0, {m.symbol: MarketState(m, mark)}, {"a": account}, {})
    return get_target_size(state, account, 0, mark)


def _chunk_target(m: Market, lots: int) -> int:
    """The chunk policy's target for a long of ``lots`` at 50,000."""
    return _target(m, lots, "50000")


def test_dydx_rounds_the_liquidated_portion_down_to_the_step() -> None:
    """dYdX v4 (source code, not prose): GetLiquidatablePositionSizeDelta rounds down.

    dydxprotocol/v4-chain, protocol/x/clob/keeper/liquidations_test.go,
    TestGetPerpetualPositionToLiquidate at commit 84d4664b: a long of 21 base quantums (1e-8
    BTC each) with step 3 and a 50% portion liquidates 9 ("result is rounded down"); 0.1 BTC
    (10,000,000 quantums) with step 5 and a 40% portion liquidates 4,000,000. As lots of one
    step: 7 lots at 50% is 3.5, down to 3 (up would be 4); 2,000,000 lots at 40% is exact.
    """
    genesis = market("dydx-btc-usd-2024.toml")
    assert genesis.liquidation.chunk_rounding is ChunkRounding.DOWN
    # the tests' config: a minimum of 1,000 quote quantums ($0.001), no subaccount limit
    floor = attrs.evolve(genesis.liquidation, min_step_notional=1_000, max_step_notional=0)
    dydx = attrs.evolve(genesis, liquidation=floor)
    liquidation = attrs.evolve(dydx.liquidation, chunk=Ratio.of(1, 2))
    step3 = attrs.evolve(dydx, lot_size=Ratio.of(3, 10**8), liquidation=liquidation)
    assert _chunk_target(step3, 7) * 3 == 9
    up = attrs.evolve(liquidation, chunk_rounding=ChunkRounding.UP)  # liqspec's default
    assert _chunk_target(attrs.evolve(step3, liquidation=up), 7) * 3 == 12
    forty = attrs.evolve(dydx.liquidation, chunk=Ratio.of(2, 5))
    step5 = attrs.evolve(dydx, lot_size=Ratio.of(5, 10**8), liquidation=forty)
    assert _chunk_target(step5, 2_000_000) * 5 == 4_000_000


def _tier_step_target(m: Market, contracts: int) -> int:
    """The tier-step target for a long of ``contracts`` at a mark of 1."""
    return _target(m, contracts, "1")


def test_okx_liquidates_a_tier_three_position_down_to_tier_one() -> None:
    """OKX help centre, "V. Forced Partial or Full Liquidation" (legacy swap rules).

    Tier 1 holds up to 2,000 contracts, tier 3 starts at 12,001; a position of 15,000
    contracts is cut to the tier-1 maximum: 15,000 - 2,000 = 13,000 to close. Tiers 1 and 2
    are liquidated in full. liqspec's default (``next``) would close 3,000, into tier 2.
    """
    okx = market("okx-swap-tier-example.toml")
    assert okx.liquidation.tier_target is TierTarget.FIRST
    assert _tier_step_target(okx, 15_000) == 13_000
    assert _tier_step_target(okx, 5_000) == 5_000  # tier 2: in full
    assert _tier_step_target(okx, 2_000) == 2_000  # tier 1: in full
    following = attrs.evolve(okx.liquidation, tier_target=TierTarget.NEXT)
    assert _tier_step_target(attrs.evolve(okx, liquidation=following), 15_000) == 3_000


def test_bybit_inverse_fee_to_close_is_valued_at_the_bankruptcy_price() -> None:
    """Bybit order cost (inverse contract): 10,000 BTCUSD bought at 6,400 with 25x, taker 0.075%.

    Published: initial margin 10,000 / 6,400 x 4% = 0.0625 BTC; the bankruptcy price
    6,400 x 25 / 26 (about 6,154 USD); the fee to close 10,000 / 6,154 x 0.075% = 0.00121872
    BTC, which values it at the bankruptcy price rounded to 6,154. At the exact price it is
    1.5625 x 26/25 x 0.075% = 0.00121875 BTC: MARGIN-7's estimate, inside the margins.
    """
    m = market("bybit-btcusd-inverse-examples.toml")
    position = open_position(m, Side.LONG, 10_000, price(m, "6400"), chosen_imr=Ratio.of(1, 25))
    assert round(Fraction(10_000, 6_154) * Fraction(75, 100_000), 8) == Fraction("0.00121872")
    assert get_close_fee_estimate(m, position) == units(m, "0.00121875", "amount")
    expected = units(m, "0.0625", "amount") + units(m, "0.00121875", "amount")
    assert get_initial_margin(m, position, price(m, "6400")) == expected


def _fund_delta(m: Market, side: Side, entry: str, fill: str, ppm: int) -> int:
    """The fee (rate ``ppm``) one step charges on 0.1 BTC marked at 50,000, filled at ``fill``.

    The account holds only the position (balance 0), so its equity at the mark is dYdX's
    total net collateral: -100 USDC for a long from 51,000 or a short from 49,000.
    """
    from liqspec.engine.liquidation import process_liquidation_step  # noqa: PLC0415
    from liqspec.engine.records import LiquidationStep  # noqa: PLC0415
    from liqspec.engine.state import (  # noqa: PLC0415
        AccountState,
        Book,
        Level,
        MarketState,
        State,
        apply_fill,
    )  # fmt: skip

    rules = attrs.evolve(m, liquidation=attrs.evolve(m.liquidation, fee=Ratio.of(ppm, 10**6)))
    lots = units(rules, "0.1", "size")
    account = apply_fill(
        AccountState("a", m.settle_asset, 0), rules, int(side) * lots, price(m, entry)
    )
    level = (Level(price(m, fill), lots),)
    book = Book(bids=level) if side is Side.LONG else Book(asks=level)
    state = State(0, {m.symbol: MarketState(rules, price(m, "50000"), book)}, {"a": account}, {})
    _, records = process_liquidation_step(state, "a")
    (step,) = [r for r in records if isinstance(r, LiquidationStep)]
    assert step.executed == lots
    return step.fee


def test_dydx_fee_of_100_percent_takes_all_that_is_left_above_bankruptcy() -> None:
    """dYdX v4 (source code, not prose): GetLiquidationInsuranceFundDelta.

    dydxprotocol/v4-chain@84d4664b, protocol/x/clob/keeper/liquidations_test.go,
    TestGetLiquidationInsuranceFundDelta, on the 20/10 BTC perp at 50,000 with 0.1 BTC closed
    whole. Long (USDC -5,100) sold at 56,100: the fund gets 28,050,000 quote quantums at a
    max fee of 5,000 ppm, 140,250,000 at 25,000 ppm and 510,000,000 (all that is left above
    the 5,100 bankruptcy quote) at 1,000,000 ppm. Short (USDC +4,900) bought at 44,100:
    22,050,000, 110,250,000 and 490,000,000. Sold at 51,051 with 5,000 ppm: 5,100,000, the
    leftover below the cap; sold at the bankruptcy price 51,000: 0.
    """
    dydx = market("dydx-btc-20-10-whole-surplus-fee.toml")
    assert dydx.liquidation.fee == Ratio(1, 1)
    long, short = (Side.LONG, "51000"), (Side.SHORT, "49000")
    cases = [
        (long, "56100", 5_000, 28_050_000),
        (long, "56100", 25_000, 140_250_000),
        (long, "56100", 1_000_000, 510_000_000),
        (short, "44100", 5_000, 22_050_000),
        (short, "44100", 25_000, 110_250_000),
        (short, "44100", 1_000_000, 490_000_000),
        (long, "51051", 5_000, 5_100_000),
        (long, "51000", 5_000, 0),
    ]
    for (side, entry), fill, ppm, quote_quantums in cases:
        assert _fund_delta(dydx, side, entry, fill, ppm) == quote_quantums, (side, fill, ppm)


def _deleverage(m: Market, dave_usdc: str) -> tuple[int, int, int, tuple[str, ...]]:
    """Carl, short 1 BTC with 49,999 USDC (net collateral -1 at 50,000), is liquidated with an
    empty book and no fund; dave holds 1 BTC long with ``dave_usdc``.

    dYdX's USDC is the balance net of the position's entry value: carl's short from 49,999 with
    balance 0, dave's long from 50,000 (PnL 0) with balance USDC + 50,000.
    Return carl's and dave's balances after, in quote quantums, the unallocated deficit and who
    took the position.
    """
    from liqspec.engine.liquidation import process_liquidation_step  # noqa: PLC0415
    from liqspec.engine.records import Deleveraged  # noqa: PLC0415
    from liqspec.engine.state import AccountState, MarketState, State, apply_fill  # noqa: PLC0415

    lots = units(m, "1", "size")
    carl = apply_fill(AccountState("carl", m.settle_asset, 0), m, -lots, price(m, "49999"))
    dave_balance = units(m, dave_usdc, "amount") + units(m, "50000", "amount")
    dave = apply_fill(
        AccountState("dave", m.settle_asset, dave_balance), m, lots, price(m, "50000")
    )
    state = State(
        0, {m.symbol: MarketState(m, price(m, "50000"))}, {"carl": carl, "dave": dave}, {}
    )
    state, records = process_liquidation_step(state, "carl")
    (record,) = [r for r in records if isinstance(r, Deleveraged)]
    takers = tuple(a.account for a in record.allocations)
    after = state.accounts
    assert after["carl"].positions == ()
    return after["carl"].balance, after["dave"].balance, record.unallocated, takers


def test_dydx_deleverages_against_the_other_side_at_the_bankruptcy_price() -> None:
    """dYdX v4 (source code, not prose): ProcessDeleveraging moves the position bilaterally.

    dydxprotocol/v4-chain@84d4664b, protocol/x/clob/keeper/deleveraging_test.go,
    TestProcessDeleveraging, BTC 20/10 perp at 50,000: carl, short 1 BTC with 49,999 USDC
    (net collateral -1), is closed at his bankruptcy price 49,999 against dave's long and ends
    at 0 USDC. Dave with 50,000 USDC ends at 99,999; dave with -45,001 USDC (below his own
    maintenance before) ends at 4,998. Under ADL, dave (PnL 0 in this reading) is no
    counterparty: the deficit of 1 stays as bad debt.
    """
    m = market("dydx-btc-20-10-whole-surplus-fee.toml")
    assert m.liquidation.deleveraging is Deleveraging.BILATERAL
    dollar = units(m, "1", "amount")
    assert _deleverage(m, "50000") == (0, 99_999 * dollar, 0, ("dave",))
    assert _deleverage(m, "-45001") == (0, 4_998 * dollar, 0, ("dave",))
    adl = attrs.evolve(m, liquidation=attrs.evolve(m.liquidation, deleveraging=Deleveraging.ADL))
    assert _deleverage(adl, "50000") == (-dollar, 100_000 * dollar, dollar, ())


def _drift_rates(m: Market, balance: str, slot: int) -> tuple[Fraction, Fraction]:
    """The liquidator's and the fund's rates of a step for 10 SOL long from 100, marked at 100,
    ``slot`` clock units after the liquidation started at 0 (LIQ-12)."""
    from liqspec.engine.execution import get_fee_rates  # noqa: PLC0415
    from liqspec.engine.state import AccountState, MarketState, State, apply_fill  # noqa: PLC0415

    start = AccountState("a", m.settle_asset, units(m, balance, "amount"), liquidating=True)
    account = apply_fill(start, m, units(m, "10", "size"), price(m, "100"))
    state = State(slot, {m.symbol: MarketState(m, price(m, "100"))}, {"a": account}, {})
    _, liquidator, fund = get_fee_rates(state, account, 0)
    return liquidator, fund


def test_drift_liquidator_fee_ramps_with_the_slots_in_liquidation() -> None:
    """Drift v2 (source code, not prose): get_liquidation_fee.

    drift-labs/protocol-v2@0ae3e3b1, programs/drift/src/math/liquidation/tests.rs,
    get_liquidation_fee::test: a base of 20,000 ppm (2%) and a maximum of 50,000 (5%), the
    user's last active slot 0. Slot 10 gives 20,000 (within the 1,500-slot grace), slot 10,000
    gives 30,000 (2% + 10,000 x 1 ppm), slot 100,000 gives 50,000 (the cap).
    """
    drift = market("drift-perp-fee-ramp.toml")
    ramp = attrs.evolve(drift.liquidation, liquidator_fee=Ratio.of(2, 100),
                        liquidator_fee_max=Ratio.of(5, 100))  # fmt: skip
    m = attrs.evolve(drift, liquidation=ramp)
    ppm = [_drift_rates(m, "50", slot)[0] * 10**6 for slot in (10, 10_000, 100_000)]
    assert ppm == [20_000, 30_000, 50_000]


def test_drift_insurance_fund_fee_is_implied_from_the_shortage() -> None:
    """Drift v2 (source code, not prose): calculate_perp_if_fee.

    drift-labs/protocol-v2@0ae3e3b1, programs/drift/src/math/liquidation/tests.rs,
    calculate_perp_if_fee::test: 10 base at an oracle of $100, a 5% maintenance ratio, a 1%
    liquidator fee and a 5% maximum fund fee. A margin shortage of $20 gives 19,000 ppm
    ((5% - 1% - 2%) x 0.95), $1 gives 37,050, $1,000 gives 0; a 10% liquidator fee gives 0.
    Here the shortage is MM (50) less the equity: balances of 30, 49 and -950.
    """
    m = market("drift-perp-fee-ramp.toml")
    fund_ppm = [_drift_rates(m, balance, 0)[1] * 10**6 for balance in ("30", "49", "-950")]
    assert fund_ppm == [19_000, 37_050, 0]
    greedy = attrs.evolve(m.liquidation, liquidator_fee=Ratio.of(10, 100),
                          liquidator_fee_step=Ratio(0, 1))  # fmt: skip
    assert _drift_rates(attrs.evolve(m, liquidation=greedy), "30", 0)[1] == 0


def test_dydx_initial_margin_fraction_scales_with_open_interest() -> None:
    """dYdX v4 (source code, not prose): the open-interest-based initial margin fraction.

    dydxprotocol/v4-chain@84d4664b, protocol/x/perpetuals/types/liquidity_tier_test.go.
    TestGetAdjustedInitialMarginPpm, base 200,000 ppm, caps 1,000,000 and 2,000,000 quote
    quantums: open notional 0 gives 200,000; 1,500,000 gives 600,000; 1,234,567 gives 387,653
    (truncated); 1,000,000 gives 200,000; 2,000,000 and 2,500,000 give 1,000,000; caps of 0
    give 200,000 at 1,500,000. TestGetInitialMarginQuoteQuantums, 500,000 quote quantums of
    position at base 20%: caps 1e12 and 2e12 at 1.5e12 give 300,000; caps 25e12 and 50e12 give
    500,000 at 80e12 and 100,000 at 25e12; no caps give 100,000.
    """
    caps = (1_000_000, 2_000_000)
    cases = [(0, 200_000), (1_500_000, 600_000), (1_234_567, 387_653), (1_000_000, 200_000),
             (2_000_000, 1_000_000), (2_500_000, 1_000_000)]  # fmt: skip
    for open_notional, ppm in cases:
        rate = get_open_interest_rate(Ratio.of(1, 5), caps, open_notional)
        assert rate == Ratio.of(ppm, 10**6), open_notional
    assert get_open_interest_rate(Ratio.of(1, 5), (0, 0), 1_500_000) == Ratio.of(1, 5)
    m = market("dydx-long-tail-oimf.toml")
    half = price(m, "0.5")  # one lot at 0.5 is 500,000 quote quantums
    position = open_position(m, Side.LONG, 1, half)
    for lower, upper, open_notional, expected in [
        (10**12, 2 * 10**12, 15 * 10**11, 300_000),
        (25 * 10**12, 50 * 10**12, 80 * 10**12, 500_000),
        (25 * 10**12, 50 * 10**12, 25 * 10**12, 100_000),
        (0, 0, 15 * 10**11, 100_000),
    ]:
        lots = open_notional // 500_000  # the open interest whose value at 0.5 is that notional
        scaled = attrs.evolve(m, open_interest_caps=(lower, upper), open_interest=lots)
        assert get_initial_margin(scaled, position, half) == expected, (lower, upper)


def _fillable(m: Market, legs: list[tuple[Market, str, str]], balance: str, index: int) -> Fraction:
    """LIQ-13's exact fillable price of leg ``index`` (price units), legs opened at their marks.

    Each leg is (market, signed size, mark); opened at the mark its PnL is 0, so the balance is
    dYdX's net collateral.
    """
    from liqspec.engine.execution import get_fillable_price  # noqa: PLC0415
    from liqspec.engine.state import AccountState, MarketState, State, apply_fill  # noqa: PLC0415

    account = AccountState("a", m.settle_asset, units(m, balance, "amount"), liquidating=True)
    states = {}
    for leg_market, size, mark in legs:
        lots = int(Fraction(size) / Fraction(leg_market.lot_size.num, leg_market.lot_size.den))
        account = apply_fill(account, leg_market, lots, price(leg_market, mark))
        states[leg_market.symbol] = MarketState(leg_market, price(leg_market, mark))
    state = State(0, states, {"a": account}, {})
    ticks = get_fillable_price(state, account, index)
    return ticks * Fraction(m.price_tick.num, m.price_tick.den)


def test_dydx_fillable_price_of_a_liquidation() -> None:
    """dYdX v4 (source code, not prose): GetFillablePrice.

    dydxprotocol/v4-chain@84d4664b, protocol/x/clob/keeper/liquidations_test.go,
    TestGetFillablePrice, on the 20/10 BTC perp at 50,000 (MM 10%) with 0.1 BTC: the expected
    rationals (quote quantums per base quantum) times 100 are, for a long with net collateral
    499 (USDC -4,501): 49,999 (BA 1, SMMR 0.1), 49,998 (BA 2), 49,998 (SMMR 0.2), 49,500 (BA
    4,294.967295, clamped), 49,999.99999 (SMMR 1 ppm), 49,990 (SMMR 1); a short with 499
    (USDC +5,499): 50,001, 50,002, 50,002; a long and a short at 0: 49,500 and 50,500; at -500:
    49,500 and 50,500 (clamped). With 0.004 BTC and 0.1 ETH at 3,000 and USDC -490, the ETH
    leg's price is 2,976 (372/125 x 1,000).
    """
    m = market("dydx-btc-20-10-whole-surplus-fee.toml")
    assert m.liquidation.limit_rule is LimitRule.BANKRUPTCY  # the file's rule; set per case

    def rule(adjustment: str, spread: str) -> Market:
        params = attrs.evolve(
            m.liquidation, limit_rule=LimitRule.FILLABLE,
            bankruptcy_adjustment=Ratio.of(*Fraction(adjustment).as_integer_ratio()),
            spread_to_maintenance=Ratio.of(*Fraction(spread).as_integer_ratio()),
        )  # fmt: skip
        return attrs.evolve(m, liquidation=params)

    cases = [
        ("0.1", "499", "1", "0.1", "49999"), ("0.1", "499", "2", "0.1", "49998"),
        ("0.1", "499", "1", "0.2", "49998"), ("0.1", "499", "4294.967295", "0.1", "49500"),
        ("0.1", "499", "1", "0.000001", "49999.99999"), ("0.1", "499", "1", "1", "49990"),
        ("-0.1", "499", "1", "0.1", "50001"), ("-0.1", "499", "2", "0.1", "50002"),
        ("-0.1", "499", "1", "0.2", "50002"), ("0.1", "0", "1", "0.1", "49500"),
        ("-0.1", "0", "1", "0.1", "50500"), ("0.1", "-500", "1", "0.1", "49500"),
        ("-0.1", "-500", "1", "0.1", "50500"),
    ]  # fmt: skip
    for size, collateral, adjustment, spread, expected in cases:
        btc = rule(adjustment, spread)
        got = _fillable(btc, [(btc, size, "50000")], collateral, 0)
        assert got == Fraction(expected), (size, collateral, adjustment, spread)
    btc = rule("1", "0.1")
    eth = attrs.evolve(btc, symbol="ETH-USD", base_asset="ETH")
    legs = [(btc, "0.004", "50000"), (eth, "0.1", "3000")]
    assert _fillable(btc, legs, "10", 1) == 2976


def test_dydx_bounds_the_liquidated_notional() -> None:
    """dYdX v4 (source code, not prose): GetLiquidatablePositionSizeDelta's notional bounds.

    dydxprotocol/v4-chain@84d4664b, protocol/x/clob/keeper/liquidations_test.go,
    TestGetPerpetualPositionToLiquidate, 0.1 BTC (10,000,000 base quantums, step 5) at 50,000:
    portion 100% with a subaccount limit of $10,000 liquidates all of it; with $2,500,
    5,000,000; portion 50% and $2,000, 4,000,000 (the limit binds); portion 40% and $2,500,
    4,000,000 (the portion binds); a minimum of $10,000 liquidates the whole $5,000 position
    (a short in the source; the rule is symmetric). The limit is max_step_notional, the
    minimum min_step_notional (LIQ-5).
    """
    document = tomllib.loads((MARKETS / "dydx-btc-usd-2024.toml").read_text(encoding="utf-8"))
    document["market"].update(lot_size="0.00000005", price_tick="20")  # step 5 on the grid
    step5 = market_from_document(document)
    dollars = units(step5, "1", "amount")

    def delta(portion: Fraction, cap: int, floor: int = 0) -> int:
        params = attrs.evolve(
            step5.liquidation, chunk=Ratio.of(portion.numerator, portion.denominator),
            max_step_notional=cap * dollars, min_step_notional=floor * dollars,
        )  # fmt: skip
        return _chunk_target(attrs.evolve(step5, liquidation=params), 2_000_000) * 5

    assert delta(Fraction(1), 10_000) == 10_000_000
    assert delta(Fraction(1), 2_500) == 5_000_000
    assert delta(Fraction(1, 2), 2_000) == 4_000_000
    assert delta(Fraction(2, 5), 2_500) == 4_000_000
    assert delta(Fraction(1, 10), 0, floor=10_000) == 10_000_000


def test_okx_deleverages_when_the_fund_falls_30_percent_within_8_hours() -> None:
    """OKX help centre, "What is the meaning and purpose of the early liquidation mechanism?".

    Published: ADL starts when the insurance fund is insufficient or falls "30% from its peak
    within 8 hours". OKX gives the rule and its parameters, no worked example: the balances
    below are ours. A fund that held 1,000,000 until an hour in and holds 700,001 may pay 1
    toward a deficit at three hours; at 700,000, nothing; at ten hours the 1,000,000 is out of
    the window, the peak is 700,000 and it may pay down to 490,000.
    """
    from liqspec.engine.insurance import get_fund_available  # noqa: PLC0415
    from liqspec.engine.state import MarketState, State  # noqa: PLC0415

    okx = market("okx-swap-tier-example.toml")
    assert (okx.liquidation.adl_drawdown, okx.liquidation.adl_window) == (Ratio.of(3, 10), 28_800)
    hour, fund = 3_600, okx.fund
    peak = units(okx, "1000000", "amount")

    def available(balance: str, now: int) -> int:
        funds = {fund: units(okx, balance, "amount")}
        history = {fund: ((0, peak), (hour, funds[fund]))}
        state = State(now, {okx.symbol: MarketState(okx, 1)}, {}, funds, fund_history=history)
        return get_fund_available(state, okx)[0]

    assert available("700001", 3 * hour) == units(okx, "1", "amount")
    assert available("700000", 3 * hour) == 0
    assert available("700000", 10 * hour) == units(okx, "700000", "amount") - units(
        okx, "490000", "amount"
    )


def test_displayed_liquidation_price_reproduces_bybit_s_published_prices() -> None:
    """PRICE-10 on Bybit's published examples (long 1 BTC at 10,000, 50x: LP 9,850; short at
    8,000, 40x: LP 8,160; MMR 0.5%, margins at entry).

    Both exact roots are whole ticks, so the two displays agree there; Binance, whose app is
    matched by rounding half up (ccxt, third party), publishes no worked number to test.
    """
    bybit = market(BYBIT)
    shown = attrs.evolve(bybit, price_display=PriceDisplay.NEAREST_HALF_UP)
    cases = [(Side.LONG, "10000", "200", 50, "9850"), (Side.SHORT, "8000", "200", 40, "8160")]
    for side, entry, margin, leverage, published in cases:
        unit = isolated(shown, side, "1", entry, margin, leverage)
        assert get_exact_liquidation_price(unit, 0) == price(shown, published)
        assert get_displayed_liquidation_price(unit, 0).price == price(shown, published)


DERIBIT = "deribit-btc-usdc-size-linear.toml"


def _deribit_sol() -> Market:
    """Deribit's SOL_USDC example terms on the BTC file: 2% / 4% + 0.0005% per SOL."""
    with (MARKETS / DERIBIT).open("rb") as handle:
        document = tomllib.load(handle)
    document["market"] |= {"symbol": "SOL_USDC-PERPETUAL", "base_asset": "SOL",
                           "size_slope": "0.000005"}  # fmt: skip
    document["tiers"][0] |= {"mmr": "0.02", "imr": "0.04"}
    return market_from_document(document)


def test_deribit_margin_rates_grow_with_the_position_size() -> None:
    """Deribit, Linear Perpetual support article, its margin tables (read 2026-11-27).

    BTC_USDC at 100,000: IM 2% + 0.005% per BTC, MM 1% + 0.005% per BTC; SOL_USDC at 200:
    IM 4% + 0.0005% per SOL, MM 2% + 0.0005% per SOL. Every row the page publishes, in USDC.
    """
    btc, sol = market(DERIBIT), _deribit_sol()
    rows = [  # market, index price, position size, published IM, published MM
        (btc, "100000", "0", "0", "0"),
        (btc, "100000", "25", "53125", "28125"),
        (btc, "100000", "350", "1312500", None),  # the page's MM row for 350 is cut off
        (sol, "200", "0", "0", "0"),
        (sol, "200", "25", "200.625", "100.625"),
        (sol, "200", "6000", "84000", None),  # no MM row for 6,000 SOL
    ]
    for m, index, size, initial, maintenance in rows:
        lots, mark = units(m, size, "size"), price(m, index)
        position = open_position(m, Side.LONG, lots, mark)
        assert get_initial_margin(m, position, mark) == units(m, initial, "amount")
        if maintenance is not None:
            assert get_maintenance_margin(m, position, mark) == units(m, maintenance, "amount")


def test_hyperliquid_mark_ema_follows_the_published_update_formula() -> None:
    """Hyperliquid, Robust price indices (read 2026-11-27): the mark's 150 s EMA of mid - oracle.

    numerator <- numerator x exp(-t / 150 s) + sample x t, denominator likewise with t, for a
    sample t seconds after the last. Hyperliquid publishes the formula, not numbers: the
    oracle here is that formula in floating point, on samples of ours (every 3 s for ten
    minutes, then a one-minute gap). MARK-5's exact EMA with the file's ten-digit decay and
    its 10^-18 grid stays within 10^-9 of it, relative to the sample range.
    """
    decay = market("hyperliquid-btc-mark-ema.toml").mark.ema_decay
    exact = (Fraction(0), Fraction(0))
    numerator = denominator = 0.0
    times = [*range(0, 600, 3), 660, 663]
    last = None
    for k, time in enumerate(times):
        sample = Fraction((k * 37) % 101 - 50, 2)  # half ticks, as a book mid gives
        elapsed = 0 if last is None else time - last
        last = time
        exact = get_ema_update(exact, sample, elapsed, decay)
        keep = math.exp(-elapsed / 150)
        numerator = numerator * keep + float(sample) * elapsed
        denominator = denominator * keep + elapsed
        if denominator:
            assert abs(float(exact[0] / exact[1]) - numerator / denominator) < 50e-9
