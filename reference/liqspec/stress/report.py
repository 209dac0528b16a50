"""The stress report: per-run rows, per-step rows and the summary as text (spec/15-stress.md).

Amounts are decimal text of the settlement asset and prices decimal text of the quote asset
(OUT-9); shares are exact ratios (OUT-14). The report holds no timing, so its bytes depend
only on the plan and the runs (STRESS-7).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from liqspec.base.conventions import decimal_text, ratio_text
from liqspec.base.errors import InputError, Reason
from liqspec.model.markets import Market, format_price
from liqspec.stress.cascade import RunResult
from liqspec.stress.plan import StressPlan
from liqspec.stress.prediction import Prediction, ShockResult
from liqspec.stress.summary import Difference, Summary

__all__ = [
    "LEVEL_COLUMNS",
    "RUN_COLUMNS",
    "STEP_COLUMNS",
    "cascade_report",
    "difference_rows",
    "journal_record",
    "level_rows",
    "result_from_journal",
    "run_row",
    "step_rows",
    "stress_report",
    "summary_markdown",
]

RUN_COLUMNS = (
    "run", "seed", "liquidated_accounts", "liquidated", "liquidated_long", "liquidated_short",
    "bad_debt", "adl_count", "adl_notional", "fund_end", "fund_low", "fund_drawdown",
    "exhausted", "max_rounds", "cascade_steps", "max_impact", "liquidated_by_tier",
    "fund_income", "fund_paid", "adl_covered", "socialized",
)  # fmt: skip
STEP_COLUMNS = (
    "time", "index", "mark", "low", "high", "rounds", "liquidated_long", "liquidated_short",
    "fund",
)  # fmt: skip
LEVEL_COLUMNS = ("time", "price", "long", "short")


def _amount(market: Market, quantums: int) -> str:
    q = market.settle_quantum
    return decimal_text(quantums * q.num, q.den)


def _share(value: Fraction) -> str:
    """Render an exact share as a percentage with 4 decimals at most, rounded down."""
    basis = value.numerator * 10**6 // value.denominator
    return decimal_text(basis, 10**4) + "%"


def run_row(market: Market, result: RunResult) -> dict[str, Any]:
    """Return one run's figures as text (STRESS-5)."""
    return {
        "run": result.run,
        "seed": result.seed,
        "liquidated_accounts": result.liquidated_accounts,
        "liquidated": _amount(market, result.liquidated),
        "liquidated_long": _amount(market, result.liquidated_long),
        "liquidated_short": _amount(market, result.liquidated_short),
        "bad_debt": _amount(market, result.bad_debt),
        "adl_count": result.adl_count,
        "adl_notional": _amount(market, result.adl_notional),
        "fund_end": _amount(market, result.fund_end),
        "fund_low": _amount(market, result.fund_low),
        "fund_drawdown": _amount(market, result.fund_drawdown),
        "exhausted": result.exhausted,
        "max_rounds": result.max_rounds,
        "cascade_steps": result.cascade_steps,
        "max_impact": _share(result.max_impact),
        "liquidated_by_tier": " ".join(
            f"{tier}:{_amount(market, value)}/{closes}"
            for tier, (value, closes) in enumerate(
                zip(result.liquidated_by_tier, result.closes_by_tier, strict=True), 1
            )
            if closes
        ),
        "fund_income": _amount(market, result.fund_income),
        "fund_paid": _amount(market, result.fund_paid),
        "adl_covered": _amount(market, result.adl_covered),
        "socialized": _amount(market, result.socialized),
    }


def step_rows(market: Market, result: RunResult) -> list[dict[str, Any]]:
    """Return a run's steps as text rows (STRESS-5): the path with and without the cascade."""
    return [
        {
            "time": s.time,
            "index": format_price(market, s.index),
            "mark": format_price(market, s.mark),
            "low": format_price(market, s.low),
            "high": format_price(market, s.high),
            "rounds": s.rounds,
            "liquidated_long": _amount(market, s.liquidated_long),
            "liquidated_short": _amount(market, s.liquidated_short),
            "fund": _amount(market, s.fund),
        }
        for s in result.steps
    ]


