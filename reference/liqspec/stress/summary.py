"""Figures across runs, the limits and the runs' execution (spec/15-stress.md, STRESS-6/7).

Runs are independent: each derives everything from the plan and its index (STRESS-1). The
executors only choose where a run is computed; results are ordered by run index before any
figure is taken, so every figure is the same for any executor and worker count (STRESS-7).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction
from typing import Any

import attrs
from attrs import frozen

from liqspec.backtest.inputs import Unit
from liqspec.base.errors import InputError, Reason
from liqspec.model.accounts import Leg, MarginUnit
from liqspec.model.margin import get_unit_terms
from liqspec.model.markets import Market
from liqspec.stress.cascade import RunResult, get_population, process_run
from liqspec.stress.plan import StressPlan

__all__ = [
    "COMPARED",
    "Difference",
    "Summary",
    "get_breaches",
    "get_cover",
    "get_default_loss",
    "get_difference",
    "get_differences",
    "get_quantile",
    "get_summary",
    "run_batch",
    "run_stress",
]


def get_quantile(values: Sequence[int], level: Fraction) -> int:
    """Return the ``level`` quantile: the ceil(level x n)-th smallest value (STRESS-6).

    >>> losses = [5, 1, 4, 2, 3]
    >>> get_quantile(losses, Fraction(95, 100)), get_quantile(losses, Fraction(1, 5))
    (5, 1)
    """
    ordered = sorted(values)
    rank = -(-level.numerator * len(ordered) // level.denominator)
    return ordered[max(rank, 1) - 1]


def get_default_loss(market: Market, unit: Unit, price: int) -> int:
    """Return what ``unit`` would leave unpaid if it defaulted with the mark at ``price``.

    Its positions valued at ``price`` against its wallet: max(0, -equity), in quantums.
    """
    legs = tuple(Leg(market, position, price) for position in unit.positions)
    margin = MarginUnit(unit.id, unit.asset, market.settle_quantum, unit.wallet, legs,
                        market.trigger)  # fmt: skip
    return max(0, -get_unit_terms(margin)[0])


def get_cover(
    market: Market, units: Sequence[Unit], worst: RunResult, count: int
) -> tuple[tuple[str, ...], int]:
    """Return the ``count`` largest units by entry notional and their default loss (STRESS-6).

    Each defaults at the worst mark of ``worst`` for its side: the lowest for a net long, the
    highest for a net short; ties by id.
    """
    largest = sorted(units, key=lambda u: (-sum(p.entry_value for p in u.positions), u.id))
    chosen = largest[:count]
    loss = 0
    for unit in chosen:
        net = sum(int(p.side) * p.size for p in unit.positions)
        price = worst.mark_low if net > 0 else worst.mark_high
        loss += get_default_loss(market, unit, price)
    return tuple(u.id for u in chosen), loss


@frozen
class Summary:
    """The figures across runs (STRESS-6); amounts in settlement quantums."""

    runs: int
    bad_debt_var95: int
    bad_debt_var99: int
    liquidated_lar95: int
    exhausted_runs: int
    worst_run: int
    """The run with the most bad debt, then the most liquidated notional, then the lowest index."""
    worst_bad_debt: int
    max_rounds: int
    cover_1: int
    cover_2: int
    """The default loss of the one and the two largest units at the worst run's worst marks."""
    largest: tuple[str, ...]

    @property
    def exhaustion_probability(self) -> Fraction:
        """Return the share of runs in which the fund did not cover a deficit."""
        return Fraction(self.exhausted_runs, self.runs)


def get_summary(results: Sequence[RunResult], market: Market, units: Sequence[Unit]) -> Summary:
    """Return the figures of STRESS-6 over ``results``, of a population of ``units``."""
    bad_debt = [r.bad_debt for r in results]
    worst = max(results, key=lambda r: (r.bad_debt, r.liquidated, -r.run))
    _, cover_1 = get_cover(market, units, worst, 1)
    largest, cover_2 = get_cover(market, units, worst, 2)
    return Summary(
        runs=len(results),
        bad_debt_var95=get_quantile(bad_debt, Fraction(95, 100)),
        bad_debt_var99=get_quantile(bad_debt, Fraction(99, 100)),
        liquidated_lar95=get_quantile([r.liquidated for r in results], Fraction(95, 100)),
        exhausted_runs=sum(r.exhausted for r in results),
        worst_run=worst.run,
        worst_bad_debt=worst.bad_debt,
        max_rounds=max(r.max_rounds for r in results),
        cover_1=cover_1,
        cover_2=cover_2,
        largest=largest,
    )


def get_breaches(plan: StressPlan, summary: Summary) -> list[dict[str, Any]]:
    """Return the limits the summary breaches, each with its value and limit (STRESS-6)."""
    breaches: list[dict[str, Any]] = []
    limits = plan.limits
    if limits.bad_debt_var99 is not None and summary.bad_debt_var99 > limits.bad_debt_var99:
        breaches.append(
            {"limit": "bad_debt_var99", "value": summary.bad_debt_var99,
             "allowed": limits.bad_debt_var99}
        )  # fmt: skip
    allowed = limits.exhaustion_probability
    if allowed is not None and summary.exhaustion_probability > allowed:
        breaches.append(
            {"limit": "exhaustion_probability", "value": summary.exhaustion_probability,
             "allowed": allowed}
        )  # fmt: skip
    return breaches


# --- two parameter sets on the same runs (STRESS-8) --------------------------------------------

COMPARED = ("bad_debt", "liquidated", "liquidated_accounts", "adl_notional", "fund_low")
"""The run figures compared between two parameter sets (STRESS-8)."""

_Z95 = Decimal("1.96")


