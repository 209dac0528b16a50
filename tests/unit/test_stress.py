"""``liqspec stress`` and chapter 15: the ladder, the cascade, runs, figures and the command."""

from __future__ import annotations

import json
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from liqspec.backtest.inputs import parse_population
from liqspec.cli import main
from liqspec.engine.records import Deleveraged, FundChange, Record
from liqspec.engine.state import Book, Event, Level, State, TradeUpdate, get_unit
from liqspec.model.markets import get_value
from liqspec.model.prices import get_liquidation_price, is_liquidatable_at
from liqspec.stress import summary
from liqspec.stress.cascade import (
    RunResult,
    build_ladder_book,
    build_run_state,
    get_population,
    get_remaining,
    process_run,
)
from liqspec.stress.levels import get_liquidation_levels
from liqspec.stress.plan import Ladder, StressPlan, load_stress
from liqspec.stress.report import stress_report
from liqspec.stress.summary import (
    Difference,
    get_breaches,
    get_cover,
    get_difference,
    get_summary,
    run_stress,
)
from tests.data import ROOT

OCTOBER = ROOT / "spec" / "stress" / "october.toml"
MARCH = ROOT / "spec" / "stress" / "march.toml"
SMALL = """format = 1
[stress]
name = "small"
market = "{market}"
runs = "3"
seed = "11"
fund = "2000"
[path]
model = "crash"
points = "40"
crash_at = "0.2"
depth = "0.1"
fall = "5"
[population]
positions = "120"
leverage = "40"
[book]
levels = "10"
gap = "10"
depth = "1"
resilience = "0.25"
{extra}
"""


def small_file(tmp_path: Path, extra: str = "", **replace: str) -> Path:
    market = ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml"
    text = SMALL.format(market=market.as_posix(), extra=extra)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "small.toml"
    path.write_text(text)
    return path


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


# --- the ladder (STRESS-2) ---------------------------------------------------------------------


def test_the_ladder_reads_back_what_the_engine_left() -> None:
    ladder = Ladder(levels=3, gap=5, depth=10)
    book = build_ladder_book(ladder, 100, (10, 0, 4), (10, 10, 10), top=112)
    assert book == Book((Level(95, 10), Level(85, 4)), (Level(105, 10), Level(110, 10)))
    consumed = attrs.evolve(book, bids=(Level(85, 1),))
    sent = ((10, 0, 4), (10, 10, 10))
    # the third ask (115) is beyond max_price 112: never sent, it keeps its depth
    assert get_remaining(ladder, 100, consumed, sent, 112) == ((0, 0, 1), (10, 10, 10))


# --- the cascade (STRESS-3) --------------------------------------------------------------------


@cache
def _trace(path: Path, run: int) -> list[tuple[int, Event, State, tuple[Record, ...]]]:
    plan = load_stress(path)
    seen: list[tuple[int, Event, State, tuple[Record, ...]]] = []
    process_run(plan, get_population(plan), run, trace=lambda *item: seen.append(item))
    return seen


def test_liquidation_fills_are_printed_as_trades_that_move_the_mark() -> None:
    """STRESS-3: after the opening trade at the index, each trade is the last fill's price."""
    seen = _trace(OCTOBER, 0)
    rounds = [
        (step, event, state)
        for i, (step, event, state, _) in enumerate(seen)
        if isinstance(event, TradeUpdate) and isinstance(seen[i - 1][1], TradeUpdate)
    ]
    assert rounds, "the template has cascades"
    step, event, state = rounds[0]
    assert event.price == state.markets["BTCUSDT"].last_trade
    opening = next(e for s, e, _, _ in seen if s == step and isinstance(e, TradeUpdate))
    assert event.price < opening.price  # a selling cascade prints below the index
    assert state.markets["BTCUSDT"].mark < opening.price


