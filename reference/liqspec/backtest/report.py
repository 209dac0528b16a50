"""What a backtest reports (spec/14-backtest.md, BT-5, BT-9): outcomes, aggregates, summary.

Everything here is read off a result's facts, the same way whichever route produced them, so
the two routes' reports are equal exactly when their facts are.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import frozen

from liqspec.backtest.routes import Backtest, Result
from liqspec.base.errors import InputError, Reason
from liqspec.model.markets import Market, format_amount, format_price, format_size, get_value
from liqspec.model.prices import PriceResult, PriceStatus

__all__ = [
    "Outcome",
    "check_interval",
    "get_aggregates",
    "get_comparison",
    "get_fund_of_units",
    "get_outcomes",
    "get_summary",
    "interval_rows",
    "write_outputs",
]

MAX_INTERVALS = 1_000_000
"""Most aggregate rows a backtest writes (BT-5)."""

OUTCOME_COLUMNS = (
    "unit", "owner", "mode", "market", "side", "size", "entry_price", "wallet",
    "liquidation_price", "status", "flagged_at", "closed_at", "mark", "price", "shortfall",
    "deleveraged",
)  # fmt: skip


@frozen
class Outcome:
    """What happened to one position (BT-5); times are path times, amounts in quantums."""

    unit: str
    market: str
    status: str
    """``liquidated`` (closed by the procedure), ``flagged`` (in liquidation when the path
    ends), ``deleveraged`` (reduced by ADL) or ``safe``."""
    flagged_at: int | None = None
    closed_at: int | None = None
    mark: int | None = None
    price: int | None = None
    shortfall: int = 0
    deleveraged: int = 0


def get_outcomes(backtest: Backtest, result: Result) -> dict[tuple[str, str], Outcome]:
    """Per (unit, market): the first flag, the close and its loss beyond bankruptcy (BT-5)."""
    times = backtest.times.tolist()
    flagged: dict[str, int] = {}
    for point, unit_id in result.flags:
        flagged.setdefault(unit_id, times[point])
    running = set(result.open)
    closes = {(c.unit, c.market): c for c in result.closes}
    reduced: dict[tuple[str, str], int] = defaultdict(int)
    for _, unit_id, symbol, lots in result.deleveraged:
        reduced[(unit_id, symbol)] += lots
    outcomes = {}
    for unit in backtest.units:
        for position in unit.positions:
            key = (unit.id, position.market)
            close = closes.get(key)
            if close is not None:
                outcomes[key] = Outcome(
                    *key, "liquidated", flagged.get(unit.id), times[close.point], close.mark,
                    close.price, close.shortfall, reduced[key],
                )  # fmt: skip
                continue
            status = "flagged" if unit.id in running else "deleveraged" if reduced[key] else "safe"
            outcomes[key] = Outcome(*key, status, flagged.get(unit.id), deleveraged=reduced[key])
    return outcomes


def get_fund_of_units(backtest: Backtest) -> dict[str, str]:
    """Return the fund each unit's deficits draw on: its first market's (BT-5)."""
    return {u.id: backtest.markets[u.positions[0].market].fund for u in backtest.units}


def check_interval(backtest: Backtest, interval: int) -> int:
    """Return how many intervals of width ``interval`` the path spans; at most a million."""
    span = int(backtest.times[-1]) - int(backtest.times[0])
    count = span // interval + 1
    if count > MAX_INTERVALS:
        detail = f"at most {MAX_INTERVALS:,} intervals; the path spans {span}"
        raise InputError(Reason.OUT_OF_RANGE, "--interval", interval, detail)
    return count


def get_aggregates(backtest: Backtest, result: Result, interval: int) -> list[dict[str, int]]:
    """Return per interval: closes, and per fund the notional, shortfall, bad debt, balance.

    The balance is the fund's at the interval's end (BT-5); amounts are in quantums.
    """
    times = backtest.times
    start = int(times[0])
    count = check_interval(backtest, interval)
    funds = sorted({market.fund for market in backtest.markets.values()})
    rows: list[dict[str, int]] = [
        {"start": start + k * interval, "closed": 0} for k in range(count)
    ]
    for row in rows:
        row.update({f"{name}:{fund}": 0 for fund in funds for name in _PER_FUND})

    def row_of(point: int) -> dict[str, int]:
        return rows[(int(times[point]) - start) // interval]

    for close in result.closes:
        market = backtest.markets[close.market]
        row = row_of(close.point)
        row["closed"] += 1
        row[f"notional:{market.fund}"] += get_value(market, close.size, close.mark)
        row[f"shortfall:{market.fund}"] += close.shortfall
    fund_of = get_fund_of_units(backtest)
    for point, unit_id, amount in result.bad_debt:
        row_of(point)[f"bad_debt:{fund_of[unit_id]}"] += amount
    ends: dict[int, dict[str, int]] = defaultdict(dict)
    for move in result.moves:
        ends[(int(times[move.point]) - start) // interval][move.fund] = move.balance
    balance = {fund: backtest.funds.get(fund, 0) for fund in funds}
    for k, row in enumerate(rows):
        balance.update(ends.get(k, {}))
        row.update({f"fund:{fund}": balance[fund] for fund in funds})
    return rows


_PER_FUND = ("notional", "shortfall", "bad_debt")


def get_summary(
    backtest: Backtest, result: Result, outcomes: Mapping[tuple[str, str], Outcome]
) -> dict[str, Any]:
    """Return the headline figures of a run, JSON-ready (amounts as decimal text)."""
    statuses: dict[str, int] = defaultdict(int)
    for outcome in outcomes.values():
        statuses[outcome.status] += 1
    closed = [o.closed_at for o in outcomes.values() if o.closed_at is not None]
    fund_of = get_fund_of_units(backtest)
    funds: dict[str, dict[str, str]] = {}
    for market in {m.fund: m for m in backtest.markets.values()}.values():
        fund = market.fund
        start = backtest.funds.get(fund, 0)
        balances = [start, *(m.balance for m in result.moves if m.fund == fund)]
        taken = [(c, backtest.markets[c.market]) for c in result.closes
                 if backtest.markets[c.market].fund == fund]  # fmt: skip
        bad = sum(amount for _, unit_id, amount in result.bad_debt if fund_of[unit_id] == fund)
        notional = sum(get_value(m, c.size, c.mark) for c, m in taken)
        funds[fund] = {
            "start": format_amount(market, start),
            "end": format_amount(market, balances[-1]),
            "lowest": format_amount(market, min(balances)),
            "liquidated_notional": format_amount(market, notional),
            "shortfall": format_amount(market, sum(c.shortfall for c, _ in taken)),
            "bad_debt": format_amount(market, bad),
        }
    return {
        "route": result.route,
        "reasons": list(result.reasons),
        "points": len(backtest.times),
        "units": len(backtest.units),
        "positions": len(outcomes),
        "outcomes": {s: statuses[s] for s in ("liquidated", "flagged", "deleveraged", "safe")},
        "first_close": min(closed, default=None),
        "last_close": max(closed, default=None),
        "deleveraged_positions": len({(u, m) for _, u, m, _ in result.deleveraged}),
        "funds": funds,
    }


def get_comparison(
    ours: Mapping[tuple[str, str], Outcome], theirs: Mapping[tuple[str, str], Outcome]
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Per position, how the other parameter set's outcome differs (BT-9)."""
    counts = dict.fromkeys(("only_first", "only_second", "earlier", "later", "same_time"), 0)
    rows = []
    for key, first in ours.items():
        second = theirs[key]
        a, b = first.closed_at, second.closed_at
        if a is None and b is None:
            continue
        change = (
            "only_first" if b is None else "only_second" if a is None
            else "earlier" if b < a else "later" if b > a else "same_time"
        )  # fmt: skip
        counts[change] += 1
        rows.append({"unit": key[0], "market": key[1], "first": a, "second": b, "change": change})
    return counts, rows


