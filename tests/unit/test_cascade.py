"""Cascade prediction: the liquidation map, shocks and thresholds (spec/15-stress.md §15.6)."""

from __future__ import annotations

import json
import math
import runpy
import tomllib
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqspec.cli import main
from liqspec.engine.scenarios import load_scenario
from liqspec.engine.state import State
from liqspec.stress.prediction import (
    ShockResult,
    get_liquidation_map,
    get_thresholds,
    process_shock,
)
from tests.data import ROOT
from tests.unit.test_output_schemas import errors

CASCADE = ROOT / "spec" / "scenarios" / "cascade-two-rounds.toml"
"""Four 1 BTC longs from 60,000 on Binance BTCUSDT (tier 2 at these notionals: 0.5%, cum 50),
balances 650, 800, 900 and 3,000 USDT; bids 5 BTC at 59,990, asks 5 at 60,010; fund 1,000."""

BALANCES = (650, 800, 900, 3000)


def _state() -> State:
    return load_scenario(CASCADE).state


def test_the_map_is_each_long_s_closed_form_liquidation_price() -> None:
    """STRESS-9: 1 BTC long, balance B: B + P - 60,000 = 0.005 P - 50, so P = (59,950 - B)
    / 0.995; under the inclusive trigger the grid price is that root rounded down to 0.1.
    The value there is 1 BTC x P; the cumulative long column adds every level at or above."""
    levels = get_liquidation_map(_state(), "BTCUSDT")
    roots = sorted(Fraction(59_950 - b) / Fraction(995, 1000) for b in BALANCES)
    expected = [Fraction(math.floor(root * 10), 10) for root in roots]
    assert [Fraction(level.price, 10) for level in levels] == expected
    assert [Fraction(level.long, 10**8) for level in levels] == expected  # 1 BTC at the price
    assert [level.short for level in levels] == [0, 0, 0, 0]
    for k, level in enumerate(levels):
        assert level.long_cumulative == sum(other.long for other in levels[k:])
        assert level.short_cumulative == sum(other.short for other in levels[: k + 1])


def test_no_shock_moves_nothing() -> None:
    """STRESS-10 at 0%: the book, the index and the trade where they are; nobody is liquidated."""
    result = process_shock(_state(), "BTCUSDT", Fraction(0))
    assert (result.index, result.mark, result.rounds) == (600_000, 600_000, 0)
    assert result.path == (600_000, 600_000, 600_000)
    assert (result.liquidated, result.liquidated_accounts, result.exhausted) == (0, 0, False)
    assert result.fund_end == result.fund_start


def test_a_one_percent_fall_liquidates_the_two_thinnest_longs_in_one_round() -> None:
    """STRESS-10 at -1%, by hand. The book moves to bids 59,390.1 and asks 59,409.9 (60,010 x
    0.99, rounded up), the index to 59,400; the clamped mark follows the trade to 59,400.
    Below it: the longs liquidating at 59,597.9 and 59,447.2 (the map's); above it, 59,346.7
    and 57,236.1 stay safe. They sell into the 5 BTC bid at 59,390.1, printed as one round;
    the mark follows to 59,390.1, still above 59,346.7, so the cascade stops there."""
    result = process_shock(_state(), "BTCUSDT", Fraction(-1, 100))
    assert result.path == (600_000, 594_000, 594_000, 593_901)
    assert (result.rounds, result.liquidated_accounts, result.exhausted) == (1, 2, False)
    # RISK-7's map walk counts the two whole, at their liquidation prices (1 BTC each)
    assert result.map_walk == (595_979 + 594_472) * 10**7


def test_deeper_falls_liquidate_more_and_the_fund_runs_out() -> None:
    """Over a scan the liquidated notional never falls here, and from -2% a deficit outgrows
    the 1,000 USDT fund (STRESS-11); no short holds a profit, so ADL never triggers."""
    state = _state()
    scan = [process_shock(state, "BTCUSDT", Fraction(-k, 200)) for k in range(1, 21)]
    liquidated = [r.liquidated for r in scan]
    assert liquidated == sorted(liquidated)
    exhausted, adl = get_thresholds(scan)
    assert (exhausted.name, exhausted.monotone) == ("fund-exhausted", True)
    assert exhausted.shock == next(r.shock for r in scan if r.fund_end == 0)
    assert (adl.name, adl.shock, adl.monotone) == ("adl", None, True)


