"""The proof catalogue, `liqspec prove` and `liqspec gate` (spec/invariants.md)."""

from __future__ import annotations

import json
import re
from importlib import import_module
from pathlib import Path

import pytest
import z3
from click.testing import CliRunner

from liqproofs.catalogue import CATALOGUE, run_market, run_theorems
from liqproofs.prove import Counterexample, Proved, Unknown, prove
from liqspec.cli import main
from liqspec.model.market_files import load_market
from tests.data import ACCOUNTS, MARKETS, ROOT

BUNDLED = sorted(MARKETS.glob("*.toml"))
BROKEN = sorted((ROOT / "tests" / "markets_broken").glob("*.toml"))


def expected_ids(path: Path) -> set[str]:
    """The ids the broken file's first line says it breaks ("expect INV-... and INV-...")."""
    first = path.read_text().splitlines()[0]
    return set(re.findall(r"INV-[A-Z-]+[A-Z]", first.split("expect", 1)[1]))


def test_every_theorem_is_proved() -> None:
    assert [r.invariant.id for r in run_theorems() if not r.holds] == []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_every_bundled_market_passes_every_check(path: Path) -> None:
    results = run_market(load_market(path, check=False))
    assert [(r.invariant.id, r.outcome) for r in results if not r.holds] == []


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_each_broken_market_yields_its_counterexample(path: Path) -> None:
    """INV-FEE-COVERED, INV-ADJUST-BOUNDED, INV-MM-SIZE, ...: each breaks what it names."""
    results = {r.invariant.id: r for r in run_market(load_market(path, check=False))}
    expected = expected_ids(path)
    assert expected
    for key in expected:
        assert isinstance(results[key].outcome, Counterexample), key
        replay = results[key].replay
        assert replay
        assert "NOT confirmed" not in replay


def test_a_vacuous_proof_is_not_a_proof() -> None:
    x = z3.Int("x")
    assert isinstance(prove([x > 1, x < 0], x == 5), Unknown)
    assert isinstance(prove([x > 1], x > 0), Proved)
    assert isinstance(prove([x > 1], x > 5), Counterexample)


def test_prove_command_exit_codes() -> None:
    runner = CliRunner()
    good = runner.invoke(main, ["prove", *map(str, BUNDLED), "--json"])
    assert good.exit_code == 0
    assert json.loads(good.output)["passed"] is True
    bad = runner.invoke(main, ["prove", str(BROKEN[0])])
    assert bad.exit_code == 1
    assert "counterexample" in bad.output
    assert runner.invoke(main, ["prove", "no-such-market.toml"]).exit_code == 2


def test_gate_passes_a_sound_change_and_fails_a_broken_one() -> None:
    runner = CliRunner()
    old, new = (
        MARKETS / "binance-btcusdt-2022-02-12.toml",
        MARKETS / "binance-btcusdt-2024-10-24.toml",
    )
    ok = runner.invoke(main, ["gate", str(old), str(new), "--json"])
    assert ok.exit_code == 0
    report = json.loads(ok.output)
    assert report["passed"] is True
    assert len(report["tiers_changed"]) == 11
    broken = runner.invoke(
        main, ["gate", str(new), str(ROOT / "tests/markets_broken/imr-below-mmr.toml")]
    )
    assert broken.exit_code == 1
    assert "INV-IM-GE-MM | counterexample" in broken.output


def test_gate_finds_positions_the_change_makes_liquidatable(tmp_path: Path) -> None:
    # One tier, margins at entry: the snapshot's isolated short (0.25 BTC at 58,000, margin 900,
    # mark 59,800) has equity 450; MM is 0.5% x 14,500 = 72.5 before, 4% x 14,500 = 580 after.
    source = (MARKETS / "bybit-btcusdt-isolated-examples.toml").read_text()
    old, new = tmp_path / "old.toml", tmp_path / "new.toml"
    old.write_text(source)
    new.write_text(
        source.replace('mmr = "0.005"', 'mmr = "0.04"').replace(
            'max_leverage = "100"', 'max_leverage = "20"'
        )
    )
    args = [
        "gate",
        str(old),
        str(new),
        "--positions",
        str(ACCOUNTS / "demo-isolated.json"),
        "--json",
    ]
    result = CliRunner().invoke(main, args)
    report = json.loads(result.output)
    assert all(c["result"] == "proved" for c in report["checks"])
    assert report["newly_liquidatable"] == [
        {"account": "demo-isolated", "unit": "isolated BTCUSDT"}
    ]
    assert result.exit_code == 1


def test_catalogue_matches_the_spec_table() -> None:
    """The map check: spec/invariants.md and the catalogue list the same ids; each listed test
    file names the id it is listed for."""
    text = (ROOT / "spec" / "invariants.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| INV-")]
    listed = {row.split("|")[1].strip(): row for row in rows}
    assert set(listed) == set(CATALOGUE)
    for key, row in listed.items():
        cells = [c.strip() for c in row.split("|")]
        module, _, function = cells[5].strip("`").partition("._")
        assert module in {"catalogue", "soundness"}, key
        assert hasattr(import_module(f"liqproofs.{module}"), f"_{function}"), key
        tests = re.findall(r"`(tests/[^`]+)`", cells[6])
        assert tests, f"{key} has no test"
        for test in tests:
            assert key in (ROOT / test).read_text(), f"{test} does not exercise {key}"
