"""``liqspec audit`` and chapter 16: logs of the reference's own replays, then mutated.

Every log here is written by the reference from a shipped scenario (``get_log_lines``, as
``liqspec run --log`` writes it). Unmodified, it gives no finding. Each mutation commits one
kind of violation by hand, and the audit must name it, at its line, with its numbers. The
expected numbers are worked out from the scenario files, not read from the audit.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from liqspec.audit.integrity import (
    GENESIS,
    get_inclusion_proof,
    get_leaf_hash,
    get_normalised_text,
    get_root,
    is_included,
)
from liqspec.audit.log import get_log_lines
from liqspec.audit.replay import Auditor, Finding
from liqspec.audit.report import audit_file
from liqspec.cli import main
from tests.data import ROOT

SCENARIOS = ROOT / "spec" / "scenarios"
Log = list[dict[str, Any]]


def log_of(name: str) -> Log:
    return list(get_log_lines(SCENARIOS / f"{name}.toml"))


def write(log: Log, path: Path) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in log))
    return path


def audit(log: Log, tmp_path: Path) -> tuple[Auditor, list[Finding]]:
    auditor, _ = audit_file(write(log, tmp_path / "log.jsonl"))
    return auditor, auditor.findings


def record(log: Log, line: int, kind: str) -> dict[str, Any]:
    """The first record of ``kind`` on ``line`` (numbered from 1, the header is line 1)."""
    return next(r for r in log[line - 1]["records"] if r["kind"] == kind)


def ids(findings: list[Finding]) -> set[str]:
    return {f.violation.identifier for f in findings}


def only(findings: list[Finding], identifier: str) -> Finding:
    chosen = [f for f in findings if f.violation.identifier == identifier]
    assert len(chosen) == 1, findings
    return chosen[0]


@pytest.mark.parametrize("scenario", sorted(p.stem for p in SCENARIOS.glob("*.toml")))
def test_the_reference_s_own_log_has_no_finding(scenario: str, tmp_path: Path) -> None:
    auditor, findings = audit(log_of(scenario), tmp_path)
    assert findings == []
    assert auditor.lines == len(log_of(scenario)) - 1


# --- one violation at a time (AUDIT-5) ----------------------------------------------------------
# partial-restored-by-one-step: alice, long 1 BTC, balance and entry such that her equity is 230
# at the mark 59230 (the file's numbers), is liquidated on line 3 by one step of 0.104 lots at
# 59190 with a fee of 6.15576, which the fund (100 USDT) receives.


def test_a_step_from_another_position_breaks_continuity(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    record(log, 3, "liquidation-step")["position_before"] = "2"
    auditor, findings = audit(log, tmp_path)
    finding = only(findings, "continuity")
    assert (finding.line, finding.account) == (3, "alice")
    assert dict(finding.numbers) == {"expected": "1", "observed": "2"}
    assert auditor.broken == {"alice"}
    assert ids(findings) == {"continuity"}  # nothing more is said of an out-of-sync unit


def test_liquidating_a_healthy_account_is_premature(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    log[2]["event"]["price"] = "60000"  # 770 higher: equity 230 + 770
    _, findings = audit(log, tmp_path)
    finding = only(findings, "premature-liquidation")
    assert finding.line == 3
    assert dict(finding.numbers)["equity"] == "1000"
    assert dict(finding.numbers)["mark_BTCUSDT"] == "60000"


def test_an_account_left_below_maintenance_is_missed(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    log[2]["records"] = [r for r in log[2]["records"] if not r["kind"].startswith(("liq", "fund"))]
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"missed-liquidation"}
    numbers = dict(only(findings, "missed-liquidation").numbers)
    assert numbers["equity"] == "230"
    assert numbers["maintenance"] == "246.15"  # tier 2 (50k-600k): 59230 x 0.5% - 50


def test_a_fill_below_the_bankruptcy_quote_is_flagged(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    step = record(log, 3, "liquidation-step")
    step["levels"] = [["58000", "0.104"]]
    _, findings = audit(log, tmp_path)
    numbers = dict(only(findings, "beyond-bankruptcy-quote").numbers)
    assert numbers["worst_fill"] == "58000"
    assert numbers["bankruptcy_quote"] == step["bankruptcy_limit"]
    assert "fee-above-surplus" in ids(findings)  # the worse fill left no surplus for the fee


def test_a_fill_outside_the_band_is_flagged(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    log[0]["breakers"] = {"BTCUSDT": {"band": "0.0005"}}
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"outside-band"}
    # the band around the mark 59230: ceil(59230 x 0.9995) on the 0.1 tick is 59200.4
    numbers = dict(only(findings, "outside-band").numbers)
    assert numbers == {"fill": "59190", "band_low": "59200.4", "band_high": "59259.6"}


def test_a_fee_above_the_surplus_and_the_rate_is_flagged(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    step = record(log, 3, "liquidation-step")
    step["fee"] = "30"
    change = record(log, 3, "fund-change")
    change.update(delta="30", balance="130")
    _, findings = audit(log, tmp_path)
    assert dict(only(findings, "fee-above-surplus").numbers) == {
        "fee": "30", "surplus": step["surplus"],
    }  # fmt: skip
    assert dict(only(findings, "fee-above-rate").numbers) == {"fee": "30", "nominal": "6.15576"}
    assert ids(findings) == {"fee-above-surplus", "fee-above-rate", "ended-early"}


def test_a_fund_balance_that_does_not_follow_is_flagged(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    record(log, 3, "fund-change")["balance"] = "107"
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"fund-balance"}
    assert dict(only(findings, "fund-balance").numbers) == {
        "expected": "106.15576", "observed": "107",
    }  # fmt: skip


def test_a_fee_the_fund_did_not_receive_breaks_conservation(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    record(log, 3, "fund-change").update(delta="7", balance="107")
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"fund-delta", "value-not-conserved"}
    assert dict(only(findings, "fund-delta").numbers) == {"expected": "6.15576", "observed": "7"}
    conserved = dict(only(findings, "value-not-conserved").numbers)
    assert float(conserved["observed"]) - float(conserved["expected"]) == pytest.approx(0.84424)


def test_ending_a_liquidation_below_the_threshold_is_flagged(tmp_path: Path) -> None:
    log = log_of("partial-restored-by-one-step")
    records = log[2]["records"]
    ended = record(log, 3, "liquidation-ended")
    records.remove(ended)
    records.insert(records.index(record(log, 3, "liquidation-step")), ended)
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"ended-early"}
    assert dict(only(findings, "ended-early").numbers)["equity"] == "230"


# adl-after-fund-exhausted: erin (long 1 at 60000, balance 700) is taken over at 59300 with the
# mark at 58900: a 400 deficit. The 50 USDT fund pays 50; ADL takes 350 from frank (210) and
# grace (140), ranked in that order.


def test_a_fund_driven_below_zero_is_flagged(tmp_path: Path) -> None:
    log = log_of("adl-after-fund-exhausted")
    record(log, 2, "fund-change").update(delta="-60", balance="-10")
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"fund-negative", "fund-delta", "adl-total"}
    assert dict(only(findings, "fund-negative").numbers) == {"balance": "-10"}
    assert dict(only(findings, "fund-delta").numbers) == {"expected": "-50", "observed": "-60"}


def test_adl_while_the_fund_could_pay_is_flagged(tmp_path: Path) -> None:
    log = log_of("adl-after-fund-exhausted")
    log[1]["records"].remove(record(log, 2, "fund-change"))
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"adl-before-fund-exhausted", "adl-total"}
    assert dict(only(findings, "adl-before-fund-exhausted").numbers) == {
        "fund": "50", "deficit": "400",
    }  # fmt: skip


def test_adl_out_of_the_ranking_order_is_flagged(tmp_path: Path) -> None:
    log = log_of("adl-after-fund-exhausted")
    allocations = record(log, 2, "deleveraged")["allocations"]
    allocations.reverse()
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"adl-out-of-order"}
    assert dict(only(findings, "adl-out-of-order").numbers) == {
        "ranking": "frank grace", "taken": "grace frank",
    }  # fmt: skip


def test_bilateral_deleveraging_out_of_id_order_is_flagged(tmp_path: Path) -> None:
    """INS-7: the other side's holders are taken by id; dan (at a loss) comes first."""
    log = log_of("bilateral-deleveraging")
    allocations = record(log, 2, "deleveraged")["allocations"]
    allocations[0], allocations[1] = allocations[1], allocations[0]
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"adl-out-of-order"}
    assert dict(only(findings, "adl-out-of-order").numbers) == {
        "ranking": "dan frank grace", "taken": "frank dan grace",
    }  # fmt: skip


