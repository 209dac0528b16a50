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
