"""Audit logs: a venue's starting state, then its events with its records (spec/16-audit.md).

The first line is a scenario document without events (STATE-10, markets inline); every other
line is one event in the scenario's event format with the records the venue says it produced,
in the output format (chapter 9). The log is read a line at a time, so its length is not
bounded by memory (AUDIT-1).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from attrs import frozen

from liqspec.audit.integrity import GENESIS, get_line_digest, get_normalised_text
from liqspec.base.conventions import Ratio, to_units
from liqspec.base.errors import InputError, Reason
from liqspec.base.files import check_schema, load_document, open_regular_file, read_json_lines
from liqspec.engine.outputs import scenario_report
from liqspec.engine.scenarios import (
    Scenario,
    event_from_row,
    load_scenario,
    scenario_from_document,
)
from liqspec.engine.state import Event, ParameterChange
from liqspec.model.markets import FeeRule, LimitRule, LiquidationParams, Market

__all__ = [
    "ACTION_KINDS",
    "Action",
    "Deleverage",
    "Ended",
    "FundMove",
    "LogLine",
    "Started",
    "Step",
    "TakenOver",
    "Unpaid",
    "Waiting",
    "get_log_lines",
    "open_log",
    "parse_actions",
]


@frozen
class Started:
    """``liquidation-started``: the venue put the unit into liquidation."""

    account: str


@frozen
class Step:
    """``liquidation-step``: the venue closed lots of the unit's position at these fills."""

    account: str
    market: str
    selling: bool
    levels: tuple[tuple[int, int], ...]
    fee: int
    position_before: int | None


@frozen
class Waiting:
    """``liquidation-waiting``: the venue let a step wait (cooldown, halt, no liquidity)."""

    account: str
    market: str


@frozen
class Ended:
    """``liquidation-ended``: the venue ended the unit's liquidation."""

    account: str


@frozen
class TakenOver:
    """``takeover``: the fund took the whole position at ``price``."""

    account: str
    market: str
    size: int
    price: int


@frozen
class FundMove:
    """``fund-change``: the fund moved by ``delta`` to ``balance``, for ``cause``."""

    fund: str
    delta: int
    balance: int
    cause: str


@frozen
class Deleverage:
    """``deleveraged``: a deficit allocated by ADL or socialization."""

    market: str
    method: str
    deficit: int
    allocations: tuple[tuple[str, int, int], ...]
    """(account, lots closed, share paid) per counterparty, in the venue's order."""
    unallocated: int


@frozen
class Unpaid:
    """``bad-debt``: the unit is left with this negative balance."""

    account: str
    amount: int


Action = Started | Step | Waiting | Ended | TakenOver | FundMove | Deleverage | Unpaid

ACTION_KINDS = frozenset({
    "liquidation-started", "liquidation-step", "liquidation-waiting", "liquidation-ended",
    "takeover", "fund-change", "deleveraged", "bad-debt",
})  # fmt: skip
"""The records an audit reads; any other record kind is the venue's own and is not checked."""


@frozen
class LogLine:
    """One line after the first: its number, its event, the venue's records and the chain."""

    number: int
    event: Event
    records: tuple[dict[str, Any], ...]
    digest: str
    """The hash chain after this line (AUDIT-6), lowercase hexadecimal."""
    text: bytes = b""
    """The line's normalised text (AUDIT-6)."""
    end: int = 0
    """The byte offset just after the line (for progress)."""


