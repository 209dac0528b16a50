"""Seeded generators of mark paths and populations (spec/14-backtest.md, BT-8).

They draw with numpy's PCG64 generator from a seed, in floating point, and write exact
decimal text on the market's grids: the draws are inputs, never part of the engine. One seed
gives one file on a given numpy version; the shipped samples are files, so they never drift.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt
from attrs import frozen

from liqspec.base.conventions import decimal_text
from liqspec.model.accounts import Position, Side
from liqspec.model.margin import get_initial_rate
from liqspec.model.markets import (
    ContractKind,
    Market,
    format_price,
    get_value,
)

__all__ = [
    "PathModel",
    "PathSpec",
    "PopulationSpec",
    "generate_path",
    "generate_population",
    "path_csv",
]

_YEAR = 365 * 24 * 3600


class PathModel(enum.Enum):
    """The shape of a generated path."""

    GBM = "gbm"
    """Geometric Brownian motion with Poisson jumps."""
    REGIMES = "regimes"
    """Like gbm, with volatility switching between a calm and a stormy regime."""
    CRASH = "crash"
    """Like gbm, with a crash of a given depth, then a partial recovery."""
    TWO_LEGS = "two-legs"
    """Like crash, with the fall in two equal legs (in log terms) a pause apart."""
    BRIDGE = "bridge"
    """A Brownian bridge: gbm with jumps, pinned to end a fall of ``depth`` below the start."""


@frozen
class PathSpec:
    """Parameters of a generated path; volatilities are annualised, times in seconds."""

    model: PathModel = PathModel.GBM
    points: int = 1440
    step: int = 60
    start: str = "60000"
    volatility: float = 0.6
    jump_rate: float = 2.0
    """Expected jumps per day."""
    jump_size: float = 0.02
    """Standard deviation of a jump's log return."""
    storm: float = 3.0
    """regimes: the stormy volatility as a multiple of the calm one."""
    switch: float = 0.002
    """regimes: the chance per step of switching regime."""
    crash_at: float = 0.5
    """crash: where the fall starts, as a fraction of the path."""
    depth: float = 0.3
    """crash: the fall, as a fraction of the price."""
    fall: int = 30
    """crash: steps the fall takes."""
    recovery: float = 0.5
    """crash: the part of the fall won back afterwards."""
    recover: int = 240
    """crash: steps the recovery takes."""
    pause: int = 30
    """two-legs: steps between the end of the first leg and the start of the second."""