def test_adl_taking_more_than_the_deficit_reports_the_overshoot(tmp_path: Path) -> None:
    log = log_of("adl-after-fund-exhausted")
    deleveraged = record(log, 2, "deleveraged")
    deleveraged["allocations"][0]["share"] = "260"
    auditor, findings = audit(log, tmp_path)
    assert ids(findings) == {"adl-total"}
    assert dict(only(findings, "adl-total").numbers)["overshoot"] == "50"
    assert auditor.overshoot == {"USDT": 50 * 10**8}  # the quantum is 1e-8 USDT


def test_a_bad_debt_that_is_not_the_balance_left_is_flagged(tmp_path: Path) -> None:
    log = log_of("withdrawals-gated")
    record(log, 2, "bad-debt")["amount"] = "400"
    _, findings = audit(log, tmp_path)
    assert ids(findings) == {"bad-debt"}
    assert dict(only(findings, "bad-debt").numbers) == {"expected": "500", "observed": "400"}


def test_a_takeover_away_from_the_bankruptcy_quote_is_flagged(tmp_path: Path) -> None:
    log = log_of("takeover-at-bankruptcy")
    takeover = record(log, 2, "takeover")
    quoted = takeover["price"]
    takeover["price"] = "59000"
    _, findings = audit(log, tmp_path)
    assert dict(only(findings, "takeover-price").numbers) == {
        "expected": quoted, "observed": "59000",
    }  # fmt: skip


