"""The command line: outputs, JSON, exit codes, help."""

from __future__ import annotations

import json

from click.testing import CliRunner

from liqspec.cli import main
from tests.data import ACCOUNTS, MARKETS

BINANCE = str(MARKETS / "binance-btcusdt-2024-10-24.toml")
CYBER = str(MARKETS / "binance-cyberusdt-2023-08-31.toml")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_check_market_json_derives_the_maintenance_amounts() -> None:
    code, output = invoke("check-market", CYBER, "--json")
    assert code == 0
    tiers = json.loads(output)["markets"][0]["tiers"]
    # CYBERUSDT's file omits the amounts: 25,000 x 2.5% = 625; then + 200,000 x 5% = 10,625.
    assert [t["maintenance_amount"] for t in tiers[:3]] == ["0", "625", "10625"]
    assert [t["max_leverage"] for t in tiers] == ["11", "10", "5", "4", "2", "1"]


def test_check_market_table_lists_every_bundled_market() -> None:
    files = sorted(str(p) for p in MARKETS.glob("*.toml"))
    code, output = invoke("check-market", *files)
    assert code == 0
    for symbol in ("BTCUSDT", "CYBERUSDT", "BTCUSD_PERP", "XBTUSD", "BTC", "BTCPERP"):
        assert f"{symbol} tiers" in output


def test_margin_json_reports_units_and_prices() -> None:
    code, output = invoke("margin", "--market", BINANCE, "--market", CYBER,
                          "--account", str(ACCOUNTS / "demo-cross.toml"), "--json")  # fmt: skip
    assert code == 0
    report = json.loads(output)
    cross, isolated = report["units"]
    assert cross["liquidatable"] is False
    assert isolated["liquidatable"] is True
    short = isolated["positions"][0]
    # 20,000 CYBER short @ 4.2, 9,500 margin: equity(P) = 93,500 - 20,000 P; MM = 1,000 P - 625;
    # inclusive trigger: P >= 94,125 / 21,000 = 4.48214... -> first tick 4.483.
    assert short["liquidation_price"] == "4.483"
    assert short["bankruptcy_price"] == "4.675"  # 9,500 / 20,000 + 4.2
    assert report["liquidatable"] is True


def test_fail_if_liquidatable_gates_with_exit_1() -> None:
    args = ["margin", "--market", BINANCE, "--market", CYBER,
            "--account", str(ACCOUNTS / "demo-cross.toml")]  # fmt: skip
    assert invoke(*args)[0] == 0
    assert invoke(*args, "--fail-if-liquidatable")[0] == 1


def test_output_is_deterministic() -> None:
    args = ("margin", "--market", str(MARKETS / "binance-btcusd-coinm-2024.toml"),
            "--account", str(ACCOUNTS / "demo-inverse.toml"), "--json")  # fmt: skip
    assert invoke(*args) == invoke(*args)


def test_the_same_market_twice_is_an_error() -> None:
    code, output = invoke("margin", "--market", BINANCE, "--market", BINANCE,
                          "--account", str(ACCOUNTS / "demo-isolated.json"))  # fmt: skip
    assert code == 2
    assert "[MARKET-11 duplicate-market]" in output


def test_help_teaches_with_examples() -> None:
    code, output = invoke("--help")
    assert code == 0
    assert "liqspec check-market spec/markets/" in output
    code, output = invoke("margin", "--help")
    assert "--fail-if-liquidatable" in output
    assert "bankruptcy" in output


def test_usage_errors_exit_2() -> None:
    assert invoke("margin", "--account", "x.toml")[0] == 2
    assert invoke("no-such-command")[0] == 2
