"""Stress files: the market, the generators, the book model and the runs (spec/15-stress.md).

A stress file is read once into a :class:`StressPlan`. Everything a run needs is derived from
the plan and the run's index (STRESS-1), so a run can be replayed alone, on any worker.
"""

from __future__ import annotations

import enum
import hashlib
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
from attrs import frozen

from liqspec.backtest.generators import PathModel, PathSpec, PopulationSpec
from liqspec.base.conventions import parse_decimal, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import check_schema, load_document
from liqspec.model.market_files import (
    breaker_params_from,
    liquidation_params_from,
    load_market,
    mark_params_from,
    risk_params_from,
)
from liqspec.model.market_rules import validate_market
from liqspec.model.markets import Market, MarkSource

__all__ = [
    "Ladder",
    "LadderShape",
    "Limits",
    "StressPlan",
    "get_run_seed",
    "load_stress",
    "stress_from_document",
]


MAX_RUNS = 10**6
MAX_POINTS = 10**7
MAX_POSITIONS = 10**6
MAX_LEVELS = 10**4
"""Bounds of the counts of a stress file (CONV-2: sizes are bounded)."""


class LadderShape(enum.Enum):
    """How full depth spreads over a side's levels (STRESS-2)."""

    FLAT = "flat"
    """Every level holds ``depth``."""
    SQRT = "sqrt"
    """Level k holds ``depth x (2k - 1)``: the first k levels hold ``depth x k**2``, so a sale's
    price impact grows as the square root of its size."""


@frozen
class Ladder:
    """The book model of STRESS-2: ``levels`` per side, ``gap`` ticks apart, ``depth`` lots each.

    ``resilience`` is the share of a level's missing depth restored at each step. While the
    index is below ``thin_below`` x the path's start, the baseline depth is ``thin_depth`` x
    the full depth (rounded up); ``thin_below`` 0 never thins. ``shape`` spreads the full
    depth over the levels.
    """

    levels: int
    gap: int
    depth: int
    resilience: Fraction = Fraction(1)
    thin_below: Fraction = Fraction(0)
    thin_depth: Fraction = Fraction(1)
    shape: LadderShape = LadderShape.FLAT


@frozen
class Limits:
    """The thresholds of STRESS-6; None is no limit. Bad debt in settlement quantums."""

    bad_debt_var99: int | None = None
    exhaustion_probability: Fraction | None = None


@frozen
class StressPlan:
    """Everything a stress test reads (STRESS-1)."""

    name: str
    market: Market
    fund: int
    runs: int
    seed: int
    path: PathSpec
    population: PopulationSpec
    ladder: Ladder
    limits: Limits = Limits()
    description: str = ""


def get_run_seed(seed: int, run: int) -> int:
    """Return run ``run``'s seed: the first 8 bytes of SHA-256 of ``"seed/run"`` (STRESS-1).

    >>> get_run_seed(7, 0) == get_run_seed(7, 0) != get_run_seed(7, 1)
    True
    """
    digest = hashlib.sha256(f"{seed}/{run}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def load_stress(
    path: str | os.PathLike[str], *, market_file: str | os.PathLike[str] | None = None
) -> StressPlan:
    """Read and check a stress file; its market file is relative to it (STRESS-1).

    With ``market_file``, that market file takes the place of the one the stress file names,
    with the same overrides: the same runs under other parameters (STRESS-8).
    """
    where = str(path)
    document = load_document(path)
    try:
        return stress_from_document(document, Path(path).parent, market_file=market_file)
    except InputError as error:
        raise (error if error.source else error.located(where)) from None


def stress_from_document(
    document: dict[str, Any], folder: Path, *, market_file: str | os.PathLike[str] | None = None
) -> StressPlan:
    """Build a :class:`StressPlan` from a parsed stress document (STRESS-1)."""
    check_schema(document, "stress")
    head = document["stress"]
    path = folder / head["market"] if market_file is None else Path(market_file)
    market = _market(document, path)
    path = _path(document.get("path", {}))
    to_units(path.start, market.price_tick, "path.start", "price tick")  # on the grid
    fund = to_units(head.get("fund", "0"), market.settle_quantum, "stress.fund", "quantum")
    if fund < 0:
        raise InputError(Reason.NEGATIVE_BALANCE, "stress.fund", head["fund"], "a fund is >= 0")
    return StressPlan(
        name=head["name"],
        market=market,
        fund=fund,
        runs=_whole(head, "runs", "stress.runs", least=1, most=MAX_RUNS),
        seed=_whole(head, "seed", "stress.seed", least=0, most=2**63 - 1),
        path=path,
        population=_population(document.get("population", {})),
        ladder=_ladder(document["book"], market),
        limits=_limits(document.get("limits", {}), market),
        description=head.get("description", ""),
    )


