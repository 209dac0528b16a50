"""The backtest's pictures (spec/14-backtest.md, BT-9), drawn with matplotlib off screen.

One PNG of four panels: the mark path with the closes marked, the insurance fund's balance,
the notional closed per interval, and how far each position's liquidation price was from the
first mark. Paths longer than a few thousand points are drawn from each interval's low and
high, so a crash's wick stays visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from liqspec.backtest.report import Outcome
from liqspec.backtest.routes import Backtest, Result
from liqspec.model.prices import PriceResult, PriceStatus

__all__ = ["plot_backtest"]

_MOST_POINTS = 4000


def plot_backtest(
    backtest: Backtest,
    *,
    result: Result,
    outcomes: Mapping[tuple[str, str], Outcome],
    prices: Mapping[tuple[str, str], PriceResult],
    aggregates: list[dict[str, int]],
    target: Path,
) -> None:
    """Draw the four panels into ``target`` (a PNG file)."""
    import matplotlib as mpl  # noqa: PLC0415 - slow to import; only runs that plot need it

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(2, 2, figsize=(13, 8), constrained_layout=True)
    _path_panel(axes[0][0], backtest, outcomes)
    _fund_panel(axes[0][1], backtest, result)
    _notional_panel(axes[1][0], backtest, aggregates)
    _distance_panel(axes[1][1], backtest, prices)
    figure.savefig(target, dpi=90)
    plt.close(figure)


def _scale(backtest: Backtest, symbol: str) -> float:
    tick = backtest.markets[symbol].price_tick
    return tick.num / tick.den


def _path_panel(axis: Any, backtest: Backtest, outcomes: Mapping[tuple[str, str], Outcome]) -> None:
    for symbol, path in backtest.paths.items():
        times, ticks = path.times, path.ticks
        if len(ticks) > _MOST_POINTS:  # each bucket's low and high, in time order
            width = -(-len(ticks) // (_MOST_POINTS // 2))
            cut = len(ticks) // width * width
            blocks = ticks[:cut].reshape(-1, width)
            times = np.repeat(times[:cut:width], 2)
            ticks = np.column_stack((blocks.min(axis=1), blocks.max(axis=1))).ravel()
        axis.plot(times, ticks * _scale(backtest, symbol), linewidth=0.8, label=symbol)
        closes = [
            (o.closed_at, o.mark)
            for o in outcomes.values()
            if o.market == symbol and o.closed_at is not None and o.mark is not None
        ]
        if closes:
            when, mark = zip(*closes, strict=True)
            axis.scatter(when, np.array(mark) * _scale(backtest, symbol), s=6, color="red",
                         label=f"{symbol} liquidations", zorder=3)  # fmt: skip
    axis.set(title="Mark path and liquidations", xlabel="time", ylabel="price")
    axis.legend(loc="best", fontsize="small")


def _fund_panel(axis: Any, backtest: Backtest, result: Result) -> None:
    times = backtest.times
    for fund in sorted({m.fund for m in backtest.markets.values()}):
        market = next(m for m in backtest.markets.values() if m.fund == fund)
        quantum = market.settle_quantum.num / market.settle_quantum.den
        when, balance = [int(times[0])], [backtest.funds.get(fund, 0)]
        for move in result.moves:
            if move.fund == fund:
                when.append(int(times[move.point]))
                balance.append(move.balance)
        when.append(int(times[-1]))
        balance.append(balance[-1])
        axis.step(when, np.array(balance, dtype=float) * quantum, where="post", label=fund)
    axis.set(title="Insurance fund balance", xlabel="time", ylabel="balance")
    axis.legend(loc="best", fontsize="small")


def _notional_panel(axis: Any, backtest: Backtest, aggregates: list[dict[str, int]]) -> None:
    starts = [row["start"] for row in aggregates]
    width = (starts[1] - starts[0]) if len(starts) > 1 else 1
    edges = [*starts, starts[-1] + width]
    for market in {m.fund: m for m in backtest.markets.values()}.values():
        quantum = market.settle_quantum.num / market.settle_quantum.den
        values = [row[f"notional:{market.fund}"] * quantum for row in aggregates]
        axis.stairs(values, edges, fill=True, label=market.fund)  # one artist, however many bars
    axis.set(title="Notional liquidated per interval", xlabel="time", ylabel="notional")
    axis.legend(loc="best", fontsize="small")


def _distance_panel(
    axis: Any, backtest: Backtest, prices: Mapping[tuple[str, str], PriceResult]
) -> None:
    distances = [
        100.0 * abs(int(backtest.paths[market].ticks[0]) - price)
        / int(backtest.paths[market].ticks[0])
        for (_, market), found in prices.items() if found.status is PriceStatus.AT
        for price in (int(found.price or 0),)
    ]  # fmt: skip
    axis.hist(distances, bins=50)
    axis.set(
        title="Distance of liquidation prices from the first mark",
        xlabel="distance (%)", ylabel="positions",
    )  # fmt: skip