# --- the command (AUDIT-7) ------------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_the_command_exits_0_1_and_writes_its_report(tmp_path: Path) -> None:
    clean = write(log_of("adl-after-fund-exhausted"), tmp_path / "clean.jsonl")
    assert invoke("audit", str(clean))[0] == 0
    bad = log_of("adl-after-fund-exhausted")
    record(bad, 2, "deleveraged")["allocations"].reverse()
    path = write(bad, tmp_path / "bad.jsonl")
    code, output = invoke("audit", str(path), "--json")
    assert code == 1
    report = json.loads(output)
    assert report["summary"]["by_class"]["adl-out-of-order"] == 1
    assert report["findings"][0]["rule"] == "INS-4"
    code, _ = invoke("audit", str(path), "--out", str(tmp_path / "out"))
    assert code == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "findings.jsonl", "report.md", "summary.json",
    ]  # fmt: skip
    assert json.loads((tmp_path / "out" / "summary.json").read_text()) == report
    code, output = invoke("audit", str(path), "--jsonl")
    assert [json.loads(line) for line in output.splitlines()] == report["findings"]


def test_run_log_writes_what_audit_reads(tmp_path: Path) -> None:
    path = tmp_path / "adl.jsonl"
    scenario = SCENARIOS / "adl-after-fund-exhausted.toml"
    assert invoke("run", str(scenario), "--log", str(path))[0] == 0
    assert [json.loads(line) for line in path.read_text().splitlines()] == json.loads(
        json.dumps(log_of("adl-after-fund-exhausted"))
    )
    assert invoke("audit", str(path))[0] == 0