def _market(document: dict[str, Any], path: Path) -> Market:
    """Load the market file at ``path`` and apply the stress file's overrides."""
    try:
        market = load_market(path)
    except InputError as error:  # names the entry of the stress file, and the market file
        inner = "stress.market" if error.field == "<file>" else f"stress.market -> {error.field}"
        raise InputError(error.reason, inner, error.value, error.detail, error.source) from None
    market = attrs.evolve(
        market,
        mark=mark_params_from(document.get("mark", {"source": "clamped"}), market.mark),
        liquidation=liquidation_params_from(
            document.get("liquidation", {}), market.settle_quantum, market.liquidation
        ),
        breakers=breaker_params_from(document.get("breakers", {}), market.breakers),
        risk=risk_params_from(document.get("risk", {}), market.risk),
    )
    if market.mark.source is MarkSource.EVENT:
        detail = "a cascade moves a derived mark (MARK-1): median or clamped"
        raise InputError(Reason.MARK_PARAMS, "mark.source", "event", detail)
    validate_market(market)
    return market


def _fraction(table: dict[str, Any], key: str, field: str, default: str) -> Fraction:
    num, den = parse_decimal(table.get(key, default), field)
    return Fraction(num, den)


def _share(table: dict[str, Any], key: str, field: str, default: str) -> Fraction:
    value = _fraction(table, key, field, default)
    if not 0 <= value <= 1:
        raise InputError(Reason.OUT_OF_RANGE, field, table[key], "a share between 0 and 1")
    return value


def _path(table: dict[str, Any]) -> PathSpec:
    """BT-8's generator parameters; decimals become the generator's floats (STRESS-4)."""
    base = PathSpec()
    values: dict[str, Any] = {}
    for key, default in attrs.asdict(base).items():
        if key not in table:
            continue
        if key == "model":
            values[key] = PathModel(table[key])
        elif key == "start":
            _positive(table, key, f"path.{key}")
            values[key] = str(table[key])
        elif isinstance(default, int):
            least = {"points": 2, "recover": 0, "pause": 0}.get(key, 1)
            values[key] = _whole(table, key, f"path.{key}", least=least, most=MAX_POINTS)
        else:
            values[key] = float(_fraction(table, key, f"path.{key}", "0"))
    return attrs.evolve(base, **values)


def _population(table: dict[str, Any]) -> PopulationSpec:
    base = PopulationSpec()
    values: dict[str, Any] = {}
    for key, default in attrs.asdict(base).items():
        if key not in table:
            continue
        field = f"population.{key}"
        if key in {"median_notional", "whale_notional"}:
            _positive(table, key, field)
            values[key] = str(table[key])
        elif isinstance(default, int):
            least = 0 if key == "whales" else 1
            values[key] = _whole(table, key, field, least=least, most=MAX_POSITIONS)
        elif key.endswith("_share"):
            values[key] = float(_share(table, key, field, "0"))
        else:
            values[key] = float(_positive(table, key, field))
    return attrs.evolve(base, **values)


def _whole(table: dict[str, Any], key: str, field: str, *, least: int, most: int) -> int:
    """Read a count: decimal text of a whole number in ``least .. most`` (CONV-1)."""
    value = _fraction(table, key, field, "0")
    if value.denominator != 1 or not least <= value <= most:
        detail = f"a whole number from {least} to {most}"
        raise InputError(Reason.OUT_OF_RANGE, field, table[key], detail)
    return int(value)


def _positive(table: dict[str, Any], key: str, field: str) -> Fraction:
    value = _fraction(table, key, field, "0")
    if value <= 0:
        raise InputError(Reason.NOT_POSITIVE, field, table[key], "must be above 0")
    return value


def _ladder(table: dict[str, Any], market: Market) -> Ladder:
    gap = to_units(table["gap"], market.price_tick, "book.gap", "tick")
    depth = to_units(table["depth"], market.lot_size, "book.depth", "lot")
    for field, value in (("book.gap", gap), ("book.depth", depth)):
        if value <= 0:
            raise InputError(Reason.NOT_POSITIVE, field, table[field[5:]], "must be above 0")
    resilience = _share(table, "resilience", "book.resilience", "1")
    if resilience == 0:
        detail = "a book that never refills cannot model a run of steps"
        raise InputError(Reason.NOT_POSITIVE, "book.resilience", table["resilience"], detail)
    return Ladder(
        levels=_whole(table, "levels", "book.levels", least=1, most=MAX_LEVELS),
        gap=gap,
        depth=depth,
        resilience=resilience,
        thin_below=_share(table, "thin_below", "book.thin_below", "0"),
        thin_depth=_share(table, "thin_depth", "book.thin_depth", "1"),
        shape=LadderShape(table.get("shape", "flat")),
    )


def _limits(table: dict[str, Any], market: Market) -> Limits:
    var99 = table.get("bad_debt_var99")
    probability = table.get("exhaustion_probability")
    return Limits(
        bad_debt_var99=None
        if var99 is None
        else to_units(var99, market.settle_quantum, "limits.bad_debt_var99", "quantum"),
        exhaustion_probability=None
        if probability is None
        else _share(table, "exhaustion_probability", "limits.exhaustion_probability", "0"),
    )
