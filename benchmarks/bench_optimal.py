"""Benchmark: one liquidation step under ``optimal`` (LIQ-11) against one under ``health``.

Run with `make bench` (or `python benchmarks/bench_optimal.py [--levels N]`). The same state
for both: carol, long 5 BTC on Binance BTCUSDT (2024-10-24 tiers) with a 10-return volatility
history, in liquidation at 59,200 against a book of N bid levels 5 USDT apart, 0.1 to 0.5 BTC
each. Prints, for each policy, how many times a second it sizes the step (the health
target's search, against LIQ-11's search, which includes it) and runs the whole step; and
the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable
from pathlib import Path

import attrs

from liqspec import load_market
from liqspec.base.conventions import Ratio
from liqspec.engine.execution import get_impact_limit, get_optimal_sizing, get_target_size
from liqspec.engine.liquidation import process_liquidation_step
from liqspec.engine.records import LiquidationSized
from liqspec.engine.state import AccountState, Book, Level, MarketState, State, apply_fill
from liqspec.model.markets import Policy

ROOT = Path(__file__).resolve().parent.parent
BINANCE = load_market(ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml")


def state_for(policy: Policy, levels: int) -> State:
    """Carol in liquidation under ``policy``, with ``levels`` bid levels."""
    params = attrs.evolve(
        BINANCE.liquidation, policy=policy, risk_aversion=Ratio.of(1, 10**5), cooldown=60
    )
    market = attrs.evolve(
        BINANCE, liquidation=params, risk=attrs.evolve(BINANCE.risk, vol_window=10)
    )
    bids = tuple(Level(591_950 - 50 * k, 100 + 100 * (k % 5)) for k in range(levels))
    history = tuple((t, 600_000 - 800 * t + (1_500 if t % 2 else 0)) for t in range(11))
    entry = MarketState(market, 592_000, Book(bids, ()), history=history)
    account = apply_fill(AccountState("carol", "USDT", 0), market, 5_000, 600_000)
    account = attrs.evolve(account, balance=5_300 * 10**8)  # E = 1,300 < MM = 1,430 at 59,200
    return State(0, {"BTCUSDT": entry}, {"carol": account}, {"USDT": 0})


def per_second(call: Callable[[], object]) -> float:
    """Best of five timings of ``call``."""
    timer = timeit.Timer(call)
    count, _ = timer.autorange()
    return count / min(timer.repeat(repeat=5, number=count))


def sizing(state: State, policy: Policy) -> Callable[[], object]:
    """The policy's sizing of carol's step at the impact limit of the step."""
    account = state.accounts["carol"]
    entry = state.markets["BTCUSDT"]
    impact = get_impact_limit(entry.market, entry.mark, selling=True)
    if policy is Policy.OPTIMAL:
        return lambda: get_optimal_sizing(state, account, 0, impact)
    return lambda: get_target_size(state, account, 0, impact)


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, default=30, help="bid levels in the book, 1..500")
    args = parser.parse_args()
    if not 1 <= args.levels <= 500:
        parser.error(f"--levels {args.levels}: need 1..500 (bids 5 USDT apart under 59,195)")
    health = state_for(Policy.HEALTH, args.levels)
    optimal = state_for(Policy.OPTIMAL, args.levels)
    _, records = process_liquidation_step(optimal, "carol")
    sized = [r for r in records if isinstance(r, LiquidationSized)]
    considered = len(sized[0].considered) if sized else 0
    size_fast = per_second(sizing(health, Policy.HEALTH))
    size_slow = per_second(sizing(optimal, Policy.OPTIMAL))
    fast = per_second(lambda: process_liquidation_step(health, "carol"))
    slow = per_second(lambda: process_liquidation_step(optimal, "carol"))
    plural = "" if considered == 1 else "s"
    print(f"{args.levels} bid levels; the optimal sizing considers {considered} candidate{plural}")
    print(f"sizing: health {size_fast:,.0f}/s, optimal {size_slow:,.0f}/s: "
          f"{size_fast / size_slow:.2f}x")  # fmt: skip
    print(f"whole step: health {fast:,.0f}/s, optimal {slow:,.0f}/s: {fast / slow:.2f}x "
          "(the steps close different amounts: health its target, optimal more)")  # fmt: skip


if __name__ == "__main__":
    main()