@frozen
class Difference:
    """Paired differences second - first of one figure over the runs (STRESS-8).

    ``mean`` is exact; ``low`` and ``high`` bound the normal-approximation 95% interval of the
    mean, rounded outward to whole units of the figure (None with fewer than 2 runs).
    """

    figure: str
    mean: Fraction
    low: int | None
    high: int | None
    lower: int
    """Runs in which the second parameter set's figure is lower."""
    equal: int
    higher: int


def get_difference(
    figure: str, first: Sequence[RunResult], second: Sequence[RunResult]
) -> Difference:
    """Return the paired differences of ``figure`` between two lists of the same runs."""
    pairs = [(getattr(a, figure), getattr(b, figure)) for a, b in zip(first, second, strict=True)]
    deltas = [b - a for a, b in pairs]
    n = len(deltas)
    mean = Fraction(sum(deltas), n)
    low = high = None
    if n > 1:
        variance = sum(((d - mean) * (d - mean) for d in deltas), Fraction(0)) / (n - 1)
        spread = Decimal(variance.numerator) / Decimal(variance.denominator)
        half = _Z95 * (spread / n).sqrt()
        centre = Decimal(mean.numerator) / Decimal(mean.denominator)
        low = int((centre - half).to_integral_value(ROUND_FLOOR))
        high = int((centre + half).to_integral_value(ROUND_CEILING))
    return Difference(
        figure, mean, low, high,
        lower=sum(d < 0 for d in deltas), equal=sum(d == 0 for d in deltas),
        higher=sum(d > 0 for d in deltas),
    )  # fmt: skip


def get_differences(first: Sequence[RunResult], second: Sequence[RunResult]) -> list[Difference]:
    """Return the paired differences of every compared figure (STRESS-8)."""
    if [r.run for r in first] != [r.run for r in second]:
        message = "a comparison pairs the same runs"
        raise ValueError(message)
    return [get_difference(figure, first, second) for figure in COMPARED]


# --- execution (STRESS-7) ----------------------------------------------------------------------


def run_batch(
    plan: StressPlan, units: tuple[Unit, ...], runs: Sequence[int], keep_steps: bool = False
) -> list[RunResult]:
    """Compute the runs ``runs`` of ``plan`` in this process (one executor task)."""
    return [process_run(plan, units, run, keep_steps=keep_steps) for run in runs]


def _batches(runs: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(runs), size):
        yield list(runs[start : start + size])


def run_stress(
    plan: StressPlan,
    runs: Sequence[int],
    *,
    workers: int = 1,
    batch: int = 1,
    scheduler: str | None = None,
    units: tuple[Unit, ...] | None = None,
    progress: Callable[[int], None] | None = None,
    on_results: Callable[[list[RunResult]], None] | None = None,
    keep_steps: bool = False,
) -> list[RunResult]:
    """Compute ``runs`` and return them ordered by run (STRESS-7).

    The executor: this process (``workers`` 1), a local process pool of ``workers``, or with
    ``scheduler`` Dask distributed: ``"local"`` starts a LocalCluster of ``workers``
    processes, anything else is a scheduler's address such as ``tcp://host:8786``. Runs go
    to the executor in tasks of ``batch`` runs. ``progress`` is called with the number of
    runs done, and ``on_results`` with each task's results as they arrive. ``units`` is the
    population, by default the plan's own (STRESS-4). With ``keep_steps`` the results handed
    to ``on_results`` carry their steps, and the list returned holds them without.
    """
    units = get_population(plan) if units is None else units
    chunks = list(_batches(runs, batch))
    done: list[RunResult] = []

    def collect(results: list[RunResult]) -> None:
        if on_results is not None:
            on_results(results)
        done.extend(attrs.evolve(r, steps=()) if keep_steps else r for r in results)
        if progress is not None:
            progress(len(done))

    if scheduler is not None:
        _run_on_dask(plan, units, chunks, scheduler=scheduler, workers=workers, collect=collect,
                     keep_steps=keep_steps)  # fmt: skip
    elif workers == 1:
        for chunk in chunks:
            collect(run_batch(plan, units, chunk, keep_steps))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_batch, plan, units, chunk, keep_steps) for chunk in chunks]
            try:
                for future in as_completed(futures):
                    collect(future.result())
            except BaseException:  # Ctrl-C included: drop the runs not started, then stop
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return sorted(done, key=lambda r: r.run)


def _run_on_dask(
    plan: StressPlan,
    units: tuple[Unit, ...],
    chunks: list[list[int]],
    *,
    scheduler: str,
    workers: int,
    collect: Callable[[list[RunResult]], None],
    keep_steps: bool,
) -> None:
    """Compute ``chunks`` on Dask distributed; errors of the cluster are ``executor`` errors."""
    try:
        from distributed import Client, LocalCluster  # noqa: PLC0415 - the optional extra
        from distributed import as_completed as dask_completed  # noqa: PLC0415
    except ImportError:
        detail = "Dask is an optional extra: pip install 'liqspec[dask]'"
        raise InputError(Reason.EXECUTOR, "--scheduler", scheduler, detail) from None
    try:
        if scheduler == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)  # fmt: skip
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=_CONNECT_SECONDS)
    except (OSError, TimeoutError) as error:
        detail = f"no Dask scheduler answered within {_CONNECT_SECONDS} s ({error})"
        raise InputError(Reason.EXECUTOR, "--scheduler", scheduler, detail) from None
    with client:
        shared_plan, shared_units = client.scatter([plan, units], broadcast=True)
        futures = [client.submit(run_batch, shared_plan, shared_units, chunk, keep_steps,
                                 pure=False)
                   for chunk in chunks]  # fmt: skip
        for future in dask_completed(futures):
            collect(future.result())
        if scheduler == "local":
            cluster.close()


_CONNECT_SECONDS = 10