def _hostile(tmp_path: Path) -> list[tuple[str, Callable[[Path], Path], str]]:
    good = log_of("adl-after-fund-exhausted")

    def line(text: str) -> Callable[[Path], Path]:
        def make(path: Path) -> Path:
            path.write_text(json.dumps(good[0]) + "\n" + text + "\n")
            return path

        return make

    def mutated(change: Callable[[Log], None]) -> Callable[[Path], Path]:
        def make(path: Path) -> Path:
            log = copy.deepcopy(good)
            change(log)
            return write(log, path)

        return make

    def fifo(path: Path) -> Path:
        os.mkfifo(path)
        return path

    def empty(path: Path) -> Path:
        path.write_text("")
        return path

    return [
        ("fifo", fifo, "FIFO"),
        ("empty", empty, "empty"),
        (
            "float",
            line('{"event": {"kind": "mark", "market": "BTCUSDT", "price": 1.5}, "records": []}'),
            "float",
        ),
        ("not an object", line("[1, 2]"), "object"),
        (
            "unknown key",
            line('{"event": {"kind": "clock", "time": "5"}, "records": [], "extra": 1}'),
            "extra",
        ),
        ("unknown kind", line('{"event": {"kind": "teleport"}, "records": []}'), "kind"),
        ("deep", line("[" * 5000 + "]" * 5000), "nested"),
        (
            "huge line",
            line('{"event": {"kind": "clock", "time": "' + "9" * 2_000_000 + '"}}'),
            "longer",
        ),
        (
            "off grid",
            mutated(lambda log: record(log, 2, "takeover").update(price="59300.05")),
            "records[2].price",
        ),
        (
            "unknown market",
            mutated(lambda log: record(log, 2, "takeover").update(market="ETH")),
            "market",
        ),
        ("events in the header", mutated(lambda log: log[0].update(events=[])), "events"),
        *(
            (what, mutated(partial(_set_liquidation, key, value)), key)
            for what, key, value in (
                ("a liquidator fee the log cannot carry", "liquidator_fee", "0.001"),
                ("a fillable-price rule the audit does not check", "limit_rule", "fillable"),
                ("a drawdown floor the replay does not follow", "adl_drawdown", "0.3"),
            )
        ),
    ]


def _set_liquidation(key: str, value: str, log: Log) -> None:
    """Give the header's first market a ``[liquidation]`` key an audit refuses (AUDIT-1)."""
    log[0]["scenario"]["markets"][0].setdefault("liquidation", {})[key] = value


@pytest.mark.parametrize("case", range(14))
def test_hostile_logs_are_clean_errors(case: int, tmp_path: Path) -> None:
    name, make, named = _hostile(tmp_path)[case]
    path = make(tmp_path / f"{case}.jsonl")
    code, output = invoke("audit", str(path))
    assert code == 2, (name, output)
    assert named in output, (name, output)
    assert "Traceback" not in output


# --- the shipped samples (docs/audit.md) ----------------------------------------------------------

SAMPLES = ROOT / "spec" / "audit"


def seed_two_violations(log: Log) -> Log:
    """The two edits of two-violations.jsonl: bob, healthy, liquidated; frank's share inflated."""
    seeded = copy.deepcopy(log)
    line = seeded[4]["records"]  # line 5: the mark at 58000
    line += [
        {"kind": "liquidation-started", "account": "bob"},
        {"kind": "liquidation-step", "account": "bob", "market": "BTCUSDT", "side": "sell",
         "position_before": "0.2", "levels": [["57900", "0.2"]], "fee": "11.58"},
        {"kind": "fund-change", "fund": "USDT", "delta": "11.58", "balance": "11.58",
         "cause": "liquidation-fee"},
        {"kind": "liquidation-ended", "account": "bob"},
    ]  # fmt: skip
    first = next(r for r in line if r["kind"] == "deleveraged")
    first["allocations"][0]["share"] = "411.6008"  # frank's: 50 more than his 361.6008
    return seeded


def as_text(log: Log) -> str:
    return "".join(json.dumps(line, sort_keys=True) + "\n" for line in log)