def test_the_october_template_has_the_published_shape() -> None:
    """Most liquidated notional in a short window; ADL only once the fund is exhausted."""
    plan = load_stress(OCTOBER)
    result = process_run(plan, get_population(plan), 0, keep_steps=True)
    assert sum(result.liquidated_by_tier) == result.liquidated  # every close has one tier
    per_step = [s.liquidated_long + s.liquidated_short for s in result.steps]
    densest = max(sum(per_step[i : i + 10]) for i in range(len(per_step)))
    assert densest * 10 >= result.liquidated * 9  # 90% within 10 minutes
    fund_empty = False
    for _, _, _, records in _trace(OCTOBER, 0):
        for record in records:
            if isinstance(record, FundChange) and record.balance == 0:
                fund_empty = True
            if isinstance(record, Deleveraged) and record.allocations:
                assert fund_empty
    assert result.adl_count > 0
    assert result.fund_low == 0


def test_the_march_template_falls_in_two_legs_and_draws_the_fund_down() -> None:
    """Each leg of the fall liquidates a share of the notional; the fund is drawn, not emptied."""
    plan = load_stress(MARCH)
    result = process_run(plan, get_population(plan), 0, keep_steps=True)
    per_step = [s.liquidated_long + s.liquidated_short for s in result.steps]
    first = int(plan.path.crash_at * (plan.path.points - 1))
    second = first + plan.path.fall + plan.path.pause
    window = plan.path.fall + 10
    for start in (first, second):
        assert sum(per_step[start : start + window]) * 10 >= result.liquidated  # >= 10% each
    assert sum(per_step[first : first + window] + per_step[second : second + window]) * 10 >= (
        result.liquidated * 9
    )
    assert 0 < result.fund_drawdown < plan.fund
    assert not result.exhausted
    assert result.adl_count == 0


# --- runs and figures (STRESS-1, STRESS-6, STRESS-7) -------------------------------------------


def test_the_report_is_the_same_for_any_number_of_workers(tmp_path: Path) -> None:
    plan = load_stress(small_file(tmp_path))
    reports = []
    for workers in (1, 2):
        results = run_stress(plan, range(plan.runs), workers=workers)
        summary = get_summary(results, plan.market, get_population(plan))
        report = stress_report(plan, summary, results, get_breaches(plan, summary))
        reports.append(json.dumps(report, sort_keys=True))
    assert reports[0] == reports[1]


def test_one_run_alone_is_that_run_of_the_batch(tmp_path: Path) -> None:
    path = str(small_file(tmp_path))
    code, batch = invoke("stress", path, "--json")
    assert code == 0
    code, alone = invoke("stress", path, "--run", "2", "--json")
    assert code == 0
    assert json.loads(alone)["result"] == json.loads(batch)["results"][2]


def test_a_breached_limit_exits_1_and_names_it(tmp_path: Path) -> None:
    path = str(small_file(tmp_path, '[limits]\nexhaustion_probability = "0"'))
    plan = load_stress(path)
    results = run_stress(plan, range(plan.runs))
    exhausted = sum(r.exhausted for r in results)
    code, output = invoke("stress", path, "--json")
    report = json.loads(output)
    assert report["summary"]["exhausted_runs"] == exhausted
    if exhausted:
        assert code == 1
        assert report["breaches"] == [
            {"limit": "exhaustion_probability", "value": str(Fraction(exhausted, 3)),
             "allowed": "0"}
        ]  # fmt: skip
    else:
        assert code == 0
        assert report["breaches"] == []


def test_the_trace_is_json_lines_of_engine_events(tmp_path: Path) -> None:
    code, output = invoke("stress", str(small_file(tmp_path)), "--run", "0", "--trace")
    assert code == 0
    lines = [json.loads(line) for line in output.splitlines()]
    kinds = [line["event"]["kind"] for line in lines[:4]]
    assert kinds == ["book", "clock", "index", "trade"]
    assert "result" in lines[-1]
    trades = [r for line in lines[:-1] for r in line["records"] if r["kind"] == "trade-set"]
    assert len(trades) >= 40  # at least the opening trade of each step