@contextmanager
def open_log(path: Path) -> Iterator[tuple[Scenario, Iterator[LogLine], int, bytes]]:
    """Open an audit log: its starting state, its lines one at a time, its size in bytes.

    The fourth item is the normalised text of the first line (AUDIT-6).
    """
    where = str(path)
    with open_regular_file(path) as handle:
        lines = read_json_lines(handle, where)
        first = next(lines, None)
        if first is None:
            raise InputError(Reason.SYNTAX, "<file>", None, "the log is empty", where)
        number, header = first
        scenario = _header(header, f"{where}: line {number}")
        markets = {symbol: entry.market for symbol, entry in scenario.state.markets.items()}
        first_text = get_normalised_text(header)
        digest = get_line_digest(GENESIS, first_text)

        def read() -> Iterator[LogLine]:
            nonlocal digest
            for number, line in lines:
                located = f"{where}: line {number}"
                try:
                    check_schema(line, "audit-line")
                    event = event_from_row(markets, line["event"], "event")
                except InputError as error:
                    raise error.located(located) from None
                text = get_normalised_text(line)
                digest = get_line_digest(digest, text)
                yield LogLine(number, event, tuple(line["records"]), digest, text, handle.tell())

        yield scenario, read(), os.fstat(handle.fileno()).st_size, first_text