def test_the_shipped_samples_are_the_reference_s_log_and_two_edits() -> None:
    clean = list(get_log_lines(SAMPLES / "venue.toml"))
    assert (SAMPLES / "venue.jsonl").read_text() == as_text(clean)
    assert (SAMPLES / "two-violations.jsonl").read_text() == as_text(seed_two_violations(clean))


def test_the_two_violations_are_found_and_only_they(tmp_path: Path) -> None:
    clean = list(get_log_lines(SAMPLES / "venue.toml"))
    assert audit(clean, tmp_path)[1] == []
    _, findings = audit(seed_two_violations(clean), tmp_path)
    assert [(f.violation.identifier, f.line, f.account) for f in findings] == [
        ("adl-total", 5, "erin"),
        ("premature-liquidation", 5, "bob"),
    ]
    adl, premature = (dict(f.numbers) for f in findings)
    assert adl["overshoot"] == "50"
    # bob: 3000 + 0.2 x (58000 - 59000) = 2800; tier 1 at 11,600 notional: 0.4% = 46.4
    assert (premature["equity"], premature["maintenance"]) == ("2800", "46.4")


def test_a_capped_fund_then_adl_is_not_flagged(tmp_path: Path) -> None:
    """INS-2's cap: the fund pays at most the cap on a deficit, and ADL takes the rest."""
    text = (SCENARIOS / "adl-after-fund-exhausted.toml").read_text()
    market = (ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml").as_posix()
    text = text.replace('"../markets/binance-btcusdt-2024-10-24.toml"', f'"{market}"')
    text = text.replace('deleveraging = "adl"', 'deleveraging = "adl"\ninsurance_step_cap = "20"')
    scenario = tmp_path / "capped.toml"
    scenario.write_text(text)
    log = list(get_log_lines(scenario))
    assert record(log, 2, "fund-change")["delta"] == "-20"  # the cap, not the fund's 50
    assert audit(log, tmp_path)[1] == []
    record(log, 2, "fund-change").update(delta="-50", balance="0")  # past the cap
    _, findings = audit(log, tmp_path)
    assert dict(only(findings, "fund-delta").numbers) == {"expected": "-20", "observed": "-50"}


def test_a_takeover_of_a_healthy_account_is_premature(tmp_path: Path) -> None:
    log = log_of("takeover-at-bankruptcy")
    log[1]["records"].remove(record(log, 2, "liquidation-started"))
    log[1]["event"]["price"] = "60000"
    _, findings = audit(log, tmp_path)
    finding = only(findings, "premature-liquidation")
    assert (finding.line, finding.detail) == (2, "a takeover of a unit that was not in liquidation")


# --- integrity (AUDIT-6) ------------------------------------------------------------------------
# RFC 6962's test data, as the Certificate Transparency implementations publish it: eight
# leaves, the tree head of each prefix, and two audit paths in the tree of eight.

RFC_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
RFC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
RFC_PATHS = {
    0: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"],
    5: ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"],
}  # fmt: skip


def test_merkle_roots_and_paths_are_rfc_6962_s() -> None:
    leaves = [get_leaf_hash(bytes.fromhex(data)) for data in RFC_LEAVES]
    assert get_root([]).hex() == hashlib.sha256(b"").hexdigest()
    assert [get_root(leaves[:n]).hex() for n in range(1, 9)] == RFC_ROOTS
    for index, path in RFC_PATHS.items():
        assert [h.hex() for h in get_inclusion_proof(leaves, index)] == path
        assert is_included(leaves[index], index, 8, [bytes.fromhex(h) for h in path],
                           bytes.fromhex(RFC_ROOTS[7]))  # fmt: skip


def test_every_leaf_proves_only_itself_in_every_tree_size() -> None:
    leaves = [get_leaf_hash(bytes([i, 7 * i % 256])) for i in range(40)]
    for size in range(1, 41):
        root = get_root(leaves[:size])
        for index in range(size):
            path = get_inclusion_proof(leaves[:size], index)
            assert is_included(leaves[index], index, size, path, root)
            assert not is_included(leaves[(index + 1) % 40], index, size, path, root)
            if size > 1:
                assert not is_included(leaves[index], (index + 1) % size, size, path, root)


def test_findings_carry_proofs_of_their_lines_under_the_reported_roots(tmp_path: Path) -> None:
    log = seed_two_violations(list(get_log_lines(SAMPLES / "venue.toml")))
    path = write(log, tmp_path / "log.jsonl")
    code, output = invoke("audit", str(path), "--json", "--batch", "2")
    assert code == 1
    report = json.loads(output)
    assert [r["first_line"] for r in report["roots"]] == [1, 3, 5]  # 5 lines, 2 per batch
    for finding in report["findings"]:
        proof = finding["proof"]
        assert report["roots"][proof["batch"]]["root"] == proof["root"]
        assert json.loads(proof["leaf"]) == log[finding["line"] - 1]  # the finding's own line
        assert proof["leaf"].encode() == get_normalised_text(log[finding["line"] - 1])
    chain = GENESIS
    for line in log:
        chain = hashlib.sha256(bytes.fromhex(chain) + get_normalised_text(line)).hexdigest()
    assert report["chain"] == chain


def test_verify_accepts_a_proof_under_its_root_and_nothing_else(tmp_path: Path) -> None:
    code, output = invoke("audit", str(SAMPLES / "two-violations.jsonl"), "--json")
    report = json.loads(output)
    finding = report["findings"][1]
    root = report["roots"][0]["root"]
    saved = tmp_path / "finding.json"
    saved.write_text(json.dumps(finding))
    assert invoke("audit", "verify", str(saved), "--root", root)[0] == 0
    assert invoke("audit", "verify", str(saved))[0] == 0
    assert invoke("audit", "verify", str(saved), "--root", "0" * 64)[0] == 1
    tampered = copy.deepcopy(finding)
    tampered["proof"]["leaf"] = tampered["proof"]["leaf"].replace("57900", "57000")
    saved.write_text(json.dumps(tampered))
    assert invoke("audit", "verify", str(saved), "--root", root)[0] == 1
    saved.write_text(json.dumps({"line": 5}))
    code, output = invoke("audit", "verify", str(saved))
    assert code == 2
    assert "proof" in output


# --- claimed prices (AUDIT-8) -------------------------------------------------------------------
# spec/audit/claims.csv, on Binance BTCUSDT (tier 2: 0.5%, amount 50, from 50,000 notional).
# A long of 1 BTC from 60,000 with 3,000 isolated liquidates where
# 3000 + (P - 60000) = 0.005 P - 50, P = 56950 / 0.995 = 57236.18..., first tick 57236.1;
# tier 1 (0.4%, 0) would give 57000 / 0.996 = 57228.91..., tick 57228.9. With 3,235 the root
# is 56715 / 0.995 = 57000 exactly: liquidatable there (inclusive), and at 56999.9 when strict.

CLAIMS = ROOT / "spec" / "audit" / "claims.csv"
BINANCE = ROOT / "spec" / "markets" / "binance-btcusdt-2024-10-24.toml"


def test_claims_get_their_causes() -> None:
    code, output = invoke("check-prices", str(CLAIMS), "--market", str(BINANCE), "--json")
    assert code == 1
    report = json.loads(output)
    causes = {row["id"]: (row["cause"], row["ticks"], row["direction"]) for row in report["rows"]}
    assert causes == {
        "right": ("ok", "0", ""),
        "rounded": ("rounding", "1", "toward entry"),
        "tier-from-margin": ("tier 1", "-72", "away from entry"),
        "strict": ("trigger", "-1", "away from entry"),
        "inclusive": ("ok", "0", ""),
        "wild": ("unexplained", "-72361", "away from entry"),
    }
    right = report["rows"][0]
    assert (right["bankruptcy_price"], right["maintenance"]) == ("57000", "250")  # 60000 - 3000
    assert report["summary"] == {"rows": 6, "agree": 2, "disagree": 4, "away_from_entry": 3,
                                 "causes": {"rounding": 1, "tier 1": 1, "trigger": 1,
                                            "unexplained": 1}}  # fmt: skip


def test_a_tolerance_of_one_tick_accepts_rounding_and_the_trigger(tmp_path: Path) -> None:
    rows = CLAIMS.read_text().splitlines()
    kept = tmp_path / "claims.csv"
    kept.write_text("\n".join(r for r in rows if not r.startswith(("tier", "wild"))) + "\n")
    assert invoke("check-prices", str(kept), "--market", str(BINANCE), "--tolerance", "1")[0] == 0
    assert invoke("check-prices", str(kept), "--market", str(BINANCE))[0] == 1


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda t: t.replace(",maintenance", ",maintenance,venue"), "venue"),
        (lambda t: t.replace("liquidation_price,", ""), "liquidation_price"),
        (lambda t: t.replace("right,BTCUSDT,long", "right,BTCUSDT,up"), "side"),
        (lambda t: t.replace("right,BTCUSDT,long,1,", "right,BTCUSDT,long,1.0001,"), "size"),
        (lambda t: t.replace("right,BTCUSDT", "right,ETHUSDT"), "market"),
        (lambda t: t.replace(",57236.1,57000,250", ",NaN,57000,250"), "liquidation_price"),
        (lambda t: t + "extra,BTCUSDT,long,1\n", "line 8"),
    ],
)
def test_bad_claims_name_the_line_and_column(
    change: Callable[[str], str], named: str, tmp_path: Path
) -> None:
    bad = tmp_path / "claims.csv"
    bad.write_text(change(CLAIMS.read_text()))
    code, output = invoke("check-prices", str(bad), "--market", str(BINANCE))
    assert code == 2, output
    assert named in output
    assert "Traceback" not in output


