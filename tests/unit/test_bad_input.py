"""Malformed and hostile files: exit 2, one message naming file, field, value and rule.

Each market rule broken here is one way INV-PARAMETERS can fail (spec/invariants.md).

Each case edits a valid bundled file in one place, runs the real CLI, and checks that the
error names the field path and the rule, and that no traceback escapes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqspec.cli import main
from tests.data import ACCOUNTS, MARKETS

BINANCE = (MARKETS / "binance-btcusdt-2024-10-24.toml").read_text()
ACCOUNT = (ACCOUNTS / "demo-isolated.json").read_text()


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def market_with(tmp_path: Path, old: str, new: str, *, count: int = 1) -> Path:
    assert old in BINANCE, old
    path = tmp_path / "market.toml"
    path.write_text(BINANCE.replace(old, new, count))
    return path


MARKET_CASES = [
    # (what, old text, new text, field, rule)
    ("float rate", 'mmr = "0.004"', "mmr = 0.004", "tiers[0].mmr", "CONV-1"),
    ("NaN string", 'mmr = "0.004"', 'mmr = "NaN"', "tiers[0].mmr", "CONV-1"),
    ("Infinity string", 'max_price = "10000000"', 'max_price = "Infinity"',
     "market.max_price", "CONV-1"),
    ("exponent", 'price_tick = "0.1"', 'price_tick = "1e-1"', "market.price_tick", "CONV-1"),
    ("float inf", 'price_tick = "0.1"', "price_tick = inf", "market.price_tick", "CONV-1"),
    ("negative tick", 'price_tick = "0.1"', 'price_tick = "-0.1"', "market.price_tick", "MARKET-2"),
    ("zero tick", 'price_tick = "0.1"', 'price_tick = "0"', "market.price_tick", "MARKET-2"),
    ("zero lot", 'lot_size = "0.001"', 'lot_size = "0"', "market.lot_size", "MARKET-2"),
    ("coarse quantum", 'settle_quantum = "0.00000001"', 'settle_quantum = "0.01"',
     "market.settle_quantum", "MARKET-3"),
    ("max price off tick", 'max_price = "10000000"', 'max_price = "10000000.05"',
     "market.max_price", "CONV-3"),
    ("unsorted tiers", 'floor = "50000"\ncap = "600000"', 'floor = "60000"\ncap = "600000"',
     "tiers[1].floor", "MARKET-6"),
    ("overlapping tiers", 'floor = "600000"', 'floor = "500000"', "tiers[2].floor", "MARKET-6"),
    ("cap below floor", 'cap = "600000"', 'cap = "40000"', "tiers[1].cap", "MARKET-6"),
    ("imr below mmr", 'max_leverage = "125"', 'max_leverage = "300"', "tiers[0].imr", "MARKET-8"),
    ("mmr of 1", 'mmr = "0.004"', 'mmr = "1"', "tiers[0].mmr", "MARKET-7"),
    ("decreasing rate", 'mmr = "0.0065"', 'mmr = "0.0045"', "tiers[2]", "MARKET-9"),
    ("wrong maintenance amount", 'maintenance_amount = "950"', 'maintenance_amount = "951"',
     "tiers[2].maintenance_amount", "MARKET-10"),
    ("unknown key", 'tier_mode = "continuous"', 'tier_mode = "continuous"\nleverage = "5"',
     "market.leverage", "CONV-12"),
    ("missing key", 'lot_size = "0.001"\n', "", "market.lot_size", "CONV-12"),
    ("wrong type", 'symbol = "BTCUSDT"', "symbol = 5", "market.symbol", "CONV-12"),
    ("wrong enum", 'contract = "linear"', 'contract = "quanto"', "market.contract", "CONV-12"),
    ("absurd magnitude", 'max_price = "10000000"', 'max_price = "' + "9" * 60 + '"',
     "market.max_price", "CONV-2"),
    ("boolean as number", 'lot_size = "0.001"', "lot_size = true", "market.lot_size", "CONV-12"),
    ("table instead of tiers", "[[tiers]]", "[[tiers_]]", "tiers_", "CONV-12"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "old", "new", "field", "rule"), MARKET_CASES, ids=[c[0] for c in MARKET_CASES]
)
def test_bad_market_file(
    tmp_path: Path, what: str, old: str, new: str, field: str, rule: str
) -> None:
    path = market_with(tmp_path, old, new)
    code, output = run("check-market", str(path))
    assert code == 2
    assert str(path) in output
    assert f"{field} =" in output or f"{field}: " in output
    assert f"[{rule} " in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        (b"", "CONV-11"),
        (b"   \n\n", "CONV-11"),
        (bytes(range(256)) * 4, "CONV-11"),
        (b"format = 1\n[market\n", "CONV-11"),
        (b"[" * 100_000, "CONV-11"),
        (b"x = " + b"[" * 100_000, "CONV-11"),
        (b"# " + b"a" * (1 << 20) + b"\n", "CONV-11"),
    ],
    ids=["empty", "blank", "binary", "broken-toml", "deep-tables", "deep-arrays", "too-large"],
)
def test_unparseable_market_file(tmp_path: Path, content: bytes, rule: str) -> None:
    path = tmp_path / "market.toml"
    path.write_bytes(content)
    code, output = run("check-market", str(path))
    assert code == 2
    assert f"[{rule} " in output
    assert "Traceback" not in output


def test_missing_file_is_named(tmp_path: Path) -> None:
    code, output = run("check-market", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "nope.toml" in output
    assert "[CONV-11 unreadable]" in output


def account_with(tmp_path: Path, edit: dict[str, object]) -> Path:
    document = json.loads(ACCOUNT)
    position = document["positions"][0]
    for key, value in edit.items():
        target = document if key in document else position
        target[key] = value
    path = tmp_path / "account.json"
    path.write_text(json.dumps(document))
    return path


ACCOUNT_CASES = [
    ("size off lot", {"size": "0.0005"}, "positions[0].size", "CONV-3"),
    ("price off tick", {"entry_price": "58000.05"}, "positions[0].entry_price", "CONV-3"),
    ("float size", {"size": 0.25}, "positions[0].size", "CONV-1"),
    ("unknown market", {"market": "DOGEUSDT"}, "positions[0].market", "ACCOUNT-2"),
    ("missing mark", {"marks": {}}, "marks.BTCUSDT", "ACCOUNT-5"),
    ("mark off tick", {"marks": {"BTCUSDT": "1.01"}}, "marks.BTCUSDT", "CONV-3"),
    ("margin on cross", {"margin_mode": "cross"}, "positions[0].isolated_margin", "ACCOUNT-6"),
    ("zero size", {"size": "0"}, "positions[0].size", "CONV-12"),
    ("unknown side", {"side": "both"}, "positions[0].side", "CONV-12"),
    ("unknown key", {"stop_loss": "1"}, "positions[0].stop_loss", "CONV-12"),
    ("price above domain", {"entry_price": "20000000"}, "positions[0].entry_price", "STATE-3"),
    ("wrong asset", {"account": {"id": "a", "collateral_asset": "BTC", "wallet_balance": "1"}},
     "account.collateral_asset", "ACCOUNT-4"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "edit", "field", "rule"), ACCOUNT_CASES, ids=[c[0] for c in ACCOUNT_CASES]
)
def test_bad_account_file(
    tmp_path: Path, what: str, edit: dict[str, object], field: str, rule: str
) -> None:
    path = account_with(tmp_path, edit)
    code, output = run("margin", "--market", str(MARKETS / "binance-btcusdt-2024-10-24.toml"),
                       "--account", str(path))  # fmt: skip
    assert code == 2
    assert str(path) in output
    assert field in output
    assert f"[{rule} " in output


def test_values_are_shown_as_the_file_wrote_them(tmp_path: Path) -> None:
    """CONV-11: the value in an error line is the file's, in its units (a time as a count)."""
    path = market_with(tmp_path, 'floor = "0"', 'floor = "1"')
    assert "tiers[0].floor = '1'" in run("check-market", str(path))[1]
    path.write_text(BINANCE + '\n[liquidation]\ncooldown = "-1"\n')
    assert "liquidation.cooldown = '-1'" in run("check-market", str(path))[1]


