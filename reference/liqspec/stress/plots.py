"""The stress test's pictures (spec/15-stress.md), drawn with matplotlib off screen.

A run: the index path without the cascade and the marks with it, the rounds per step, the
insurance fund, the notional liquidated per step by side, the liquidation map over time (a
heatmap of where open positions would be liquidated, with the mark drawn over it) and the loss
waterfall (deficits, then what the fund, ADL and socialization covered, then bad debt). A
batch: the distributions of bad debt and of liquidated notional across runs, with their 95%
and 99% quantiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from liqspec.model.markets import Market
from liqspec.stress.cascade import RunResult
from liqspec.stress.prediction import MapLevel, ShockResult
from liqspec.stress.summary import get_quantile

__all__ = ["plot_cascade", "plot_run", "plot_runs"]


def _pyplot() -> Any:
    import matplotlib as mpl  # noqa: PLC0415 - slow to import; only runs that plot need it

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _price(market: Market, ticks: int) -> float:
    return ticks * market.price_tick.num / market.price_tick.den


def _amount(market: Market, quantums: int) -> float:
    return quantums * market.settle_quantum.num / market.settle_quantum.den


def plot_run(market: Market, result: RunResult, target: Path) -> None:
    """Draw one run's four panels into ``target`` (a PNG file)."""
    plt = _pyplot()
    steps = result.steps
    minutes = [(s.time - steps[0].time) / 60 for s in steps]
    asset = market.settle_asset
    figure, axes = plt.subplots(3, 2, figsize=(13, 12), constrained_layout=True)
    path = axes[0][0]
    path.plot(minutes, [_price(market, s.index) for s in steps], label="index (no cascade)")
    path.plot(minutes, [_price(market, s.low) for s in steps], label="lowest mark in the step")
    path.plot(minutes, [_price(market, s.mark) for s in steps], label="mark after the cascade",
              linestyle=":")  # fmt: skip
    path.set_title(f"{market.symbol}: run {result.run}, price with and without the cascade")
    path.set_xlabel("minutes")
    path.legend()
    rounds = axes[0][1]
    rounds.bar(minutes, [s.rounds for s in steps], width=1.0)
    rounds.set_title("cascade rounds per step")
    rounds.set_xlabel("minutes")
    fund = axes[1][0]
    fund.plot(minutes, [_amount(market, s.fund) for s in steps])
    fund.set_title(f"insurance fund ({asset}) at the end of each step")
    fund.set_xlabel("minutes")
    liquidated = axes[1][1]
    longs = [_amount(market, s.liquidated_long) for s in steps]
    shorts = [_amount(market, s.liquidated_short) for s in steps]
    liquidated.bar(minutes, longs, width=1.0, label="longs")
    liquidated.bar(minutes, shorts, width=1.0, bottom=longs, label="shorts")
    liquidated.set_title(f"notional liquidated per step ({asset})")
    liquidated.set_xlabel("minutes")
    liquidated.legend()
    _heatmap(axes[2][0], market, result)
    _waterfall(axes[2][1], market, result)
    figure.savefig(target, dpi=90)
    plt.close(figure)


_ROWS = 60
"""Price rows of the liquidation heatmap."""


def _heatmap(axis: Any, market: Market, result: RunResult) -> None:
    """Draw the sampled liquidation maps: time across, price up, value liquidatable as colour."""
    import numpy as np  # noqa: PLC0415 - with matplotlib, only when plotting

    steps, maps = result.steps, result.level_maps
    axis.set_title(f"liquidation map: value liquidatable at each price ({market.settle_asset})")
    axis.set_xlabel("minutes")
    if not maps:
        axis.text(0.5, 0.5, "no open position has a liquidation price", ha="center",
                  transform=axis.transAxes)  # fmt: skip
        return
    low = min(s.low for s in steps) * 0.85
    high = max(s.high for s in steps) * 1.15
    edges = np.linspace(_price(market, int(low)), _price(market, int(high)), _ROWS + 1)
    grid = np.zeros((_ROWS, len(maps)))
    for column, (_, levels) in enumerate(maps):
        for price, long, short in levels:
            row = int(np.searchsorted(edges, _price(market, price), side="right")) - 1
            if 0 <= row < _ROWS:
                grid[row, column] += _amount(market, long + short)
    start = steps[0].time
    times = [(time - start) / 60 for time, _ in maps]
    right = times[-1] + (times[-1] - times[0]) / max(1, len(times) - 1)
    from matplotlib.colors import LogNorm  # noqa: PLC0415

    values = np.ma.masked_equal(grid, 0)
    mesh = axis.pcolormesh([*times, right], edges, values, cmap="viridis", shading="flat",
                           norm=LogNorm() if values.count() else None)  # fmt: skip
    axis.figure.colorbar(mesh, ax=axis)
    minutes = [(s.time - start) / 60 for s in steps]
    axis.plot(minutes, [_price(market, s.mark) for s in steps], color="red", linewidth=1,
              label="mark")  # fmt: skip
    axis.legend(loc="upper right")