def test_shorts_none_always_and_line_numbers(tmp_path: Path) -> None:
    """A short of 1 BTC from 60,000 with 3,000 isolated: 3000 + (60000 - P) = 0.005 P - 50,
    P = 63050 / 1.005 = 62736.31..., first liquidatable tick above: 62736.4."""
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "id,market,side,size,entry,mode,margin,liquidation_price,bankruptcy_price\n"
        "short,BTCUSDT,short,1,60000,isolated,3000,62736.4,63000\n"
        "short-rounded,BTCUSDT,short,1,60000,isolated,3000,62736.3,\n"
        "safe,BTCUSDT,long,1,60000,cross,70000,none,none\n"  # collateral above the notional
        "underwater,BTCUSDT,short,0.001,0.1,cross,0,none,\n"  # MM above 0 with no equity
    )
    code, output = invoke("check-prices", str(claims), "--market", str(BINANCE), "--json")
    rows = {row["id"]: row for row in json.loads(output)["rows"]}
    assert code == 1
    assert (rows["short"]["cause"], rows["short"]["bankruptcy_price"]) == ("ok", "63000")
    assert (rows["short-rounded"]["cause"], rows["short-rounded"]["direction"]) == (
        "rounding", "toward entry",
    )  # fmt: skip
    assert (rows["safe"]["cause"], rows["safe"]["liquidation_price"]) == ("ok", "none")
    assert (rows["underwater"]["cause"], rows["underwater"]["liquidation_price"]) == (
        "always", "always",
    )  # fmt: skip
    claims.write_text("id,market,side,size,entry,mode,margin,liquidation_price\n\n\n"
                      "a,BTCUSDT,long,1,60000,isolated,3000,\n")  # fmt: skip
    code, output = invoke("check-prices", str(claims), "--market", str(BINANCE))
    assert code == 2
    assert "line 4: liquidation_price" in output
    claims.write_text("id,id,market,side,size,entry,mode,margin,liquidation_price\n")
    code, output = invoke("check-prices", str(claims), "--market", str(BINANCE))
    assert (code, "'id'" in output) == (2, True)


