"""Venue logs (AUDIT-9, AUDIT-10): the shipped samples, hand-seeded findings, bad fields.

Each sample in spec/audit/venues/ is written by hand in its venue's published message format.
The findings expected below are worked out from the lines themselves (the numbers in the
comments), not read from the audit.
"""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from liqspec.audit.importers import Format, Role, VenueFill
from liqspec.audit.integrity import Proof, is_proved
from liqspec.audit.report import Checkpoints, audit_venue_file
from liqspec.audit.venues import VenueAuditor
from liqspec.cli import main
from liqspec.model.market_files import load_market
from tests.data import ROOT

VENUES = ROOT / "spec" / "audit" / "venues"
MARKETS = ROOT / "spec" / "markets"
SAMPLES = {
    "binance-force-order": VENUES / "binance-btcusdt-band.toml",
    "binance-user-data": VENUES / "binance-btcusdt-band.toml",
    "bybit-all-liquidation": MARKETS / "bybit-btcusdt-isolated-examples.toml",
    "hyperliquid-node-fills": MARKETS / "hyperliquid-btc-2024.toml",
    "dydx-subaccount-fills": VENUES / "dydx-btc-usd.toml",
}
USER_3 = "0x" + "3" * 40
USER_5 = "0x" + "5" * 40
DYDX_D = "dydx1" + "d" * 38 + "/0"

