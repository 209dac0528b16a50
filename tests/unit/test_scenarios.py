"""Bundled scenarios replay; `liqspec run` reports; bad scenario files exit 2 (STATE-10)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqspec.cli import main
from liqspec.engine.scenarios import load_scenario, replay
from tests.data import ROOT

SCENARIOS = sorted((ROOT / "spec" / "scenarios").glob("*.toml"))


def run_json(path: Path) -> dict[str, object]:
    result = CliRunner().invoke(main, ["run", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.output)
    return report


def test_the_five_scenarios_of_the_issue_are_bundled() -> None:
    assert {p.stem for p in SCENARIOS} >= {
        "partial-restored-by-one-step", "thin-book-several-steps", "takeover-at-bankruptcy",
        "adl-after-fund-exhausted", "socialized-loss",
    }  # fmt: skip


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_rejects_exactly_what_it_expects(path: Path) -> None:
    scenario = load_scenario(path)
    steps = [step for step, _ in replay(scenario)]
    assert steps
    reasons = [None if s.rejection is None else s.rejection.reason.identifier for s in steps]
    assert reasons == list(scenario.expected)
    assert any(step.records[1:] for step in steps)  # something beyond the event itself happened


def test_adl_scenario_shows_ranking_and_exact_allocation() -> None:
    report = run_json(ROOT / "spec" / "scenarios" / "adl-after-fund-exhausted.toml")
    records = [r for step in report["steps"] for r in step["records"]]  # type: ignore[attr-defined]
    (adl,) = [r for r in records if r["kind"] == "deleveraged"]
    # erin: long 1 @ 60,000 with 700 -> bankruptcy price 59,300; at mark 58,900 the deficit is
    # 400; the fund holds 50, so 350 goes to ADL.
    assert adl["deficit"] == "350"
    # frank: short 0.6 @ 61,000 -> PnL 1,260, equity 4,260; grace: short 0.8 @ 60,500 -> PnL
    # 1,280, equity 21,280. Score PnL / equity: 1260/4260 = 21/71 > 1280/21280 = 8/133.
    assert [(a["account"], a["score"]) for a in adl["allocations"]] == [
        ("frank", "21/71"), ("grace", "8/133"),
    ]  # fmt: skip
    # frank closes 0.6 of the 1 BTC: floor(350 x 0.6) = 210; grace the last 0.4: 350 - 210.
    assert [(a["size"], a["share"]) for a in adl["allocations"]] == [("0.6", "210"), ("0.4", "140")]
    assert adl["unallocated"] == "0"


def test_run_table_lists_the_records() -> None:
    result = CliRunner().invoke(
        main, ["run", str(ROOT / "spec/scenarios/takeover-at-bankruptcy.toml")]
    )
    assert result.exit_code == 0
    assert "takeover" in result.output
    assert "fund-change" in result.output


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        (('price = "59500"', "price = 59500.5"), "CONV-1"),
        (('market = "BTCUSDT"\nprice', 'market = "ETHUSDT"\nprice'), "ACCOUNT-2"),
        (('kind = "mark"', 'kind = "teleport"'), "CONV-12"),
        (('balance = "700"', 'balance = "700.000000001"'), "CONV-3"),
        (("bids = []", 'bids = [["60020", "1"]]'), "STATE-2"),
    ],
    ids=["float", "unknown-market", "unknown-kind", "off-grid", "crossed-book"],
)
def test_bad_scenario_files_exit_2(tmp_path: Path, edit: tuple[str, str], rule: str) -> None:
    source = (ROOT / "spec/scenarios/takeover-at-bankruptcy.toml").read_text()
    assert edit[0] in source
    path = tmp_path / "scenario.toml"
    path.write_text(
        source.replace(edit[0], edit[1]).replace("../markets/", f"{ROOT}/spec/markets/")
    )
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert f"[{rule} " in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ('kind = "book"\nmarket = "BTCUSDT"\nbids = [["60020", "1"]]\nasks = [["60010", "1"]]',
         "bad-book"),
        ('kind = "book"\nmarket = "BTCUSDT"\nbids = [["59000", "0"]]\nasks = []', "bad-book"),
        ('kind = "mark"\nmarket = "BTCUSDT"\nprice = "99999999"', "price-out-of-domain"),
        ('kind = "mark"\nmarket = "BTCUSDT"\nprice = "-1"', "price-out-of-domain"),
    ],
    ids=["crossed", "empty-level", "mark-above-max", "mark-negative"],
)  # fmt: skip
def test_a_broken_event_is_rejected_and_the_replay_goes_on(
    tmp_path: Path, event: str, reason: str
) -> None:
    source = (ROOT / "spec/scenarios/takeover-at-bankruptcy.toml").read_text()
    first = source.index("[[events]]")
    edited = f'{source[:first]}[[events]]\n{event}\nexpect = "{reason}"\n\n{source[first:]}'
    path = tmp_path / "scenario.toml"
    path.write_text(edited.replace("../markets/", f"{ROOT}/spec/markets/"))
    report = run_json(path)
    steps = report["steps"]
    assert isinstance(steps, list)
    assert steps[0]["rejected"]["reason"] == reason
    untouched = run_json(ROOT / "spec/scenarios/takeover-at-bankruptcy.toml")["steps"]
    assert isinstance(untouched, list)
    assert [s["records"] for s in steps[1:]] == [s["records"] for s in untouched]


def test_markets_settling_one_asset_must_share_its_quantum(tmp_path: Path) -> None:
    """ACCOUNT-4: a scenario's accounts are cross pools, so one asset has one quantum."""
    source = (ROOT / "spec/scenarios/takeover-at-bankruptcy.toml").read_text()
    markets = source.split("markets = [", 1)[1].split("]", 1)[0]
    pair = '"../markets/bybit-btcperp-usdc-examples.toml", "../markets/hyperliquid-btc-2024.toml"'
    path = tmp_path / "scenario.toml"
    path.write_text(source.replace(markets, pair).replace("../markets/", f"{ROOT}/spec/markets/"))
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert "[ACCOUNT-4 cross-incompatible]" in result.output
    assert "another quantum" in result.output


def test_an_included_market_file_error_names_the_scenario_entry(tmp_path: Path) -> None:
    """CONV-11: the error of a market file a scenario includes names the entry and the file."""
    market = (ROOT / "spec/markets/binance-btcusdt-2024-10-24.toml").read_text()
    (tmp_path / "broken.toml").write_text(market.replace('mmr = "0.004"', 'mmr = "1"'))
    source = (ROOT / "spec/scenarios/takeover-at-bankruptcy.toml").read_text()
    path = tmp_path / "scenario.toml"
    path.write_text(source.replace("../markets/binance-btcusdt-2024-10-24.toml", "broken.toml"))
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 2
    assert "scenario.markets[0] -> tiers[0].mmr" in result.output
    assert "broken.toml" in result.output