def test_unknown_market_lists_the_loaded_ones(tmp_path: Path) -> None:
    path = account_with(tmp_path, {"market": "DOGEUSDT"})
    code, output = run("margin", "--market", str(MARKETS / "binance-btcusdt-2024-10-24.toml"),
                       "--account", str(path))  # fmt: skip
    assert code == 2
    assert "no such market loaded (BTCUSDT)" in output


def test_duplicate_position_is_rejected(tmp_path: Path) -> None:
    document = json.loads(ACCOUNT)
    document["positions"].append(dict(document["positions"][0]))
    path = tmp_path / "account.json"
    path.write_text(json.dumps(document))
    code, output = run("margin", "--market", str(MARKETS / "binance-btcusdt-2024-10-24.toml"),
                       "--account", str(path))  # fmt: skip
    assert code == 2
    assert "[ACCOUNT-3 duplicate-position]" in output


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "9" * 5000])
def test_hostile_json_numbers(tmp_path: Path, literal: str) -> None:
    path = tmp_path / "account.json"
    path.write_text(ACCOUNT.replace('"wallet_balance": "500"', f'"wallet_balance": {literal}'))
    code, output = run("margin", "--market", str(MARKETS / "binance-btcusdt-2024-10-24.toml"),
                       "--account", str(path), "--json")  # fmt: skip
    assert code == 2
    error = json.loads(output)["error"]
    assert error["rule"] in {"CONV-1", "CONV-2"}
    assert error["source"] == str(path)


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    """The installed entry point, not only the click function, keeps errors to one line."""
    path = market_with(tmp_path, 'mmr = "0.004"', "mmr = 0.004")
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "liqspec.cli", "check-market", str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "tiers[0].mmr = 0.004" in done.stderr
    assert "Traceback" not in done.stderr
