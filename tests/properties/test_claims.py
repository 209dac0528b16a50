"""AUDIT-8 against Binance's published closed form for an isolated position.

For a linear isolated position alone in its unit, Binance documents the liquidation price as
the root of wallet + side x size x (P - entry) = size x P x mmr - cum, with the tier's rate
and maintenance amount ("cum"). The reference must agree with that root rounded to the tick
on the liquidatable side (inclusive trigger: the root itself counts), and a calculator that
keeps tier 1's rate for a position whose notional is in tier 2 must be named as such.
"""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from liqspec.audit.claims import Claim, check_claim
from liqspec.model.accounts import Leg, MarginMode, MarginUnit, Side, open_position
from liqspec.model.market_files import load_market
from tests.data import MARKETS

BTCUSDT = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")
TICK = Fraction(1, 10)


def root(side: int, size: Fraction, entry: int, wallet: int, mmr: Fraction, cum: int) -> Fraction:
    """The price at which equity equals maintenance: Binance's isolated, one-position form."""
    return (size * entry * side - wallet - cum) / (size * (side - mmr))


def first_liquidatable(side: int, price: Fraction) -> Fraction:
    """The tick at which an inclusive-trigger position is first liquidatable."""
    ticks = price / TICK
    return (math.floor(ticks) if side > 0 else math.ceil(ticks)) * TICK


@given(
    st.sampled_from([1, -1]),
    st.integers(2_000, 6_000),  # thousandths of a BTC: 2 to 6 BTC, in tier 2 at any root
    st.integers(3, 10),  # leverage
)
def test_the_reference_is_binance_s_root_and_tier_1_is_named(
    side: int, lots: int, leverage: int
) -> None:
    size, entry = Fraction(lots, 1000), 60_000
    wallet = math.ceil(size * entry / leverage)
    expected = first_liquidatable(side, root(side, size, entry, wallet, Fraction(5, 1000), 50))
    held = Side.LONG if side > 0 else Side.SHORT
    margin = wallet * 10**8  # USDT's quantum is 1e-8
    position = open_position(BTCUSDT, held, lots, entry * 10, margin_mode=MarginMode.ISOLATED,
                             isolated_margin=margin)  # fmt: skip
    unit = MarginUnit("p", "USDT", BTCUSDT.settle_quantum, margin,
                      (Leg(BTCUSDT, position, entry * 10),), BTCUSDT.trigger)  # fmt: skip
    verdict = check_claim(Claim("p", BTCUSDT, unit, entry * 10, expected), Fraction(0))
    assert (verdict.agrees, verdict.cause) == (True, "ok")
    as_tier_1 = first_liquidatable(side, root(side, size, entry, wallet, Fraction(4, 1000), 0))
    if abs(as_tier_1 - expected) > TICK:
        verdict = check_claim(Claim("p", BTCUSDT, unit, entry * 10, as_tier_1), Fraction(0))
        assert (verdict.agrees, verdict.cause) == (False, "tier 1")
        assert (verdict.liquidation_ticks or 0) * side < 0  # farther from entry


CYBERUSDT = load_market(MARKETS / "binance-cyberusdt-2023-08-31.toml")


def cross_root(side: int, size: Fraction, entry: int, wallet: int, other_pnl: Fraction,
               other_mm: Fraction) -> Fraction:  # fmt: skip
    """Binance's cross form: the other positions' PnL adds to the wallet, their MM to the need."""
    return (size * entry * side - wallet - other_pnl + other_mm - 50) / (
        size * (side - Fraction(5, 1000))
    )


@given(
    st.sampled_from([1, -1]),
    st.integers(2_000, 6_000),  # thousandths of a BTC, in tier 2 at any root
    st.integers(3, 10),  # leverage
    st.sampled_from([1, -1]),  # the CYBER position's side
    st.integers(4_000, 6_000),  # CYBER's entry, thousandths of a USDT
    st.integers(4_000, 6_000),  # CYBER's mark
)
def test_a_cross_position_beside_another_is_binance_s_cross_root_and_others_is_named(
    side: int, lots: int, leverage: int, other_side: int, other_entry: int, other_mark: int
) -> None:
    size, entry = Fraction(lots, 1000), 60_000
    wallet = math.ceil(size * entry / leverage)
    # 1,000 CYBER (10,000 lots of 0.1) in tier 1: MM = 2.5% of the notional at the mark
    other_pnl = other_side * 1000 * Fraction(other_mark - other_entry, 1000)
    other_mm = Fraction(25, 1000) * 1000 * Fraction(other_mark, 1000)
    expected = first_liquidatable(side, cross_root(side, size, entry, wallet, other_pnl, other_mm))
    margin = wallet * 10**8
    btc = open_position(BTCUSDT, Side.LONG if side > 0 else Side.SHORT, lots, entry * 10,
                        margin_mode=MarginMode.CROSS)  # fmt: skip
    cyber = open_position(CYBERUSDT, Side.LONG if other_side > 0 else Side.SHORT, 10_000,
                          other_entry, margin_mode=MarginMode.CROSS)  # fmt: skip
    legs = (Leg(BTCUSDT, btc, entry * 10), Leg(CYBERUSDT, cyber, other_mark))
    unit = MarginUnit("p", "USDT", BTCUSDT.settle_quantum, margin, legs, BTCUSDT.trigger)
    verdict = check_claim(Claim("p", BTCUSDT, unit, entry * 10, expected), Fraction(0))
    assert (verdict.agrees, verdict.cause) == (True, "ok")
    alone = first_liquidatable(side, root(side, size, entry, wallet, Fraction(5, 1000), 50))
    if abs(alone - expected) > TICK:
        verdict = check_claim(Claim("p", BTCUSDT, unit, entry * 10, alone), Fraction(0))
        assert (verdict.agrees, verdict.cause) == (False, "others")