def _waterfall(axis: Any, market: Market, result: RunResult) -> None:
    """Draw the loss waterfall: the run's deficits and who covered them, in order."""
    covered = (
        ("insurance fund", result.fund_paid),
        ("ADL", result.adl_covered),
        ("socialized", result.socialized),
        ("bad debt", result.bad_debt),
    )
    total = sum(amount for _, amount in covered)
    names = ["deficits", *(name for name, _ in covered)]
    heights = [_amount(market, total), *(_amount(market, amount) for _, amount in covered)]
    bottoms = [0.0]
    left = _amount(market, total)
    for height in heights[1:]:
        left -= height
        bottoms.append(left)
    colours = ["grey", "tab:blue", "tab:orange", "tab:purple", "tab:red"]
    axis.bar(names, heights, bottom=bottoms, color=colours)
    for x, (height, bottom) in enumerate(zip(heights, bottoms, strict=True)):
        axis.text(x, bottom + height, f"{height:,.0f}", ha="center", va="bottom")
    income = _amount(market, result.fund_income)
    axis.set_title(f"loss waterfall ({market.settle_asset}); fund income from fees and "
                   f"takeovers {income:,.0f}")  # fmt: skip


def plot_runs(market: Market, results: Sequence[RunResult], target: Path) -> None:
    """Draw the distributions of bad debt and liquidated notional across runs."""
    plt = _pyplot()
    asset = market.settle_asset
    figure, axes = plt.subplots(1, 2, figsize=(13, 4.5), constrained_layout=True)
    panels = (
        (axes[0], [r.bad_debt for r in results], f"bad debt per run ({asset})"),
        (axes[1], [r.liquidated for r in results], f"notional liquidated per run ({asset})"),
    )
    for axis, values, title in panels:
        axis.hist([_amount(market, v) for v in values], bins=min(30, max(5, len(values) // 2)))
        for level, style in ((Fraction(95, 100), "--"), (Fraction(99, 100), ":")):
            quantile = _amount(market, get_quantile(values, level))
            axis.axvline(quantile, color="black", linestyle=style,
                         label=f"{float(level):.0%} quantile {quantile:,.0f}")  # fmt: skip
        axis.set_title(f"{title}, {len(results)} runs")
        axis.legend()
    figure.savefig(target, dpi=90)
    plt.close(figure)


def plot_cascade(
    market: Market, levels: Sequence[MapLevel], shocks: Sequence[ShockResult], target: Path
) -> None:
    """Draw a state's cumulative liquidation map and each shock's cascade beside it.

    Left: per price, the notional liquidatable once the price reaches it (longs below the
    reference price, shorts above; STRESS-9). Right, on the same price axis: the mark after
    each event of each shock's cascade (STRESS-10), so a path that walks into a dense band of
    the map is a cascade.
    """
    plt = _pyplot()
    figure, (left, right) = plt.subplots(
        1, 2, figsize=(13, 5), sharey=True, constrained_layout=True,
        gridspec_kw={"width_ratios": [3, 2]},
    )  # fmt: skip
    prices = [_price(market, level.price) for level in levels]
    asset = market.settle_asset
    longs = [_amount(market, level.long_cumulative) for level in levels]
    shorts = [_amount(market, level.short_cumulative) for level in levels]
    left.step(longs, prices, where="post", color="tab:red", label="longs (a fall to the price)")
    left.step(shorts, prices, where="pre", color="tab:green", label="shorts (a rise to the price)")
    left.set_xlabel(f"notional liquidatable, cumulative ({asset})")
    left.set_ylabel(f"price ({market.quote_asset})")
    left.set_title(f"{market.symbol}: liquidation map")
    left.legend()
    for shock in shocks:
        path = [_price(market, mark) for mark in shock.path]
        right.plot(range(len(path)), path, marker="o", markersize=3,
                   label=f"{float(shock.shock):+.1%}: {shock.rounds} rounds")  # fmt: skip
    right.set_xlabel("event of the cascade (book, index, trade, then each round)")
    right.set_title("the mark through each shock's cascade")
    right.legend(fontsize="small")
    figure.savefig(target, dpi=90)
    plt.close(figure)