# --- bad input: one line, exit 2, no traceback --------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "replace", "names"),
    [
        ("", {'gap = "10"': 'gap = "10.05"'}, "book.gap"),
        ("", {'resilience = "0.25"': 'resilience = "0"'}, "book.resilience"),
        ("", {'resilience = "0.25"': 'resilience = "1.5"'}, "book.resilience"),
        ('[mark]\nsource = "median"\nbogus = "1"', {}, "bogus"),
        ("", {'levels = "10"': 'levels = "0"'}, "book.levels"),
        ("", {'levels = "10"': "levels = 10"}, "book.levels"),
        ("", {'depth = "0.1"': "depth = 0.1"}, "path.depth"),
        ("", {'market = "': 'market = "missing/'}, "stress.market"),
        ("", {"[stress]": "[stress]\nwhat = 1"}, "what"),
        ('[liquidation]\nbogus = "1"', {}, "liquidation.bogus"),
        ("[risk]\nvol_window = 5", {}, "risk.vol_window"),
    ],
)
def test_bad_stress_files_name_the_field(
    tmp_path: Path, extra: str, replace: dict[str, str], names: str
) -> None:
    code, output = invoke("stress", str(small_file(tmp_path, extra, **replace)))
    assert code == 2
    assert output.startswith("error: ")
    assert names in output
    assert "Traceback" not in output


def test_a_market_fed_by_mark_events_cannot_cascade(tmp_path: Path) -> None:
    code, output = invoke("stress", str(small_file(tmp_path, '[mark]\nsource = "event"')))
    assert code == 2
    assert "mark.source" in output


@pytest.mark.parametrize(
    ("args", "names"),
    [(("--trace",), "--trace"), (("--run", "3"), "--run"), (("--steps",), "--steps")],
)
def test_bad_options_name_the_option(tmp_path: Path, args: tuple[str, ...], names: str) -> None:
    code, output = invoke("stress", str(small_file(tmp_path)), *args)
    assert code == 2
    assert names in output


def test_a_start_off_the_grid_and_a_negative_fund_are_refused(tmp_path: Path) -> None:
    code, output = invoke(
        "stress", str(small_file(tmp_path, "", **{"[path]": '[path]\nstart = "60000.05"'}))
    )
    assert code == 2
    assert "path.start" in output
    code, output = invoke(
        "stress", str(small_file(tmp_path, "", **{'fund = "2000"': 'fund = "-1"'}))
    )
    assert code == 2
    assert "stress.fund" in output


def test_out_writes_the_tables_the_picture_and_the_report(tmp_path: Path) -> None:
    path = str(small_file(tmp_path))
    code, _ = invoke("stress", path, "--run", "1", "--out", str(tmp_path / "one"))
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == [
        "levels.csv", "path.csv", "population.csv", "report.md", "run.png", "runs.csv",
        "steps.csv",
    ]  # fmt: skip
    steps = (tmp_path / "one" / "steps.csv").read_text().splitlines()
    assert steps[0] == "time,index,mark,low,high,rounds,liquidated_long,liquidated_short,fund"
    assert len(steps) == 1 + 40  # one row per point of the path
    path_lines = (tmp_path / "one" / "path.csv").read_text().splitlines()
    assert [line.split(",")[1] for line in path_lines[1:]] == [s.split(",")[1] for s in steps[1:]]
    assert "![small](run.png)" in (tmp_path / "one" / "report.md").read_text()
    levels = (tmp_path / "one" / "levels.csv").read_text().splitlines()
    assert levels[0] == "time,price,long,short"
    assert len({line.split(",")[0] for line in levels[1:]}) == 40  # 40 points: every step
    code, _ = invoke("stress", path, "--out", str(tmp_path / "all"), "--no-plots", "--steps")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "report.md", "runs.csv", "runs.jsonl", "steps", "summary.json",
    ]  # fmt: skip
    batch_steps = tmp_path / "all" / "steps"
    assert sorted(p.name for p in batch_steps.iterdir()) == ["run-0.csv", "run-1.csv", "run-2.csv"]
    assert (batch_steps / "run-1.csv").read_text().splitlines() == steps


