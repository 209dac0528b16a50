"""Benchmark: margin + trigger evaluations and liquidation-price computations per second.

Run with `make bench` (or `python benchmarks/bench_margin.py`). Prints one line per figure.
The account is a 10-position cross unit on copies of the Binance BTCUSDT 2024-10-24 table
(12 continuous tiers), positions spread over the first tiers, marks near entry.
"""

from __future__ import annotations

import math
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import attrs
from peers import DecimalCross, isolated_liquidation_price

from liqspec import (
    Leg,
    MarginUnit,
    Side,
    get_bankruptcy_price,
    get_liquidation_price,
    is_liquidatable,
    load_market,
    open_position,
)

ROOT = Path(__file__).resolve().parent.parent
BINANCE = load_market(ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml")


def cross_unit(legs: int, collateral_usdt: int) -> MarginUnit:
    """A cross unit of ``legs`` positions, alternating sides, 0.5 to 5 BTC near 60,000."""
    built = []
    for i in range(legs):
        market = attrs.evolve(BINANCE, symbol=f"BTC{i}USDT")
        side = Side.LONG if i % 2 == 0 else Side.SHORT
        entry = 600_000 + 1_000 * i  # ticks of 0.1
        position = open_position(market, side, 500 * (i + 1), entry)
        built.append(Leg(market, position, entry + 3_000 * (1 if i % 3 else -1)))
    quantum = BINANCE.settle_quantum
    collateral = collateral_usdt * 10**8
    return MarginUnit("cross", "USDT", quantum, collateral, tuple(built), BINANCE.trigger)


def rate(action: Callable[[], object], seconds: float = 1.0) -> tuple[float, int]:
    """Return calls per second of ``action`` over about ``seconds``, and the call count."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            action()
        calls += 100
    return calls / elapsed, calls


def main() -> None:
    """Print the figures."""
    cross = cross_unit(10, 50_000)  # about 33x on 1.65M USDT gross notional
    isolated = cross_unit(1, 3_000)  # 0.5 BTC at 60,000 with 10x margin
    figures: dict[str, Callable[[], object]] = {
        "margin+trigger, 10-position cross account": lambda: is_liquidatable(cross),
        "liquidation price, 1 isolated position": lambda: get_liquidation_price(isolated, 0),
        "liquidation price, 1 leg of a 10-position cross": lambda: get_liquidation_price(cross, 3),
        "bankruptcy price, 1 isolated position": lambda: get_bankruptcy_price(isolated, 0),
    }
    for name, action in figures.items():
        per_second, calls = rate(action)
        print(f"{name}: {per_second:,.0f}/s ({calls:,} calls; result {action()})")
    compare_with_peers(cross, isolated)


def compare_with_peers(cross: MarginUnit, isolated: MarginUnit) -> None:
    """Time the engine and the naive Decimal peers side by side, after checking they agree."""
    peer = DecimalCross(cross)
    assert peer.is_liquidatable() == is_liquidatable(cross)
    engine_price = get_liquidation_price(isolated, 0).price
    tick = isolated.legs[0].market.price_tick
    assert isolated_liquidation_price(isolated) * tick.den / tick.num == engine_price
    pairs = {
        "margin+trigger, 10-position cross account": (
            lambda: is_liquidatable(cross), peer.is_liquidatable),
        "liquidation price, 1 isolated position": (
            lambda: get_liquidation_price(isolated, 0),
            lambda: isolated_liquidation_price(isolated)),
    }  # fmt: skip
    for name, (ours, theirs) in pairs.items():
        engine_rate, peer_rate = best_rates(ours, theirs)
        print(
            f"{name}: engine {engine_rate:,.0f}/s, naive Decimal peer {peer_rate:,.0f}/s "
            f"(engine/peer {engine_rate / peer_rate:.2f}x, best of {ROUNDS} alternating rounds)"
        )


ROUNDS = 15


def best_rates(ours: Callable[[], object], theirs: Callable[[], object]) -> tuple[float, float]:
    """Return the best rate of each over ROUNDS alternating rounds of about 0.05 s.

    On a shared, noisy machine the fastest round is the least disturbed one, and alternating
    gives both sides the same chances.
    """
    _, calls = rate(ours, 0.05)
    engine = peer = math.inf
    for _ in range(ROUNDS):
        engine = min(engine, timeit.timeit(ours, number=calls))
        peer = min(peer, timeit.timeit(theirs, number=calls))
    return calls / engine, calls / peer


if __name__ == "__main__":
    main()