# (id, line, account, numbers) of every finding each sample must give, and its exit code.
EXPECTED: dict[str, tuple[int, list[tuple[str, int, str | None, dict[str, str]]]]] = {
    "binance-force-order": (
        1,
        [
            # SELL limit 65800.0, average 65790.2: below the limit.
            ("fill-beyond-limit", 5, None, {"limit": "65800", "fill": "65790.2"}),
            # the mark 66000 (line 4) is below the SELL's bankruptcy price 66050.0.
            ("bankrupt-at-mark", 6, None, {"mark": "66000", "bankruptcy": "66050"}),
            # band 5% of 66000: [62700, 69300]; the fill at 62500 is below it.
            (
                "outside-band",
                7,
                None,
                {"fill": "62500", "mark": "66000", "band_low": "62700", "band_high": "69300"},
            ),
        ],
    ),
    "binance-user-data": (
        1,
        [
            # band 5% of the mark 56000: [53200, 58800]; the second liquidation fill is 52800.
            (
                "outside-band",
                8,
                "self",
                {"fill": "52800", "mark": "56000", "band_low": "53200", "band_high": "58800"},
            ),
            # 0.5 stated, bought 0.1, then liquidated 0.3 + 0.3: nothing left, 0.1 stated.
            ("continuity", 9, "self", {"expected": "0", "observed": "0.1"}),
        ],
    ),
    "bybit-all-liquidation": (
        0,
        [
            # a long ("Buy") with bankruptcy 42750.5 when the mark was 42700 (line 4).
            ("bankrupt-at-mark", 5, None, {"mark": "42700", "bankruptcy": "42750.5"}),
        ],
    ),
    "hyperliquid-node-fills": (
        1,
        [
            # user 3 held -0.5, bought 0.1 on line 3: -0.4, but the liquidation states -0.5.
            ("continuity", 4, USER_3, {"expected": "-0.4", "observed": "-0.5"}),
            # trade 505: the liquidated side bought 0.2, the backstop's side sold 0.15.
            (
                "pair-mismatch",
                5,
                USER_5,
                {
                    "first_line": "5",
                    "role": "liquidated",
                    "counter_role": "liquidator",
                    "side": "buy",
                    "counter_side": "sell",
                    "price": "70010",
                    "counter_price": "70010",
                    "size": "0.2",
                    "counter_size": "0.15",
                },
            ),
        ],
    ),
    "dydx-subaccount-fills": (
        1,
        [
            # event ...0c: DELEVERAGED 0.02 on line 4, OFFSETTING 0.03 on line 5.
            (
                "pair-mismatch",
                5,
                DYDX_D,
                {
                    "first_line": "4",
                    "role": "deleveraged",
                    "counter_role": "offsetting",
                    "side": "buy",
                    "counter_side": "sell",
                    "price": "64500",
                    "counter_price": "64500",
                    "size": "0.02",
                    "counter_size": "0.03",
                },
            ),
        ],
    ),
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def sample_report(fmt: str) -> tuple[int, dict[str, Any]]:
    log = VENUES / f"{fmt}.jsonl"
    code, output = run("audit", str(log), "--format", fmt, "--market", str(SAMPLES[fmt]), "--json")
    return code, json.loads(output)


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_every_sample_gives_its_seeded_findings(fmt: str) -> None:
    code, report = sample_report(fmt)
    expected_code, expected = EXPECTED[fmt]
    found = [(r["id"], r["line"], r["account"], r["numbers"]) for r in report["findings"]]
    assert found == expected
    assert code == expected_code
    assert report["format"] == fmt
    assert report["checks"] == [v.identifier for v in Format.named(fmt).checks]


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_every_finding_of_a_sample_is_proved_in_its_batch(fmt: str) -> None:
    _, report = sample_report(fmt)
    roots = [row["root"] for row in report["roots"]]
    for row in report["findings"]:
        proof = Proof(**{**row["proof"], "path": tuple(row["proof"]["path"])})
        assert is_proved(proof, roots[proof.batch])
        assert not is_proved(proof, "0" * 64)


def test_only_the_checks_a_format_supports_are_reported() -> None:
    # Bybit's stream has no limit price and no start position: those checks are not claimed.
    _, report = sample_report("bybit-all-liquidation")
    assert set(report["summary"]["by_class"]) == {"outside-band", "bankrupt-at-mark"}
    assert report["summary"]["fills"]["liquidated"] == 3


def test_the_sides_of_a_match_are_paired_and_the_rest_counted() -> None:
    # dYdX: event ...0a pairs LIQUIDATED with LIQUIDATION (no finding); the LIMIT fill is a
    # trade; nothing is left unpaired.
    _, report = sample_report("dydx-subaccount-fills")
    fills = report["summary"]["fills"]
    assert (fills["liquidated"], fills["liquidator"], fills["trade"]) == (1, 1, 1)
    assert report["summary"]["unpaired"] == 0
    assert report["summary"]["closed"] == {"BTC-USD": "0.07"}


def fill(role: Role, side: int, size: int, start: int, *, account: str = "u") -> VenueFill:
    return VenueFill("BTC", account, role, side, Fraction(60000), size, start=start)


@pytest.mark.parametrize(
    ("side", "size", "start", "flagged"),
    [(-1, 5, 5, False), (-1, 6, 5, True), (1, 1, 5, True), (1, 5, -5, False), (-1, 1, -5, True)],
)
def test_a_liquidation_fill_must_reduce_the_position(
    side: int, size: int, start: int, flagged: bool
) -> None:
    markets = {"BTC": load_market(SAMPLES["hyperliquid-node-fills"])}
    auditor = VenueAuditor(Format.HYPERLIQUID, markets)
    auditor.process_fill(1, fill(Role.LIQUIDATED, side, size, start))
    assert [f.violation.identifier for f in auditor.findings] == (["continuity"] if flagged else [])
    # the tracked position follows the stated start, so the next fill is checked against it
    assert auditor.held["u", "BTC"] == start + side * size


def test_a_start_that_breaks_continuity_is_reported_once() -> None:
    markets = {"BTC": load_market(SAMPLES["hyperliquid-node-fills"])}
    auditor = VenueAuditor(Format.HYPERLIQUID, markets)
    auditor.process_fill(1, fill(Role.TRADE, 1, 3, 0))
    auditor.process_fill(2, fill(Role.TRADE, 1, 1, 5))  # held 3, states 5: one break
    auditor.process_fill(3, fill(Role.TRADE, 1, 1, 6))  # follows the stated 5 + 1
    assert [(f.line, dict(f.numbers)) for f in auditor.findings] == [
        (2, {"expected": "0.00003", "observed": "0.00005"})
    ]


@pytest.mark.parametrize(
    ("fmt", "old", "new", "field"),
    [
        ("binance-force-order", '"e":"forceOrder"', '"e":"aggTrade"', "e"),
        ("binance-force-order", '"ap":"66512.3"', '"ap":"1e5"', "o.ap"),
        ("binance-user-data", '"pa":"0.600","ep"', '"pa":"0.6001","ep"', "a.P[0].pa"),
        ("binance-user-data", '"x":"TRADE"', '"x":"TRADED"', "o.x"),
        ("binance-user-data", '"iw":"0","ps":"BOTH"}]}}', '"iw":"0","ps":"LONG"}]}}', "a.P[0].ps"),
        ("bybit-all-liquidation", '"S":"Buy","v":"0.003"', '"v":"0.003"', "data[0].S"),
        ("bybit-all-liquidation", '"p":"42800.0"', '"p":"42800.2"', "data[0].p"),
        ("hyperliquid-node-fills", '"side":"B","time":1729764000087', '"side":"X","time":1',
         "events[0][1].side"),
        ("hyperliquid-node-fills", '"tid":501', '"tid":"501"', "events[0][1].tid"),
        ("dydx-subaccount-fills", '"type":"LIQUIDATED"', '"type":"SETTLED"',
         "contents.fills[0].type"),
        ("dydx-subaccount-fills", '"oraclePrice":"64020.512"', '"oraclePrice":"-1"',
         "contents.oraclePrices.BTC-USD.oraclePrice"),
    ],
)  # fmt: skip
def test_a_field_that_cannot_be_mapped_is_bad_input_naming_line_and_field(
    fmt: str, old: str, new: str, field: str, tmp_path: Path
) -> None:
    text = (VENUES / f"{fmt}.jsonl").read_text()
    assert old in text
    lines = text.splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if old in line)
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    log = tmp_path / "log.jsonl"
    log.write_text("".join(lines))
    code, output = run("audit", str(log), "--format", fmt, "--market", str(SAMPLES[fmt]))
    assert code == 2
    assert f"line {number}" in output
    assert field in output
    assert "Traceback" not in output