def test_the_liquidation_map_holds_each_position_at_its_liquidation_price() -> None:
    """STRESS-5: a level's value is its positions' value there, each at its own PRICE-2 price."""
    plan = load_stress(OCTOBER)
    units = get_population(plan)
    state = build_run_state(plan, units, 0, 600_000)
    levels = get_liquidation_levels(state, "BTCUSDT")
    expected: dict[int, list[int]] = {}
    for account in state.accounts.values():
        unit = get_unit(state, account)
        result = get_liquidation_price(unit, 0)
        if result.price is not None:
            value = get_value(plan.market, unit.legs[0].position.size, result.price)
            side = 0 if unit.legs[0].position.side > 0 else 1
            expected.setdefault(result.price, [0, 0])[side] += value
            assert is_liquidatable_at(unit, 0, result.price)
    assert levels == tuple((p, long, short) for p, (long, short) in sorted(expected.items()))
    longs = [p for p, long, _ in levels if long]
    shorts = [p for p, _, short in levels if short]
    assert max(longs) < 600_000 < min(shorts)  # longs below the mark, shorts above


def test_dask_gives_the_same_report_as_one_process(tmp_path: Path) -> None:
    """STRESS-7: one process, two local processes and a Dask LocalCluster of two agree."""
    path = str(small_file(tmp_path))
    outputs = [
        invoke("stress", path, "--json", *options)
        for options in ((), ("--workers", "2"), ("--workers", "2", "--scheduler", "local"))
    ]
    assert [code for code, _ in outputs] == [0, 0, 0]
    assert outputs[0][1] == outputs[1][1] == outputs[2][1]


def test_a_scheduler_that_does_not_answer_is_an_executor_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "_CONNECT_SECONDS", 1)
    code, output = invoke("stress", str(small_file(tmp_path)), "--scheduler", "tcp://127.0.0.1:1")
    assert code == 2
    assert "--scheduler" in output
    assert "executor" in output


# --- two parameter sets (STRESS-8) --------------------------------------------------------------


def test_paired_differences_by_hand() -> None:
    """Deltas 1, 2, 3: mean 2, s = 1, 1.96 / sqrt(3) = 1.13, so [0.87, 3.13] -> [0, 4]."""
    first = [attrs.evolve(_blank(run), bad_debt=0) for run in range(3)]
    second = [attrs.evolve(_blank(run), bad_debt=run + 1) for run in range(3)]
    difference = get_difference("bad_debt", first, second)
    assert difference == Difference("bad_debt", Fraction(2), 0, 4, lower=0, equal=0, higher=3)


def _blank(run: int) -> RunResult:
    return RunResult(run, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, exhausted=False, max_rounds=0,
                     cascade_steps=0, max_impact=Fraction(0))  # fmt: skip


