"""Benchmark: events per second through the transition function with 10,000 accounts.

Run with `make bench`. 10,000 cross accounts each hold one BTCUSDT position (longs and
shorts, leverage 5x to 60x) on the Binance 2024-10-24 table; the mark then falls 0.1% per
event, with a fresh deep book every fifth event, so liquidations start and spread as it goes.
Prints events per second, liquidation records produced, and the time per event.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from liqspec import Side, load_market
from liqspec.engine.records import LiquidationStep, Takeover
from liqspec.engine.state import (
    AccountState,
    Book,
    BookUpdate,
    Event,
    Level,
    MarketState,
    MarkUpdate,
    State,
    apply_fill,
)
from liqspec.engine.transition import process_event
from liqspec.model.markets import format_price

ROOT = Path(__file__).resolve().parent.parent
MARKET = load_market(ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml")
START = 600_000  # 60,000.0 in ticks of 0.1


def book_around(mark: int) -> Book:
    """Twenty bid levels 0.01% apart with 5 BTC each; one ask."""
    step = mark // 10_000
    bids = tuple(Level(mark - step * (i + 1), 5_000) for i in range(20))
    return Book(bids, (Level(mark + step, 5_000),))


def initial_state(accounts: int) -> State:
    """``accounts`` accounts, 0.1 to 1 BTC each, leverage 5x to 60x, half long half short."""
    built = {}
    for i in range(accounts):
        size = 100 + (i * 37) % 901  # lots of 0.001 BTC
        leverage = 5 + (i * 13) % 56
        side = Side.LONG if i % 2 == 0 else Side.SHORT
        collateral = size * START * MARKET.value_factor // leverage
        account = AccountState(f"acct{i:05d}", "USDT", collateral)
        account = apply_fill(account, MARKET, int(side) * size, START)
        built[account.id] = account
    market = MarketState(MARKET, START, book_around(START))
    return State(0, {"BTCUSDT": market}, built, {"USDT": 10**15})


def events(count: int) -> list[Event]:
    """The mark falls 0.1% per event; every fifth event is a fresh book."""
    out: list[Event] = []
    mark = START
    for i in range(count):
        if i % 5 == 4:
            out.append(BookUpdate("BTCUSDT", book_around(mark)))
        else:
            mark -= mark // 1_000
            out.append(MarkUpdate("BTCUSDT", mark))
    return out


def main() -> None:
    """Replay and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args()
    state = initial_state(args.accounts)
    steps = takeovers = 0
    start = time.perf_counter()
    for event in events(args.events):
        state, records = process_event(state, event)
        steps += sum(isinstance(r, LiquidationStep) for r in records)
        takeovers += sum(isinstance(r, Takeover) for r in records)
    elapsed = time.perf_counter() - start
    fell_to = format_price(MARKET, state.markets["BTCUSDT"].mark)
    print(f"accounts: {args.accounts:,}; events: {args.events}; mark fell to {fell_to}")
    print(f"liquidation steps: {steps:,}; takeovers: {takeovers:,}")
    per_event_ms = elapsed / args.events * 1000
    print(f"events per second: {args.events / elapsed:,.2f} ({per_event_ms:,.1f} ms per event)")


if __name__ == "__main__":
    main()