# --- files -------------------------------------------------------------------------------------


def outcome_rows(
    backtest: Backtest,
    outcomes: Mapping[tuple[str, str], Outcome],
    prices: Mapping[tuple[str, str], PriceResult],
) -> list[dict[str, str]]:
    """Return the per-position CSV's rows, in population order, amounts as decimal text."""
    rows = []
    for unit in backtest.units:
        for position, entry in zip(unit.positions, unit.entry_prices, strict=True):
            market = backtest.markets[position.market]
            outcome = outcomes[(unit.id, position.market)]
            found = prices[(unit.id, position.market)]
            liquidation = found.price if found.status is PriceStatus.AT else None
            rows.append({
                "unit": unit.id, "owner": unit.owner, "mode": unit.mode.value,
                "market": market.symbol, "side": "long" if position.side > 0 else "short",
                "size": format_size(market, position.size),
                "entry_price": _price(market, entry),
                "wallet": format_amount(market, unit.wallet),
                "liquidation_price": _price(market, liquidation),
                "status": outcome.status, "flagged_at": _text(outcome.flagged_at),
                "closed_at": _text(outcome.closed_at), "mark": _price(market, outcome.mark),
                "price": _price(market, outcome.price),
                "shortfall": format_amount(market, outcome.shortfall),
                "deleveraged": format_size(market, outcome.deleveraged),
            })  # fmt: skip
    return rows


def _price(market: Market, ticks: int | None) -> str:
    return "" if ticks is None else format_price(market, ticks)


def _text(value: int | None) -> str:
    return "" if value is None else str(value)


def interval_rows(backtest: Backtest, aggregates: list[dict[str, int]]) -> list[dict[str, str]]:
    """Return the aggregates with amounts as decimal text of each fund's asset (BT-9)."""
    markets = {m.fund: m for m in backtest.markets.values()}
    rows = []
    for row in aggregates:
        shown = {}
        for name, value in row.items():
            fund = name.partition(":")[2]
            shown[name] = format_amount(markets[fund], value) if fund else str(value)
        rows.append(shown)
    return rows


def to_csv(rows: list[dict[str, Any]], columns: tuple[str, ...] | None = None) -> str:
    """Render rows as CSV with a header, columns in the given or the first row's order."""
    out = io.StringIO()
    names = list(columns or (rows[0] if rows else ()))
    writer = csv.DictWriter(out, fieldnames=names, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_outputs(folder: Path, files: Mapping[str, str]) -> None:
    """Write each named text file into ``folder`` (created if missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():  # each file whole or not at all
        partial = folder / f".{name}.part"
        partial.write_text(text, encoding="utf-8")
        partial.replace(folder / name)
