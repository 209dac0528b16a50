"""Pin vectors: one small scenario per rule of the procedure and per edge rule (VEC-6).

A :class:`Pin` is a scenario built to show one behaviour, with an id that names it and a
predicate, :attr:`Pin.shows`, that states the behaviour on the expected output. The
predicate keeps the id honest: ``tests/conformance/test_pins.py`` checks it on the reference,
so a pin cannot silently stop pinning what its id says. The pins themselves are in
:mod:`liqspec.conformance.pins_liquidation` (chapters 7 and 8) and
:mod:`liqspec.conformance.pins_edges` (rejections, chapters 6 and 10 to 12).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import attrs

from liqspec.base.files import get_bundled
from liqspec.conformance.vectors import load_toml

__all__ = [
    "Pin",
    "market",
    "position",
    "records",
    "records_of",
    "scenario",
    "step",
]

Output = dict[str, Any]


@attrs.frozen
class Pin:
    """One pinned behaviour: ``scenario/<slug>``, what it shows, and the rules it pins.

    ``shows`` is given the expected output, or ``{"error": reason}`` when the pin's scenario
    file is itself rejected. ``invariants`` are those of spec/invariants.md the pin exercises.
    """

    slug: str
    description: str
    rules: tuple[str, ...]
    document: dict[str, Any]
    shows: Callable[[Output], bool]
    features: tuple[str, ...] = ()
    invariants: tuple[str, ...] = ()


@cache
def _bundled_market(stem: str) -> str:
    return json.dumps(load_toml(get_bundled() / "markets" / f"{stem}.toml"))


def market(stem: str = "binance-btcusdt-2024-10-24", **tables: dict[str, Any]) -> dict[str, Any]:
    """Return bundled market ``stem`` as a document, with ``tables`` merged into its tables.

    ``market(liquidation={"fee": "0.002"})`` sets one key of ``[liquidation]``.
    """
    document: dict[str, Any] = json.loads(_bundled_market(stem))
    for table, values in tables.items():
        document.setdefault(table, {}).update(values)
    return document


def position(market_symbol: str, side: str, size: str, entry_price: str) -> dict[str, str]:
    """Return one position of an account entry."""
    return {"market": market_symbol, "side": side, "size": size, "entry_price": entry_price}


def scenario(
    name: str,
    markets: list[dict[str, Any]],
    accounts: list[dict[str, Any]],
    events: list[dict[str, Any]],
    **tables: Any,
) -> dict[str, Any]:
    """Return a scenario document (STATE-10) with its markets inline.

    ``tables`` are the other top-level tables as they appear in a file: ``marks``, ``books``,
    ``funds``, ``liquidation``, ``mark``, ``breakers``, ``risk``, and ``time`` (the start).
    ``name`` is cut to the 32 characters a scenario name may have.
    """
    short = name[:32].rstrip("-.")
    header: dict[str, Any] = {"name": short, "description": name, "markets": markets}
    if "time" in tables:
        header["time"] = tables.pop("time")
    document: dict[str, Any] = {"format": 1, "scenario": header}
    document.update(copy.deepcopy(tables))
    document["accounts"] = accounts
    document["events"] = events
    return document


def step(output: Output, index: int) -> Output:
    """Return step ``index`` of an expected scenario output."""
    found: Output = output["steps"][index]
    return found


def records(output: Output, index: int, kind: str) -> list[Output]:
    """Return the records of ``kind`` emitted by event ``index``."""
    return [r for r in step(output, index)["records"] or () if r["kind"] == kind]


def records_of(output: Output, kind: str) -> Iterator[tuple[int, Output]]:
    """Yield ``(event index, record)`` for every record of ``kind`` in the whole output."""
    for item in output["steps"]:
        for record in item["records"] or ():
            if record["kind"] == kind:
                yield item["index"], record