# spec/audit/cross-claims.csv: account acct, on 10,000 USDT, holds 1 BTC long from 60,000 and
# 1,000 CYBER short from 5 at the mark 6 (PnL -1,000, MM 2.5% x 6,000 = 150). BTC liquidates
# where 9000 + (P - 60000) = 0.005 P - 50 + 150: P = 51100 / 0.995 = 51356.78..., tick 51356.7;
# alone, 0.995 P = 49950: 50201.005..., tick 50201.0. CYBER: 10000 + (5 - P) 1000 = 25 P + 250,
# P = 14750 / 1025 = 14.3902..., tick up 14.391; alone 15000 / 1025 = 14.6341..., tick 14.635.

CROSS_CLAIMS = ROOT / "spec" / "audit" / "cross-claims.csv"
CYBER = ROOT / "spec" / "markets" / "binance-cyberusdt-2023-08-31.toml"


def test_cross_rows_of_one_account_share_the_wallet() -> None:
    code, output = invoke("check-prices", str(CROSS_CLAIMS), "--market", str(BINANCE),
                          "--market", str(CYBER), "--json")  # fmt: skip
    assert code == 1
    rows = {row["id"]: row for row in json.loads(output)["rows"]}
    assert {k: (r["liquidation_price"], r["cause"]) for k, r in rows.items()} == {
        "btc": ("51356.7", "ok"),
        "cyber": ("14.391", "ok"),
        "btc-alone": ("51356.7", "others"),
        "cyber-alone": ("14.391", "others"),
    }
    assert rows["btc-alone"]["ticks"] == "-11557"  # 50201.0 - 51356.7
    assert rows["cyber-alone"]["ticks"] == "244"  # 14.635 - 14.391