def level_rows(market: Market, result: RunResult) -> list[dict[str, Any]]:
    """Return a run's sampled liquidation maps as text rows (STRESS-5): value per price."""
    return [
        {
            "time": time,
            "price": format_price(market, price),
            "long": _amount(market, long),
            "short": _amount(market, short),
        }
        for time, levels in result.level_maps
        for price, long, short in levels
    ]


def stress_report(
    plan: StressPlan,
    summary: Summary,
    results: Sequence[RunResult],
    breaches: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Return the whole report (STRESS-6): the plan's identity, the summary, limits and runs."""
    market = plan.market
    shown_breaches = [
        {
            "limit": b["limit"],
            "value": _shown(market, b["value"]),
            "allowed": _shown(market, b["allowed"]),
        }
        for b in breaches
    ]
    return {
        "stress": plan.name,
        "market": market.symbol,
        "settle_asset": market.settle_asset,
        "seed": plan.seed,
        "runs": summary.runs,
        "fund": _amount(market, plan.fund),
        "summary": {
            "bad_debt_var95": _amount(market, summary.bad_debt_var95),
            "bad_debt_var99": _amount(market, summary.bad_debt_var99),
            "liquidated_lar95": _amount(market, summary.liquidated_lar95),
            "exhausted_runs": summary.exhausted_runs,
            "exhaustion_probability": ratio_text(summary.exhaustion_probability),
            "worst_run": summary.worst_run,
            "worst_bad_debt": _amount(market, summary.worst_bad_debt),
            "max_rounds": summary.max_rounds,
            "cover_1": _amount(market, summary.cover_1),
            "cover_2": _amount(market, summary.cover_2),
            "largest_units": list(summary.largest),
            "fund_covers_2": plan.fund >= summary.cover_2,
        },
        "breaches": shown_breaches,
        "results": [run_row(market, r) for r in results],
    }


def _shown(market: Market, value: object) -> str:
    if isinstance(value, Fraction):
        return ratio_text(value)
    return _amount(market, int(str(value)))


def difference_rows(market: Market, differences: Sequence[Difference]) -> list[dict[str, Any]]:
    """Return the paired differences as text (STRESS-8): amounts in the settlement asset."""
    rows = []
    for d in differences:
        counted = d.figure == "liquidated_accounts"

        def shown(value: int | None, *, counted: bool = counted) -> str | None:
            if value is None:
                return None
            return str(value) if counted else _amount(market, value)

        rows.append({
            "figure": d.figure,
            "mean": _mean(d.mean, Fraction(1, 100))
            if counted
            else _mean(d.mean * _quantum(market), _quantum(market)),
            "low95": shown(d.low),
            "high95": shown(d.high),
            "lower": d.lower,
            "equal": d.equal,
            "higher": d.higher,
        })  # fmt: skip
    return rows


def _quantum(market: Market) -> Fraction:
    q = market.settle_quantum
    return Fraction(q.num, q.den)


def _mean(value: Fraction, step: Fraction) -> str:
    """Render a mean rounded half to even to a multiple of ``step`` (both in one unit).

    >>> _mean(Fraction(25, 3), Fraction(1, 100)), _mean(Fraction(-1, 8), Fraction(1, 100))
    ('8.33', '-0.12')
    """
    units = round(value / step)  # Fraction rounding: half to even
    return decimal_text(units * step.numerator, step.denominator)


def summary_markdown(report: dict[str, Any]) -> list[str]:
    """Return the Markdown lines of a report's summary table and its limits (STRESS-6)."""
    lines = ["| figure | value |", "|---|---|"]
    lines += [f"| {key.replace('_', ' ')} | {value} |" for key, value in
              sorted(report["summary"].items())]  # fmt: skip
    lines += [""]
    lines += [f"**Limit breached:** {b['limit']} = {b['value']} > {b['allowed']}"
              for b in report["breaches"]] or ["Every stress limit holds."]  # fmt: skip
    return lines


# --- the journal of completed runs (--out, --resume) --------------------------------------------

_JOURNAL_INTS = (
    "run", "seed", "liquidated_accounts", "liquidated_long", "liquidated_short", "bad_debt",
    "adl_count", "adl_notional", "fund_start", "fund_end", "fund_low", "fund_drawdown",
    "max_rounds", "cascade_steps", "mark_low", "mark_high", "fund_income", "fund_paid",
    "adl_covered", "socialized",
)  # fmt: skip


def journal_record(set_index: int, result: RunResult) -> dict[str, Any]:
    """Return a run's exact figures as one journal line's object (set 0, or 1 when compared)."""
    record: dict[str, Any] = {"set": set_index, "exhausted": result.exhausted}
    record.update({name: getattr(result, name) for name in _JOURNAL_INTS})
    record["max_impact"] = [result.max_impact.numerator, result.max_impact.denominator]
    record["by_tier"] = [list(result.liquidated_by_tier), list(result.closes_by_tier)]
    return record


def result_from_journal(record: object, where: str) -> tuple[int, RunResult]:
    """Return (set, run result) of one journal line; a line that is not one is refused."""
    keys = {"set", "exhausted", "max_impact", "by_tier", *_JOURNAL_INTS}
    if not isinstance(record, dict) or set(record) != keys:
        raise InputError(Reason.SYNTAX, where, None, "not a run of this journal")
    values = [record[name] for name in ("set", *_JOURNAL_INTS)]
    impact = record["max_impact"]
    plain = all(type(v) is int and v >= 0 for v in values) and type(record["exhausted"]) is bool
    if not plain or not (isinstance(impact, list) and len(impact) == 2
                         and all(type(v) is int for v in impact) and impact[1] > 0):  # fmt: skip
        raise InputError(Reason.WRONG_TYPE, where, None, "a run's figures are whole numbers")
    tiers = record["by_tier"]
    if not (isinstance(tiers, list) and len(tiers) == 2 and all(
        isinstance(column, list) and all(type(v) is int and v >= 0 for v in column)
        for column in tiers
    )):  # fmt: skip
        raise InputError(Reason.WRONG_TYPE, where, None, "by_tier is two lists of counts")
    fields = {name: record[name] for name in _JOURNAL_INTS}
    result = RunResult(
        **fields, exhausted=record["exhausted"], max_impact=Fraction(impact[0], impact[1]),
        liquidated_by_tier=tuple(tiers[0]), closes_by_tier=tuple(tiers[1]),
    )  # fmt: skip
    return record["set"], result


def _percent(share: Fraction) -> str:
    """Render a signed share as percent decimal text: -1/20 -> "-5"."""
    return ratio_text(share * 100)


def cascade_report(prediction: Prediction) -> dict[str, Any]:
    """Return ``liqspec cascade``'s report (STRESS-9..STRESS-11): prices and amounts as text."""
    market = prediction.market

    def shock_row(result: ShockResult) -> dict[str, Any]:
        amounts = {
            name: _amount(market, getattr(result, name))
            for name in ("liquidated_long", "liquidated_short", "liquidated", "fund_start",
                         "fund_end", "fund_loss", "fund_paid", "fund_income", "adl_covered",
                         "socialized", "bad_debt", "adl_need", "map_walk")
        }  # fmt: skip
        return amounts | {
            "shock_percent": _percent(result.shock),
            "index": format_price(market, result.index),
            "mark": format_price(market, result.mark),
            "rounds": result.rounds,
            "path": [format_price(market, p) for p in result.path],
            "liquidated_accounts": result.liquidated_accounts,
            "adl_count": result.adl_count,
            "exhausted": result.exhausted,
        }

    return {
        "market": market.symbol,
        "settle_asset": market.settle_asset,
        "reference_price": format_price(market, prediction.reference),
        "mark": format_price(market, prediction.mark),
        "map": [
            {
                "price": format_price(market, level.price),
                "long": _amount(market, level.long),
                "short": _amount(market, level.short),
                "long_cumulative": _amount(market, level.long_cumulative),
                "short_cumulative": _amount(market, level.short_cumulative),
            }
            for level in prediction.levels
        ],
        "shocks": [shock_row(r) for r in prediction.shocks],
        "scan": {
            "shocks_percent": [_percent(r.shock) for r in prediction.scan],
            "thresholds": [
                {
                    "name": t.name,
                    "shock_percent": None if t.shock is None else _percent(t.shock),
                    "monotone": t.monotone,
                }
                for t in prediction.thresholds
            ],
        },
    }