def generate_path(
    market: Market, spec: PathSpec, seed: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Return (times, ticks) of a seeded path on ``market``'s grid, clipped to its domain."""
    rng = np.random.default_rng(seed)
    n, dt = spec.points, spec.step / _YEAR
    sigma = np.full(n - 1, spec.volatility)
    if spec.model is PathModel.REGIMES:
        flips = rng.random(n - 1) < spec.switch
        stormy = np.cumsum(flips) % 2 == 1
        sigma = np.where(stormy, spec.volatility * spec.storm, spec.volatility)
    returns = rng.normal(-0.5 * sigma**2 * dt, sigma * np.sqrt(dt))
    jumps = rng.random(n - 1) < spec.jump_rate * spec.step / 86400
    returns += np.where(jumps, rng.normal(0.0, spec.jump_size, n - 1), 0.0)
    if spec.model is PathModel.CRASH:
        returns += _crash(spec, n)
    if spec.model is PathModel.TWO_LEGS:
        returns += _two_legs(spec, n)
    levels = np.concatenate(([0.0], np.cumsum(returns)))
    if spec.model is PathModel.BRIDGE:  # pin the last log level to log(1 - depth)
        share = np.arange(n) / (n - 1)
        levels += share * (np.log1p(-spec.depth) - levels[-1])
    tick = market.price_tick
    start = float(spec.start) * tick.den / tick.num
    prices = start * np.exp(levels)
    ticks = np.clip(np.rint(prices), 1, market.max_price).astype(np.int64)
    times = np.arange(n, dtype=np.int64) * spec.step
    return times, ticks


def _crash(spec: PathSpec, n: int) -> npt.NDArray[np.float64]:
    """Log returns of the crash template: a fall of ``depth``, then ``recovery`` of it back."""
    shape = np.zeros(n - 1)
    at = min(int(spec.crash_at * (n - 1)), n - 1)
    fall = max(1, min(spec.fall, n - 1 - at))
    drop = np.log1p(-spec.depth)
    shape[at : at + fall] = drop / fall
    back = max(0, min(spec.recover, n - 1 - at - fall))
    if back:
        regained = np.log((1 - spec.depth) + spec.depth * spec.recovery) - drop
        shape[at + fall : at + fall + back] = regained / back
    return shape


def _two_legs(spec: PathSpec, n: int) -> npt.NDArray[np.float64]:
    """Log returns of two legs each falling half of log(1 - depth), ``pause`` steps apart."""
    shape = np.zeros(n - 1)
    leg = np.log1p(-spec.depth) / 2
    first = min(int(spec.crash_at * (n - 1)), n - 1)
    second = first + spec.fall + spec.pause
    for at in (first, second):
        fall = max(0, min(spec.fall, n - 1 - at))
        if fall:
            shape[at : at + fall] = leg / fall
    end = second + spec.fall
    back = max(0, min(spec.recover, n - 1 - end))
    if back:
        regained = np.log((1 - spec.depth) + spec.depth * spec.recovery) - 2 * leg
        shape[end : end + back] = regained / back
    return shape


def path_csv(market: Market, times: npt.NDArray[np.int64], ticks: npt.NDArray[np.int64]) -> str:
    """Render a path as the CSV that :func:`~liqspec.backtest.inputs.load_path` reads (BT-1)."""
    lines = ["time,price"]
    lines.extend(
        f"{t},{format_price(market, p)}"
        for t, p in zip(times.tolist(), ticks.tolist(), strict=True)
    )
    return "\n".join(lines) + "\n"


@frozen
class PopulationSpec:
    """Parameters of a generated population."""

    positions: int = 1000
    median_notional: str = "20000"
    """Median position notional, in the quote asset (lognormal, sigma 1.5)."""
    leverage: float = 10.0
    """Median leverage (lognormal, sigma 0.8), capped by the tier's maximum."""
    long_share: float = 0.6
    isolated_share: float = 0.7
    whales: int = 0
    """Large cross accounts added after the others (ids w0, w1, ...): the concentration."""
    whale_notional: str = "5000000"
    """Each large account's notional, in the quote asset."""


def generate_population(market: Market, entry: int, spec: PopulationSpec, seed: int) -> str:
    """Return a population CSV of seeded positions opened at ``entry`` ticks (BT-2, BT-8).

    Each position's wallet is its notional over its leverage, rounded up to the quantum:
    the initial margin at that leverage, so nobody starts beyond the tier's limit.
    """
    rng = np.random.default_rng(seed)
    n = spec.positions
    notionals = float(spec.median_notional) * rng.lognormal(0.0, 1.5, n)
    leverages = np.maximum(1.0, spec.leverage * rng.lognormal(0.0, 0.8, n))
    longs = rng.random(n) < spec.long_share
    isolated = rng.random(n) < spec.isolated_share
    lot, tick, quantum = market.lot_size, market.price_tick, market.settle_quantum
    price = entry * tick.num / tick.den
    if market.contract is ContractKind.LINEAR:  # a lot is lot_size of the base asset
        quote_per_lot = price * lot.num / lot.den
    else:  # a lot is lot_size contracts of contract_value each, in the quote asset
        quote_per_lot = lot.num / lot.den * market.contract_value.num / market.contract_value.den
    rows = ["id,mode,market,side,size,entry_price,wallet"]

    def row(name: str, notional: float, leverage: float, long: bool, mode: str) -> str:
        lots = max(1, int(notional / quote_per_lot))
        value = get_value(market, lots, entry)
        held = Position(market.symbol, Side.LONG if long else Side.SHORT, lots, value)
        rate = get_initial_rate(market, held, value)  # the tier's, or the size's (MARGIN-13)
        leverage = min(leverage, rate.den / rate.num)
        wallet = -(-value * 1000 // max(1000, int(leverage * 1000)))
        return (
            f"{name},{mode},{market.symbol},{'long' if long else 'short'},"
            f"{decimal_text(lots * lot.num, lot.den)},{format_price(market, entry)},"
            f"{decimal_text(wallet * quantum.num, quantum.den)}"
        )

    for i in range(n):
        mode = "isolated" if isolated[i] else "cross"
        rows.append(row(f"p{i}", notionals[i], leverages[i], bool(longs[i]), mode))
    if spec.whales:  # drawn after the others, so adding whales changes no other line
        whale_leverages = np.maximum(1.0, spec.leverage * rng.lognormal(0.0, 0.8, spec.whales))
        whale_longs = rng.random(spec.whales) < spec.long_share
        for i in range(spec.whales):
            notional = float(spec.whale_notional)
            rows.append(row(f"w{i}", notional, whale_leverages[i], bool(whale_longs[i]), "cross"))
    return "\n".join(rows) + "\n"