def _result(shock: Fraction, *, exhausted: bool) -> ShockResult:
    return ShockResult(shock, 1, 1, 0, (1, 1, 1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, exhausted)


def test_a_threshold_says_when_a_larger_shock_escapes_it() -> None:
    """STRESS-11 assumes no monotonicity: it reports the first shock and whether it held on."""
    flags = (False, True, False, True)
    scan = [_result(Fraction(-k, 100), exhausted=f) for k, f in enumerate(flags, start=1)]
    exhausted, _ = get_thresholds(scan)
    assert (exhausted.shock, exhausted.monotone) == (Fraction(-2, 100), False)


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["cascade", *args])
    return result.exit_code, result.output


def test_the_json_report_has_its_schema_and_the_gate_its_exit_code() -> None:
    code, output = _cli(str(CASCADE), "--json", "--shock", "-1", "--gate", "5")
    report = json.loads(output)
    assert errors("out-cli-cascade", report) == []
    assert code == 1  # the fund runs out at -2%, inside the 5% gate
    assert report["gate"] == {"percent": "5", "breached": ["fund-exhausted"]}
    assert [s["shock_percent"] for s in report["shocks"]] == ["-1"]
    code, output = _cli(str(CASCADE), "--json", "--gate", "1")
    assert (code, json.loads(output)["gate"]["breached"]) == (0, [])


def test_the_table_and_the_plot(tmp_path: Path) -> None:
    target = tmp_path / "cascade.png"
    code, output = _cli("--plot", str(target))
    assert code == 0
    assert "fund-exhausted: at -2%" in output
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--shock", "-100"], "--shock"),
        (["--shock", "1e3"], "--shock"),
        (["--scan", "-1:-5"], "--scan"),
        (["--scan", "-1:-5:1"], "--scan"),
        (["--scan", "-5:5:1"], "--scan"),
        (["--scan", "0:-100:-0.01"], "--scan"),
        (["--market", "ETHUSDT"], "--market"),
        (["--gate", "NaN"], "--gate"),
    ],
)
def test_bad_input_names_the_option_and_exits_2(args: list[str], field: str) -> None:
    code, output = _cli(str(CASCADE), *args)
    assert code == 2
    assert output.startswith(f"error: {field} = ")


def test_a_scenario_with_several_markets_needs_market(tmp_path: Path) -> None:
    document = tomllib.loads(CASCADE.read_text())
    document["scenario"]["markets"] = [
        str(ROOT / "spec" / "markets" / name)
        for name in ("binance-btcusdt-2024-10-24.toml", "binance-cyberusdt-2023-08-31.toml")
    ]
    document["marks"]["CYBERUSDT"] = "5"
    two = tmp_path / "two.json"
    two.write_text(json.dumps(document))
    code, output = _cli(str(two))
    assert code == 2
    assert output.startswith("error: --market: the scenario has several markets")
    code, _ = _cli(str(two), "--market", "CYBERUSDT")
    assert code == 0


def test_the_preemption_comparison_pairs_the_same_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/compare_preemption.py: the five STRESS-8 figures, and the accounts liquidated
    with RISK-7 and not without (raised) or the reverse (spared), per run."""
    script = runpy.run_path(str(ROOT / "scripts" / "compare_preemption.py"))
    october = str(ROOT / "spec" / "stress" / "october.toml")
    assert script["main"]([october, "--runs", "1", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    figures = [row["figure"] for row in entry["differences"]]
    assert figures == ["bad_debt", "liquidated", "liquidated_accounts", "adl_notional", "fund_low"]
    accounts = next(r for r in entry["differences"] if r["figure"] == "liquidated_accounts")
    assert Fraction(accounts["mean"]) == entry["raised"]["total"] - entry["spared"]["total"]


def test_a_state_without_accounts_book_or_fund_has_an_empty_map(tmp_path: Path) -> None:
    """STRESS-9..11 on nothing: no level, no liquidation, no threshold; exit 0."""
    binance = str(ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml")
    document = {
        "format": 1,
        "scenario": {"name": "empty", "description": "nothing", "markets": [binance]},
        "marks": {"BTCUSDT": "60000"},
        "accounts": [],
        "events": [],
    }
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(document))
    code, output = _cli(str(empty), "--json", "--shock", "-99.9999")
    assert code == 0
    report = json.loads(output)
    assert report["map"] == []
    assert [s["liquidated"] for s in report["shocks"]] == ["0"]
    assert [t["shock_percent"] for t in report["scan"]["thresholds"]] == [None, None]