def test_comparing_a_market_with_itself_changes_nothing(tmp_path: Path) -> None:
    market = str(ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml")
    code, output = invoke("stress", str(small_file(tmp_path)), "--json", "--compare", market)
    assert code == 0
    compare = json.loads(output)["compare"]
    assert compare["second"]["results"] == json.loads(output)["results"]
    for row in compare["differences"]:
        assert (row["mean"], row["equal"], row["lower"], row["higher"]) == ("0", 3, 0, 0)


def test_comparing_another_symbol_is_refused(tmp_path: Path) -> None:
    other = str(ROOT / "spec" / "markets" / "binance-cyberusdt-2023-08-31.toml")
    code, output = invoke("stress", str(small_file(tmp_path)), "--compare", other)
    assert code == 2
    assert "--compare" in output


def test_gate_fails_on_a_breached_stress_limit(tmp_path: Path) -> None:
    market = str(ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml")
    strict = small_file(tmp_path, '[limits]\nexhaustion_probability = "0"', **{'"2000"': '"0"'})
    code, output = invoke("gate", market, market, "--stress", str(strict), "--json")
    stress = json.loads(output)["stress"]
    assert stress["summary"]["exhausted_runs"] > 0
    assert [b["limit"] for b in stress["breaches"]] == ["exhaustion_probability"]
    assert code == 1
    loose = small_file(tmp_path, '[limits]\nexhaustion_probability = "1"')
    code, output = invoke("gate", market, market, "--stress", str(loose))
    assert code == 0
    assert "Every stress limit holds." in output


def test_cover_2_is_the_two_largest_units_defaulting_at_the_worst_marks() -> None:
    """STRESS-6: b (3 BTC short, 10,000) and c (2 BTC long, 3,000) are the largest; at the
    worst run's high 65,000 b is 5,000 short of paying, at its low 58,000 c is 1,000 short."""
    market = load_stress(OCTOBER).market
    units = parse_population(
        "id,mode,market,side,size,entry_price,wallet\n"
        "a,cross,BTCUSDT,long,1,60000,100\n"
        "b,cross,BTCUSDT,short,3,60000,10000\n"
        "c,isolated,BTCUSDT,long,2,60000,3000\n",
        {"BTCUSDT": market},
    )
    worst = attrs.evolve(_blank(0), mark_low=580_000, mark_high=650_000)
    usdt = 10**8
    assert get_cover(market, units, worst, 1) == (("b",), 5_000 * usdt)
    assert get_cover(market, units, worst, 2) == (("b", "c@BTCUSDT"), 6_000 * usdt)


# --- Ctrl-C and --resume ------------------------------------------------------------------------


def test_an_interrupted_batch_resumes_to_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C during run 2 keeps runs 0 and 1 in the journal; --resume computes only run 2."""
    path = str(small_file(tmp_path))
    code, whole = invoke("stress", path, "--json", "--no-plots")
    assert code == 0
    original = process_run
    computed: list[int] = []
    stop_at: list[int] = [2]

    def counting(plan: StressPlan, units: Any, run: int, **options: Any) -> RunResult:
        if run in stop_at:
            raise KeyboardInterrupt
        computed.append(run)
        return original(plan, units, run, **options)

    monkeypatch.setattr("liqspec.stress.summary.process_run", counting)
    folder = tmp_path / "batch"
    result = CliRunner().invoke(main, ["stress", path, "--out", str(folder), "--no-plots"])
    assert result.exit_code == 130
    assert "interrupted after 2 runs" in result.output
    assert len((folder / "runs.jsonl").read_text().splitlines()) == 1 + 2
    stop_at.clear()
    computed.clear()
    code, resumed = invoke("stress", path, "--json", "--no-plots", "--resume", str(folder))
    assert code == 0
    assert computed == [2]
    assert resumed == whole
    assert json.loads((folder / "summary.json").read_text()) == json.loads(whole)


@pytest.mark.parametrize(
    ("journal", "names"),
    [
        ('{"fingerprint": "another"}\n', "--resume"),
        ("not json\n", "line 1"),
        (None, "line 2"),
    ],
)
def test_a_journal_that_does_not_fit_is_refused(
    tmp_path: Path, journal: str | None, names: str
) -> None:
    path = str(small_file(tmp_path))
    folder = tmp_path / "batch"
    assert invoke("stress", path, "--out", str(folder), "--no-plots", "--runs", "1")[0] == 0
    lines = (folder / "runs.jsonl").read_text().splitlines()
    text = journal if journal is not None else lines[0] + '\n{"set": 0, "run": "one"}\n'
    (folder / "runs.jsonl").write_text(text)
    code, output = invoke("stress", path, "--resume", str(folder))
    assert code == 2
    assert names in output