@pytest.mark.parametrize(
    ("row", "named"),
    [
        ("cyber2,acct,CYBERUSDT,long,10,5,6,cross,10000,1", "duplicate-position"),
        (("btc-wallet,acct2,BTCUSDT,long,1,60000,60000,cross,10000,1\n"
          "cyber-wallet,acct2,CYBERUSDT,long,10,5,6,cross,9000,1"), "line 7: margin"),
        ("hl,acct,BTC,long,1,60000,60000,cross,10000,1", "cross-incompatible"),
    ],
)  # fmt: skip
def test_a_cross_account_has_one_wallet_one_asset_and_a_position_per_market(
    row: str, named: str, tmp_path: Path
) -> None:
    bad = tmp_path / "claims.csv"
    bad.write_text(CROSS_CLAIMS.read_text() + row + "\n")
    hyperliquid = ROOT / "spec" / "markets" / "hyperliquid-btc-2024.toml"
    code, output = invoke("check-prices", str(bad), "--market", str(BINANCE), "--market",
                          str(CYBER), "--market", str(hyperliquid))  # fmt: skip
    assert code == 2, output
    assert named in output


def test_an_account_on_an_isolated_row_is_ignored(tmp_path: Path) -> None:
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "id,account,market,side,size,entry,mode,margin,liquidation_price\n"
        "a,x,BTCUSDT,long,1,60000,isolated,3000,57236.1\n"
        "b,x,BTCUSDT,long,1,60000,isolated,3000,57236.1\n"  # the same market: two units
    )
    assert invoke("check-prices", str(claims), "--market", str(BINANCE))[0] == 0


def test_a_cross_account_s_markets_share_their_trigger(tmp_path: Path) -> None:
    """ACCOUNT-4: a strict-trigger market cannot join an inclusive one on one wallet."""
    strict = tmp_path / "strict.toml"
    strict.write_text(CYBER.read_text().replace('symbol = "CYBERUSDT"', 'symbol = "CYBERSTRICT"')
                      .replace('trigger = "inclusive"', 'trigger = "strict"'))  # fmt: skip
    claims = tmp_path / "claims.csv"
    claims.write_text(CROSS_CLAIMS.read_text() + "s,acct,CYBERSTRICT,long,10,5,6,cross,10000,1\n")
    code, output = invoke("check-prices", str(claims), "--market", str(BINANCE), "--market",
                          str(CYBER), "--market", str(strict))  # fmt: skip
    assert code == 2
    assert "line 6: market" in output
    assert "cross-incompatible" in output
