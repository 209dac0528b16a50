"""The user guide's claims, run as written (docs/margin-and-prices.md)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqspec.cli import main
from tests.data import ACCOUNTS, MARKETS, ROOT

GUIDE = (ROOT / "docs" / "margin-and-prices.md").read_text()
BYBIT = MARKETS / "bybit-btcusdt-isolated-examples.toml"
EXAMPLE = ACCOUNTS / "bybit-isolated-example.json"


def prices(market: Path) -> tuple[str, str]:
    result = CliRunner().invoke(
        main, ["margin", "--market", str(market), "--account", str(EXAMPLE), "--json"]
    )
    assert result.exit_code == 0, result.output
    position = json.loads(result.output)["units"][1]["positions"][0]
    return position["liquidation_price"], position["bankruptcy_price"]


def test_guide_account_is_the_bundled_file() -> None:
    shown = GUIDE.split("```json\n", 1)[1].split("```", 1)[0]
    assert json.loads(shown) == json.loads(EXAMPLE.read_text())


def test_guide_prices_and_the_strict_variant(tmp_path: Path) -> None:
    assert '"liquidation_price": "9850"' in GUIDE
    assert prices(BYBIT) == ("9850", "9800")
    strict = tmp_path / "strict.toml"
    strict.write_text(BYBIT.read_text().replace('trigger = "inclusive"', 'trigger = "strict"'))
    assert "`9849.5`" in GUIDE
    assert prices(strict)[0] == "9849.5"


CI_GUIDE = (ROOT / "docs" / "ci-gating.md").read_text()


def test_ci_guide_counterexample_is_what_the_gate_prints() -> None:
    result = CliRunner().invoke(
        main,
        ["gate", str(MARKETS / "binance-btcusdt-2024-10-24.toml"),
         str(ROOT / "tests/markets_broken/imr-below-mmr.toml")],
    )  # fmt: skip
    assert result.exit_code == 1
    shown = CI_GUIDE.split("```text", 1)[1].split("```", 1)[0].splitlines()
    for line in shown:
        if line and line != "..." and not line.startswith("$ "):
            assert line in result.output, line


def test_ci_workflow_runs_the_gate_on_market_changes() -> None:
    workflow = (ROOT / "docs" / "examples" / "gate-markets.yml").read_text()
    assert 'paths: ["spec/markets/**.toml"]' in workflow
    assert "liqspec gate /tmp/old.toml" in workflow


CONFORMANCE_GUIDE = (ROOT / "docs" / "conformance.md").read_text()


def test_conformance_guide_outputs_are_what_the_runner_prints() -> None:
    import sys  # noqa: PLC0415

    js = CliRunner().invoke(main, ["conformance", "--impl", "node docs/examples/adapter.js",
                                   "--vectors", str(ROOT / "spec" / "vectors")])  # fmt: skip
    assert js.output.splitlines()[-1] in CONFORMANCE_GUIDE
    faulty = f"{sys.executable} {ROOT / 'tests/conformance/adapters/faulty.py'} wrong-rounding"
    bad = CliRunner().invoke(main, ["conformance", "--impl", faulty, "--kind", "maintenance",
                                    "--vectors", str(ROOT / "spec" / "vectors")])  # fmt: skip
    assert bad.exit_code == 1
    documented = next(line for line in CONFORMANCE_GUIDE.splitlines() if line.startswith("FAILED "))
    assert documented in bad.output.splitlines()


BACKTEST_GUIDE = (ROOT / "docs" / "backtest.md").read_text()


def test_backtest_guide_comparison_is_what_the_command_prints() -> None:
    old = str(MARKETS / "binance-btcusdt-2022-02-12.toml")
    new = str(MARKETS / "binance-btcusdt-2024-10-24.toml")
    result = CliRunner().invoke(
        main, ["backtest", "--fund", "100000", "--market", old, "--compare", new, "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    order = ("only_first", "only_second", "earlier", "later", "same_time")
    changes = ", ".join(f"{k} {report['compare']['changes'][k]}" for k in order)
    assert f"second vs first: {changes}" in BACKTEST_GUIDE
    first, second = report["funds"]["USDT"], report["compare"]["second"]["funds"]["USDT"]
    assert f"{first['shortfall']} USDT under" in BACKTEST_GUIDE
    assert f"{second['shortfall']} USDT under" in BACKTEST_GUIDE
    outcomes = report["compare"]["second"]["outcomes"]
    assert f"{outcomes['liquidated']} positions are liquidated and {outcomes['safe']}" in (
        BACKTEST_GUIDE
    )


AUDIT_GUIDE = (ROOT / "docs" / "audit.md").read_text()


def test_audit_guide_findings_are_what_the_audit_reports() -> None:
    sample = ROOT / "spec" / "audit" / "two-violations.jsonl"
    result = CliRunner().invoke(main, ["audit", str(sample), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.output)
    shown = AUDIT_GUIDE.split("```text", 1)[1].split("```", 1)[0]
    for finding in report["findings"]:
        start = f"line {finding['line']} {finding['account']}: {finding['id']} ({finding['rule']})"
        line = next(text for text in shown.splitlines() if text.startswith(start))
        assert finding["detail"] in line
        for key, value in finding["numbers"].items():
            assert f"{key}={value}" in line
    assert f"chain head {report['chain']}" in shown
    assert f"{len(report['findings'])} finding(s) of severity error" in shown


def test_audit_guide_root_is_the_sample_s() -> None:
    sample = ROOT / "spec" / "audit" / "two-violations.jsonl"
    report = json.loads(CliRunner().invoke(main, ["audit", str(sample), "--json"]).output)
    assert f"--root {report['roots'][0]['root']}" in AUDIT_GUIDE


def test_audit_guide_checkpoints_are_the_sample_s() -> None:
    sample = ROOT / "spec" / "audit" / "two-violations.jsonl"
    report = json.loads(CliRunner().invoke(main, ["audit", str(sample), "--json"]).output)
    assert f"--checkpoint {report['lines']}={report['chain']}" in AUDIT_GUIDE
    assert f"--checkpoint root:0={report['roots'][0]['root']}" in AUDIT_GUIDE


def test_audit_guide_venue_findings_are_what_the_audit_reports() -> None:
    sample = ROOT / "spec" / "audit" / "venues" / "hyperliquid-node-fills.jsonl"
    market = MARKETS / "hyperliquid-btc-2024.toml"
    result = CliRunner().invoke(main, ["audit", str(sample), "--format", "hyperliquid-node-fills",
                                       "--market", str(market), "--json"])  # fmt: skip
    assert result.exit_code == 1
    shown = AUDIT_GUIDE.split("## A venue's own stream", 1)[1]
    shown = shown.split("```text", 1)[1].split("```", 1)[0]
    lines = shown.strip().splitlines()
    findings = json.loads(result.output)["findings"]
    assert len(lines) == len(findings)
    for line, finding in zip(lines, findings, strict=True):
        start = f"line {finding['line']} {finding['account']}: {finding['id']} ({finding['rule']})"
        assert line.startswith(start)
        for pair in line.removeprefix(start).split():
            key, value = pair.split("=")
            assert finding["numbers"][key] == value


def test_audit_guide_what_if_table_is_the_report_s(tmp_path: Path) -> None:
    sample = ROOT / "spec" / "audit" / "venue.jsonl"
    corrections = ROOT / "spec" / "audit" / "corrected-marks.csv"
    CliRunner().invoke(main, ["audit", str(sample), "--what-if", f"marks={corrections}",
                              "--out", str(tmp_path)])  # fmt: skip
    report = (tmp_path / "report.md").read_text().split("## What if", 1)[1].split("##", 1)[0]
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    shown = AUDIT_GUIDE.split("## What if the marks had been right", 1)[1].split("##", 1)[0]
    assert rows
    assert rows == [line for line in shown.splitlines() if line.startswith("| ")]


def test_audit_guide_cross_claims_are_what_check_prices_prints() -> None:
    claims = ROOT / "spec" / "audit" / "cross-claims.csv"
    markets = [MARKETS / "binance-btcusdt-2024-10-24.toml",
               MARKETS / "binance-cyberusdt-2023-08-31.toml"]  # fmt: skip
    args = ["check-prices", str(claims), "--json"]
    for market in markets:
        args += ["--market", str(market)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    shown = AUDIT_GUIDE.split("### Cross positions side by side", 1)[1]
    shown = shown.split("```text", 1)[1].split("```", 1)[0]
    rows = json.loads(result.output)["rows"]
    assert len(rows) == len(shown.strip().splitlines()) == 4
    for row in rows:
        line = next(text for text in shown.splitlines() if f" {row['id']} " in text)
        for value in (row["claimed"], row["liquidation_price"], row["ticks"], row["cause"],
                      row["bankruptcy_price"], row["maintenance"]):  # fmt: skip
            assert f" {value} " in line, (row, line)


def test_audit_guide_claims_table_is_what_check_prices_prints() -> None:
    claims = ROOT / "spec" / "audit" / "claims.csv"
    market = MARKETS / "binance-btcusdt-2024-10-24.toml"
    result = CliRunner().invoke(main, ["check-prices", str(claims), "--market", str(market),
                                       "--json"])  # fmt: skip
    shown = AUDIT_GUIDE.split("## Checking a calculator's prices", 1)[1]
    shown = shown.split("```text", 1)[1].split("```", 1)[0]
    for row in json.loads(result.output)["rows"]:
        line = next(text for text in shown.splitlines() if f" {row['id']} " in text)
        for value in (row["claimed"], row["liquidation_price"], row["ticks"], row["cause"]):
            assert f" {value} " in line, (row, line)


STRESS_GUIDE = (ROOT / "docs" / "stress.md").read_text()


def test_stress_guide_policy_table_is_what_the_comparison_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    script = runpy.run_path(str(ROOT / "scripts" / "compare_policies.py"))
    assert script["main"]([]) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert len(table) == 6
    assert "\n".join(table) in STRESS_GUIDE


STRESS_GUIDE = (ROOT / "docs" / "stress.md").read_text()


def test_stress_guide_cascade_output_is_what_the_command_prints() -> None:
    section = STRESS_GUIDE.split("## Predict a cascade from a state", 1)[1]
    shown = section.split("```text", 1)[1].split("```", 1)[0].splitlines()
    command = shown[1].removeprefix("$ .venv/bin/liqspec ").split()
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0
    for line in shown[2:]:
        if line:
            assert line in result.output, line
