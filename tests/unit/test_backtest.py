"""`liqspec backtest` and `liqspec generate` (spec/14-backtest.md): worked examples, files,
bad input, and the two routes agreeing on the bundled samples."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqspec.backtest.generators import (
    PathModel,
    PathSpec,
    PopulationSpec,
    generate_path,
    generate_population,
)
from liqspec.backtest.inputs import load_path, load_population, parse_path, parse_population
from liqspec.backtest.report import OUTCOME_COLUMNS, get_outcomes
from liqspec.backtest.routes import Backtest, make_backtest, run, run_engine, run_fast
from liqspec.base.errors import InputError
from liqspec.cli import main
from liqspec.model.market_files import load_market
from tests.data import MARKETS

BINANCE = MARKETS / "binance-btcusdt-2024-10-24.toml"
HEADER = "id,mode,market,side,size,entry_price,wallet"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _one_long(prices: list[str], fund: int) -> Backtest:
    market = load_market(BINANCE)
    path = parse_path("time,price\n" + "\n".join(f"{60 * i},{p}" for i, p in enumerate(prices)),
                      market)  # fmt: skip
    units = parse_population(
        f"{HEADER}\nann,isolated,BTCUSDT,long,1,60000,6000", {"BTCUSDT": market}
    )
    return make_backtest({"BTCUSDT": market}, {"BTCUSDT": path}, units, {"USDT": fund})


def test_a_long_is_closed_at_its_bankruptcy_price_when_the_mark_reaches_its_liquidation_price() -> (
    None
):
    # 1 BTC long at 60,000 with 6,000 USDT. Notional ~54,000 is in the 50,000-600,000 tier
    # (mmr 0.5%, amount 50): 6,000 + (P - 60,000) <= 0.005 P - 50 <=> P <= 53,950 / 0.995
    # = 54,221.105..., so the liquidation price is 54,221.1 (inclusive trigger, PRICE-2); the
    # bankruptcy price is 54,000 (equity 0). Taken over at 54,000 with the mark at 54,221.1,
    # the fund gains 221.1 USDT (LIQ-9).
    backtest = _one_long(["60000", "55000", "54221.2", "54221.1", "70000"], fund=0)
    result = run(backtest)
    assert result.route == "fast-path"
    (close,) = result.closes
    assert (close.point, close.mark, close.price) == (3, 542211, 540000)
    assert close.gain == 221_1000_0000  # 221.1 USDT in 1e-8 quanta
    outcome = get_outcomes(backtest, result)[("ann@BTCUSDT", "BTCUSDT")]
    assert (outcome.status, outcome.closed_at, outcome.shortfall) == ("liquidated", 180, 0)
    assert result.get_facts() == run_engine(backtest).get_facts()


def test_a_gap_through_bankruptcy_with_an_empty_fund_runs_the_engine_and_leaves_bad_debt() -> None:
    # The mark gaps from 60,000 to 53,000: closing at the 54,000 bankruptcy price costs the
    # fund 1,000 USDT it does not have; nobody is in profit to deleverage (INS-4, INS-6).
    backtest = _one_long(["60000", "53000"], fund=0)
    assert "runs short" in run_fast(backtest).reasons[0]
    result = run(backtest)
    assert result.route == "engine"
    assert result.bad_debt == ((1, "ann@BTCUSDT", 1000_0000_0000),)
    outcome = get_outcomes(backtest, result)[("ann@BTCUSDT", "BTCUSDT")]
    assert outcome.shortfall == 1000_0000_0000


def test_the_bundled_samples_run_on_the_fast_path_and_agree_with_the_engine(tmp_path: Path) -> None:
    code, output = invoke("backtest", "--json")
    assert code == 0
    fast = json.loads(output)
    assert fast["route"] == "fast-path"
    assert fast["positions"] == 1000 == sum(fast["outcomes"].values())
    assert fast["outcomes"]["liquidated"] > 0
    code, output = invoke("backtest", "--json", "--engine")
    engine = json.loads(output)
    assert engine["route"] == "engine"
    for key in ("outcomes", "funds", "first_close", "last_close"):
        assert engine[key] == fast[key]


def test_out_writes_positions_intervals_summary_report_and_plot(tmp_path: Path) -> None:
    code, _ = invoke("backtest", "--fund", "100000", "--out", str(tmp_path))
    assert code == 0
    with (tmp_path / "positions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == OUTCOME_COLUMNS
    assert len(rows) == 1000
    liquidated = [r for r in rows if r["status"] == "liquidated"]
    assert all(r["closed_at"] and r["price"] and r["mark"] for r in liquidated)
    with (tmp_path / "intervals.csv").open() as handle:
        intervals = list(csv.DictReader(handle))
    assert len(intervals) == 24  # marks 0 .. 86,340 s in hours
    assert sum(int(r["closed"]) for r in intervals) == len(liquidated)
    assert json.loads((tmp_path / "summary.json").read_text())["funds"]["USDT"]["start"] == "100000"
    assert (tmp_path / "backtest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "backtest.png" in (tmp_path / "report.md").read_text()


def test_compare_reports_positions_liquidated_earlier_or_later() -> None:
    old = str(MARKETS / "binance-btcusdt-2022-02-12.toml")
    code, output = invoke("backtest", "--json", "--market", old, "--compare", str(BINANCE))
    assert code == 0
    report = json.loads(output)
    changes = report["compare"]["changes"]
    assert sum(changes.values()) >= report["outcomes"]["liquidated"]
    assert report["compare"]["second"]["route"] == "fast-path"


def test_generators_are_seeded_and_write_loadable_files(tmp_path: Path) -> None:
    market = load_market(BINANCE)
    first = invoke("generate", "path", "--model", "crash", "--depth", "0.3", "--seed", "5")[1]
    assert (
        first == invoke("generate", "path", "--model", "crash", "--depth", "0.3", "--seed", "5")[1]
    )
    (tmp_path / "p.csv").write_text(first)
    path = load_path(tmp_path / "p.csv", market)
    assert len(path.times) == 1440
    assert path.ticks.min() < 600000 * 0.8  # a 30% fall from about 60,000
    code, text = invoke("generate", "population", "--positions", "50", "--seed", "1")
    assert code == 0
    (tmp_path / "u.csv").write_text(text)
    units = load_population(tmp_path / "u.csv", {"BTCUSDT": market})
    assert sum(len(u.positions) for u in units) == 50


PATH_ERRORS = [
    ("time,mark\n0,60000", "unknown-key"),
    ("time,price\n0,60000\n0,60001", "time = '0': times must strictly increase"),
    ("time,price\n0,60000.05", "off-grid"),
    ("time,price\n0,0", "price-out-of-domain"),
    ("time,price\n0,NaN", "not-a-decimal"),
    ("time,price\n-5,60000", "line 2: time"),
    ("time,price\n0,60000,1", "syntax"),
    ("time,price\n", "at least one mark"),
]


POPULATION_ERRORS = [
    (f"{HEADER}\na,hedge,BTCUSDT,long,1,60000,100", "line 2: mode = 'hedge'"),
    (f"{HEADER}\na,cross,ETHUSDT,long,1,60000,100", "unknown-market"),
    (f"{HEADER}\na,cross,BTCUSDT,up,1,60000,100", "line 2: side"),
    (f"{HEADER}\na,cross,BTCUSDT,long,0,60000,100", "must be positive"),
    (f"{HEADER}\na,cross,BTCUSDT,long,1,60000,-1", "negative-balance"),
    (f"{HEADER}\na,isolated,BTCUSDT,long,1,60000,1\na,isolated,BTCUSDT,short,1,60000,1",
     "duplicate-position"),
    (f"{HEADER}\na/b,cross,BTCUSDT,long,1,60000,1", "line 2: id"),
    (f"{HEADER}\na,cross,BTCUSDT,long,1,60000", "7 fields"),
    (f'{HEADER}\n"a",cross,BTCUSDT,long,1,60000,1', "line 2: id"),
    (f"{HEADER}\na,cross,BTCUSDT,long,1,60000,1\na,cross,BTCUSDT,short,1,60000,1",
     "duplicate-position"),
]  # fmt: skip


BAD_FILES = [("--path", text, message) for text, message in PATH_ERRORS] + [
    ("--population", text, message) for text, message in POPULATION_ERRORS
]


@pytest.mark.parametrize(("option", "text", "message"), BAD_FILES)
def test_a_bad_file_is_exit_2_naming_line_value_and_rule(
    tmp_path: Path, option: str, text: str, message: str
) -> None:
    (tmp_path / "input.csv").write_text(text)
    code, output = invoke("backtest", option, str(tmp_path / "input.csv"))
    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_bad_options_and_a_fifo_are_exit_2(tmp_path: Path) -> None:
    assert invoke("backtest", "--fund", "-5")[0] == 2
    assert invoke("backtest", "--fund", "1e9")[0] == 2
    assert "ETHUSDT=x.csv: No such file" in invoke("backtest", "--path", "ETHUSDT=x.csv")[1]
    assert "SYMBOL=FILE needs a file" in invoke("backtest", "--path", "BTCUSDT=")[1]
    sample = str(MARKETS.parent / "backtest" / "crash-day.csv")
    code, output = invoke("backtest", "--path", sample, "--path", f"BTCUSDT={sample}")
    assert code == 2
    assert "two paths for BTCUSDT" in output
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    code, output = invoke("backtest", "--path", str(fifo))
    assert code == 2
    assert "FIFO" in output
    code, output = invoke(
        "backtest", "--compare", str(MARKETS / "binance-cyberusdt-2023-08-31.toml")
    )
    assert code == 2
    assert "CYBERUSDT" in output
    assert invoke("generate", "path", "--start", "60000.05")[0] == 2
    assert invoke("generate", "path", "--start", "-5")[0] == 2
    assert invoke("generate", "population", "--median-notional", "0")[0] == 2
    code, output = invoke("backtest", "--interval", "1", "--path", str(_year(tmp_path)))
    assert code == 2
    assert "at most 1,000,000 intervals" in output
    (tmp_path / "taken").write_text("a file, not a folder")
    code, output = invoke("backtest", "--out", str(tmp_path / "taken"), "--no-plots")
    assert code == 2
    assert "taken" in output
    assert "Traceback" not in output


def _year(folder: Path) -> Path:
    """A path of two marks a year and a day apart: more than a million one-second intervals."""
    path = folder / "year.csv"
    path.write_text("time,price\n0,60000\n31622400,60000\n")
    return path


def test_a_spreadsheets_byte_order_mark_is_not_a_column(tmp_path: Path) -> None:
    (tmp_path / "path.csv").write_bytes("\ufefftime,price\n0,60000\n60,59000\n".encode())
    assert invoke("backtest", "--path", str(tmp_path / "path.csv"))[0] == 0


def test_a_cross_unit_with_two_wallets_is_refused() -> None:
    market = load_market(BINANCE)
    text = f"{HEADER}\nbob,cross,BTCUSDT,long,1,60000,100\n"
    with pytest.raises(InputError, match="one wallet"):
        parse_population(text + "bob,cross,BTCUSDT,short,1,60000,200", {"BTCUSDT": market})


def test_compare_reads_the_inputs_again_on_the_second_markets_grid() -> None:
    # Bybit's BTCUSDT has a 0.5 tick: the bundled path's 0.1 prices are off its grid (CONV-3).
    bybit = str(MARKETS / "bybit-btcusdt-isolated-examples.toml")
    code, output = invoke("backtest", "--compare", bybit)
    assert code == 2
    assert "crash-day.csv" in output
    assert "off-grid" in output


def _waiting(tmp_path: Path, prices: list[str]) -> tuple[int, list[dict[str, str]]]:
    market = tmp_path / "wait.toml"
    market.write_text(BINANCE.read_text() + '\n[liquidation]\non_unfilled = "wait"\n')
    path = tmp_path / "path.csv"
    path.write_text("time,price\n" + "".join(f"{60 * i},{p}\n" for i, p in enumerate(prices)))
    population = tmp_path / "population.csv"
    population.write_text(f"{HEADER}\nann,isolated,BTCUSDT,long,1,60000,6000\n")
    code, _ = invoke("backtest", "--market", str(market), "--path", str(path),
                     "--population", str(population), "--out", str(tmp_path / "out"),
                     "--no-plots")  # fmt: skip
    with (tmp_path / "out" / "positions.csv").open() as handle:
        return code, list(csv.DictReader(handle))


def test_flagged_means_still_in_liquidation_when_the_path_ends(tmp_path: Path) -> None:
    # With nothing to fill and on_unfilled = wait, the long waits from 54,000 (equity 0 is not
    # below 0, LIQ-9); back at 60,000 its equity passes the exit threshold and it ends (LIQ-2).
    code, rows = _waiting(tmp_path, ["60000", "54000", "60000"])
    assert code == 0
    assert (rows[0]["status"], rows[0]["flagged_at"], rows[0]["closed_at"]) == ("safe", "60", "")
    code, rows = _waiting(tmp_path, ["60000", "54100", "54200"])
    assert (rows[0]["status"], rows[0]["flagged_at"]) == ("flagged", "60")


def test_the_bridge_ends_at_its_depth_and_the_two_legs_fall_in_halves() -> None:
    """BT-8: `bridge` is pinned to start x (1 - depth); `two-legs` falls sqrt(1 - depth) twice."""
    market = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")
    _, ticks = generate_path(market, PathSpec(model=PathModel.BRIDGE, points=100, depth=0.2), 5)
    assert (int(ticks[0]), int(ticks[-1])) == (600_000, 480_000)
    quiet = PathSpec(model=PathModel.TWO_LEGS, points=200, volatility=0.0, jump_rate=0.0,
                     depth=0.19, crash_at=0.1, fall=10, pause=20, recover=0)  # fmt: skip
    _, ticks = generate_path(market, quiet, 5)
    first_leg_end, second_leg_start, second_leg_end = 19 + 10, 19 + 10 + 20, 19 + 10 + 20 + 10
    assert int(ticks[first_leg_end]) == int(ticks[second_leg_start]) == 540_000  # 0.9 x 60,000
    assert int(ticks[second_leg_end]) == int(ticks[-1]) == 486_000  # 0.81 x 60,000


def test_whales_are_appended_without_changing_the_other_lines() -> None:
    market = load_market(MARKETS / "binance-btcusdt-2024-10-24.toml")
    plain = generate_population(market, 600_000, PopulationSpec(positions=50), 3)
    concentrated = generate_population(
        market, 600_000, PopulationSpec(positions=50, whales=2, whale_notional="6000000"), 3
    )
    assert concentrated.startswith(plain)
    whales = concentrated.splitlines()[-2:]
    assert [line.split(",")[:2] for line in whales] == [["w0", "cross"], ["w1", "cross"]]
    assert all(line.split(",")[4] == "100" for line in whales)  # 6,000,000 / 60,000 BTC