def test_the_market_option_goes_with_a_venue_format_only() -> None:
    sample = str(VENUES / "bybit-all-liquidation.jsonl")
    assert run("audit", sample, "--format", "bybit-all-liquidation")[0] == 2
    own = str(ROOT / "spec" / "audit" / "venue.jsonl")
    assert run("audit", own, "--market", str(SAMPLES["dydx-subaccount-fills"]))[0] == 2


# --- checkpoints (AUDIT-6) ---------------------------------------------------------------------


def test_checkpoints_compare_the_chain_and_the_batch_roots() -> None:
    fmt = "hyperliquid-node-fills"
    log = VENUES / f"{fmt}.jsonl"
    markets = {"BTC": load_market(SAMPLES[fmt])}
    auditor, batches = audit_venue_file(log, Format.named(fmt), markets, batch=2)
    by_line = {f.line: f.digest for f in auditor.findings}  # the chain after lines 4 and 5
    wrong = "0" * 64
    expected = Checkpoints({4: by_line[4], 5: wrong, 9: wrong}, {0: batches[0].root, 7: wrong})
    audit_venue_file(log, Format.named(fmt), markets, batch=2, checkpoints=expected)
    rows = {(r["kind"], r["at"]): r for r in expected.get_results(batches)}
    assert rows["chain", 4]["agrees"]
    assert not rows["chain", 5]["agrees"]
    assert rows["chain", 5]["observed"] == by_line[5]
    assert rows["chain", 9]["observed"] is None  # past the end of a 5-line log
    assert rows["root", 0]["agrees"]
    assert rows["root", 7]["observed"] is None


def test_a_checkpoint_that_differs_fails_the_audit() -> None:
    log = str(ROOT / "spec" / "audit" / "venue.jsonl")
    code, output = run("audit", log, "--json")
    assert code == 0
    head = json.loads(output)["chain"]
    lines = json.loads(output)["lines"]
    assert run("audit", log, "--checkpoint", f"{lines}={head}")[0] == 0
    assert run("audit", log, "--checkpoint", f"{lines}={'a' * 64}")[0] == 1
    assert run("audit", log, "--checkpoint", f"{lines + 1}={head}")[0] == 1


# --- what-if (AUDIT-11) -------------------------------------------------------------------------
# spec/audit/venue.jsonl: alice (long 1 BTC at 60000, balance 1000) is partly liquidated on line 3
# at the mark 59230, and alice and erin (long 1 at 60000, balance 1300) are taken over on line 5
# at 58000. spec/audit/corrected-marks.csv puts both marks at 59400 instead.

OWN_LOG = ROOT / "spec" / "audit" / "venue.jsonl"
CORRECTIONS = ROOT / "spec" / "audit" / "corrected-marks.csv"


def test_corrected_marks_give_each_unit_its_equity_and_compensation() -> None:
    code, output = run("audit", str(OWN_LOG), "--what-if", f"marks={CORRECTIONS}", "--json")
    assert code == 0
    what_if = json.loads(output)["what_if"]
    rows = {row["account"]: row for row in what_if["units"]}
    # at 59400 and no liquidation: equity = balance + (59400 - entry) x size
    assert rows["alice"]["corrected_equity"] == "400"  # 1000 - 600
    assert rows["erin"]["corrected_equity"] == "700"  # 1300 - 600
    assert rows["frank"]["corrected_equity"] == "3960"  # short 0.6 at 61000: 3000 + 960
    assert rows["grace"]["corrected_equity"] == "20880"  # short 0.8 at 60500: 20000 + 880
    assert rows["alice"]["corrected"] is None
    assert rows["alice"]["logged"] == {"line": 3, "market": "BTCUSDT", "price": "59190"}
    assert rows["erin"]["logged"]["line"] == 5
    # erin lost her whole margin as logged: her compensation is what she keeps as corrected
    assert (rows["erin"]["logged_equity"], rows["erin"]["compensation"]) == ("0", "700")
    for row in rows.values():
        gap = Fraction(row["corrected_equity"]) - Fraction(row["logged_equity"])
        assert Fraction(row["compensation"]) == max(gap, Fraction(0))
    total = sum(Fraction(row["compensation"]) for row in rows.values())
    assert Fraction(what_if["compensation"]["USDT"]) == total == Fraction("1099.992")
    assert what_if["liquidated_as_logged_only"] == 2