def get_log_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the audit log of a scenario file's replay by the reference (AUDIT-1).

    The first object is the scenario without its events, its market files inline; then one
    per accepted event with the records the reference produced. A rejected event left the
    state unchanged and produced nothing, so it is not in the log.
    """
    document = load_document(path)
    header = {key: value for key, value in document.items() if key != "events"}
    spec = dict(header["scenario"])
    spec["markets"] = [load_document(path.parent / name) for name in spec["markets"]]
    yield {**header, "scenario": spec}
    scenario = load_scenario(path)
    for i, event in enumerate(scenario.events):
        if isinstance(event, ParameterChange):
            detail = "a parameters event names a file; an audit log has its markets inline"
            raise InputError(Reason.OPTION_NOT_SUPPORTED, f"events[{i}]", "parameters", detail)
    for step in scenario_report(scenario)["steps"]:
        if step["rejected"] is None:
            yield {"event": step["event"], "records": step["records"]}


def _header(header: dict[str, Any], where: str) -> Scenario:
    """Read the first line: a scenario document without events, markets inline (STATE-10)."""
    if "events" in header:
        detail = "the first line is the starting state; events follow on their own lines"
        raise InputError(Reason.UNKNOWN_KEY, "events", None, detail, where)
    try:
        scenario = scenario_from_document({**header, "events": []})
    except InputError as error:
        raise error.located(where) from None
    for symbol, entry in scenario.state.markets.items():
        _check_auditable(symbol, entry.market.liquidation, where)
    return scenario


def _check_auditable(symbol: str, params: LiquidationParams, where: str) -> None:
    """AUDIT-1: a logged step carries one fee at the fund's fixed rate, checked against LIQ-6.

    So a liquidator's fee or its ramp, an implied fund rate (LIQ-12), the fillable-price rule
    (LIQ-13) and a drawdown floor on the fund (INS-8) are refused.
    """
    refused = {
        "liquidator_fee": params.liquidator_fee.num > 0,
        "liquidator_fee_step": params.liquidator_fee_step.num > 0,
        "fee_rule": params.fee_rule is FeeRule.IMPLIED,
        "limit_rule": params.limit_rule is LimitRule.FILLABLE,
        "adl_drawdown": params.adl_drawdown.num > 0,
    }
    for key, found in refused.items():
        if found:
            value = getattr(params, key)
            shown = value.value if isinstance(value, enum.Enum) else str(value)
            detail = "the audit's log carries one fixed-rate fee per step, checked against LIQ-6"
            field = f"markets.{symbol}.liquidation.{key}"
            raise InputError(Reason.OPTION_NOT_SUPPORTED, field, shown, detail, where)


def parse_actions(
    rows: tuple[dict[str, Any], ...],
    markets: dict[str, Market],
    quantum_of: Callable[[str], Ratio],
) -> tuple[Action, ...]:
    """Return the records an audit checks, in order, on the grids (CONV-3, AUDIT-1).

    ``quantum_of`` gives the amount quantum of an account's asset or of a fund.
    """
    actions = []
    for i, row in enumerate(rows):
        if row["kind"] in ACTION_KINDS:
            where = f"records[{i}]"
            try:
                check_schema(row, "audit-action")
            except InputError as error:
                raise InputError(error.reason, f"{where}.{error.field}", error.value,
                                 error.detail) from None  # fmt: skip
            actions.append(_action(row, where, markets, quantum_of))
    return tuple(actions)


def _action(
    row: dict[str, Any], where: str, markets: dict[str, Market], quantum_of: Callable[[str], Ratio]
) -> Action:
    kind = row["kind"]
    if kind == "liquidation-started":
        return Started(row["account"])
    if kind == "liquidation-ended":
        return Ended(row["account"])
    if kind == "fund-change":
        quantum = quantum_of(row["fund"])
        delta = _amount(row["delta"], quantum, f"{where}.delta")
        balance = _amount(row["balance"], quantum, f"{where}.balance")
        return FundMove(row["fund"], delta, balance, row["cause"])
    if kind == "bad-debt":
        amount = _amount(row["amount"], quantum_of(row["account"]), f"{where}.amount")
        return Unpaid(row["account"], amount)
    market = _market(markets, row["market"], f"{where}.market")
    return _MARKET_ACTIONS[kind](row, where, market)


def _waiting(row: dict[str, Any], _where: str, market: Market) -> Waiting:
    return Waiting(row["account"], market.symbol)


def _takeover(row: dict[str, Any], where: str, market: Market) -> TakenOver:
    size = to_units(row["size"], market.lot_size, f"{where}.size", "lot size")
    price = to_units(row["price"], market.price_tick, f"{where}.price", "price tick")
    return TakenOver(row["account"], market.symbol, size, price)


def _step(row: dict[str, Any], where: str, market: Market) -> Step:
    levels = tuple(
        (
            to_units(price, market.price_tick, f"{where}.levels[{i}][0]", "price tick"),
            to_units(size, market.lot_size, f"{where}.levels[{i}][1]", "lot size"),
        )
        for i, (price, size) in enumerate(row["levels"])
    )
    for i, (price, size) in enumerate(levels):
        if price <= 0 or size <= 0:
            detail = "a fill has a positive price and a positive size"
            raise InputError(Reason.OUT_OF_RANGE, f"{where}.levels[{i}]", row["levels"][i], detail)
    fee = _amount(row["fee"], market.settle_quantum, f"{where}.fee")
    if fee < 0:
        raise InputError(Reason.OUT_OF_RANGE, f"{where}.fee", row["fee"], "a fee is not negative")
    before = row.get("position_before")
    position = None
    if before is not None:
        position = to_units(before, market.lot_size, f"{where}.position_before", "lot size")
    selling = row["side"] == "sell"
    return Step(row["account"], market.symbol, selling, levels, fee, position)


def _deleverage(row: dict[str, Any], where: str, market: Market) -> Deleverage:
    quantum = market.settle_quantum
    allocations = []
    for i, share in enumerate(row["allocations"]):
        field = f"{where}.allocations[{i}]"
        lots = to_units(share["size"], market.lot_size, f"{field}.size", "lot size")
        paid = _amount(share["share"], quantum, f"{field}.share")
        if lots < 0 or paid < 0:
            detail = "an allocation closes and pays amounts of at least 0"
            raise InputError(Reason.OUT_OF_RANGE, field, None, detail)
        allocations.append((share["account"], lots, paid))
    deficit = _amount(row["deficit"], quantum, f"{where}.deficit")
    unallocated = _amount(row["unallocated"], quantum, f"{where}.unallocated")
    return Deleverage(market.symbol, row["method"], deficit, tuple(allocations), unallocated)


_MARKET_ACTIONS: dict[str, Callable[[dict[str, Any], str, Market], Action]] = {
    "liquidation-waiting": _waiting,
    "takeover": _takeover,
    "deleveraged": _deleverage,
    "liquidation-step": _step,
}


def _amount(text: object, quantum: Ratio, field: str) -> int:
    return to_units(text, quantum, field, "quantum")


def _market(markets: dict[str, Market], symbol: str, field: str) -> Market:
    if symbol not in markets:
        raise InputError(Reason.UNKNOWN_MARKET, field, symbol, "not among the log's markets")
    return markets[symbol]