def test_a_correction_to_the_logged_price_changes_nothing(tmp_path: Path) -> None:
    same = tmp_path / "same.csv"
    same.write_text("line,price\n2,59500\n3,59230\n5,58000\n")
    code, output = run("audit", str(OWN_LOG), "--what-if", f"marks={same}", "--json")
    assert code == 0
    assert json.loads(output)["what_if"]["units"] == []


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("line,price\n4,59400\n", "line 2: line"),  # line 4 is a book event
        ("line,price\n99,59400\n", "line 2: line"),
        ("line,price\n3,59400\n3,59300\n", "line 3: line"),
        ("line,price\n3,59400.05\n", "line 2: price"),
        ("line,price,basis\n3,59400,0.001\n", "line 2: basis"),
        ("line,mark\n3,59400\n", "line 1"),
    ],
)
def test_a_bad_correction_is_bad_input_naming_its_line_and_column(
    text: str, column: str, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text(text)
    code, output = run("audit", str(OWN_LOG), "--what-if", f"marks={path}")
    assert code == 2
    assert column in output
    assert "Traceback" not in output


def test_what_if_needs_marks_and_a_log_with_accounts() -> None:
    assert run("audit", str(OWN_LOG), "--what-if", str(CORRECTIONS))[0] == 2
    venue = VENUES / "bybit-all-liquidation.jsonl"
    market = str(SAMPLES["bybit-all-liquidation"])
    what_if = f"marks={CORRECTIONS}"
    code, _ = run("audit", str(venue), "--format", "bybit-all-liquidation", "--market", market,
                  "--what-if", what_if)  # fmt: skip
    assert code == 2


def test_the_markdown_report_has_the_what_if_table(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run("audit", str(OWN_LOG), "--what-if", f"marks={CORRECTIONS}", "--out", str(out))
    text = (out / "report.md").read_text()
    assert "## What if the marks had been corrected" in text
    assert "| alice | line 3 at 59190 | no | 0.008 | 400 | 399.992 USDT |" in text


def test_a_binance_combined_stream_reads_as_its_messages(tmp_path: Path) -> None:
    fmt = "binance-force-order"
    lines = (VENUES / f"{fmt}.jsonl").read_text().splitlines()
    wrapped = [{"stream": "btcusdt@forceOrder", "data": json.loads(line)} for line in lines]
    log = tmp_path / "combined.jsonl"
    log.write_text("".join(json.dumps(row) + "\n" for row in wrapped))
    code, output = run("audit", str(log), "--format", fmt, "--market", str(SAMPLES[fmt]), "--json")
    found = [(r["id"], r["line"], r["numbers"]) for r in json.loads(output)["findings"]]
    assert (code, found) == (1, [(i, n, numbers) for i, n, _, numbers in EXPECTED[fmt][1]])
    wrapped[1]["data"]["o"]["S"] = "HOLD"
    log.write_text("".join(json.dumps(row) + "\n" for row in wrapped))
    code, output = run("audit", str(log), "--format", fmt, "--market", str(SAMPLES[fmt]))
    assert code == 2
    assert "line 2: data.o.S" in output


def test_an_adl_fill_must_reduce_but_is_not_held_to_the_band(tmp_path: Path) -> None:
    """Binance's adl_autoclose fill is ADL's counterparty: it trades at the bankruptcy price."""
    fmt = "binance-user-data"
    lines = (VENUES / f"{fmt}.jsonl").read_text().splitlines()[:6]  # holds 0.6, mark 56000
    adl = json.loads(lines[3])
    adl["o"].update({"c": "adl_autoclose", "S": "SELL", "x": "TRADE", "l": "0.2", "L": "40000"})
    too_much = copy.deepcopy(adl)
    too_much["o"]["l"] = "0.5"  # 0.4 left after the first: more than held
    log = tmp_path / "adl.jsonl"
    log.write_text("\n".join([*lines, json.dumps(adl), json.dumps(too_much)]) + "\n")
    code, output = run("audit", str(log), "--format", fmt, "--market", str(SAMPLES[fmt]), "--json")
    report = json.loads(output)
    found = [(r["id"], r["line"], r["numbers"]) for r in report["findings"]]
    assert (code, found) == (1, [("continuity", 8, {"held": "0.4", "executed": "-0.5"})])
    assert report["summary"]["fills"]["offsetting"] == 2
