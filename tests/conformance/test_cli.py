"""The conformance commands: one-line errors and exit 2 for bad input, defaults from anywhere."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from liqspec.cli import main
from tests.conformance.test_inputs import BAD_FILES, FEE
from tests.data import ROOT

PYTHON = shlex.quote(sys.executable)
REFERENCE = f"{PYTHON} -m liqspec.cli adapter"
STUB = f"{PYTHON} {shlex.quote(str(ROOT / 'tests/conformance/adapters/stub.py'))}"
FAULTY = f"{PYTHON} {shlex.quote(str(ROOT / 'tests/conformance/adapters/faulty.py'))}"


FEE_VECTORS = len(list((ROOT / "spec" / "vectors" / "fee").glob("*.json")))
"""The fee vectors: a small kind the runs below select with `--kind fee`."""


def touching(marker: Path) -> str:
    """Return an adapter command that leaves ``marker`` behind if it is ever started."""
    code = f"open({str(marker)!r}, 'w')"
    return f"{PYTHON} -c {shlex.quote(code)}"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result: Result, code: int = 2, *parts: str) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    (message,) = result.stderr.splitlines()
    assert message.startswith("error: "), message
    assert "Traceback" not in result.output
    for part in parts:
        assert part in message, message


def vectors_folder(tmp_path: Path, *vectors: dict[str, object]) -> Path:
    folder = tmp_path / "vectors"
    folder.mkdir()
    for i, vector in enumerate(vectors or (FEE,)):
        (folder / f"{i}.json").write_text(json.dumps(vector))
    return folder


@pytest.mark.parametrize(
    ("impl", "shown"),
    [("", "empty"), ("   ", "empty"), ("'unbalanced", "No closing quotation"),
     ('node "adapter.js', "No closing quotation"),
     ("no-such-program-liqspec", "'no-such-program-liqspec' is not a program"),
     ("./no/such/adapter", "is not a program")],
)  # fmt: skip
def test_a_bad_adapter_command_is_refused_before_anything_runs(impl: str, shown: str) -> None:
    for command in ("conformance", "fuzz"):
        assert_one_line_error(invoke(command, "--impl", impl), 2, "--impl", shown)


def test_a_file_that_is_not_executable_is_not_an_adapter(tmp_path: Path) -> None:
    script = tmp_path / "adapter.sh"
    script.write_text("#!/bin/sh\n")
    assert_one_line_error(invoke("conformance", "--impl", str(script)), 2, "is not a program")


@pytest.mark.parametrize(
    "option",
    [("--timeout", "0"), ("--timeout", "-1"), ("--timeout", "nan"), ("--timeout", "inf"),
     ("--timeout", "-inf"), ("--timeout", "1e999"), ("--timeout", "x"), ("--restarts", "-1"),
     ("--kind", "quanto"), ("--feature", "quanto"), ("--jsonl", "no/such/folder/r.jsonl"),
     ("--markdown", "no/such/folder/r.md"), ("--vectors", "no/such/folder"),
     ("--mapping", "no-such-mapping.json"), ("--skip", "no-such-skip.txt"), ("--nope", "1")],
)  # fmt: skip
def test_a_bad_option_exits_2_before_the_adapter_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: tuple[str, str]
) -> None:
    marker = tmp_path / "started"
    monkeypatch.chdir(tmp_path)
    result = invoke("conformance", "--impl", touching(marker), *option)
    named = option[1] if option[0] in {"--mapping", "--skip"} else option[0]  # the file
    assert_one_line_error(result, 2, named)
    assert not marker.exists()


@pytest.mark.parametrize(("name", "make", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_vector_file_exits_2_naming_it(
    tmp_path: Path, name: str, make: Callable[[Path], None], reason: str
) -> None:
    folder = vectors_folder(tmp_path)
    make(folder / f"{name}.json")
    result = invoke("conformance", "--impl", REFERENCE, "--vectors", str(folder))
    assert_one_line_error(result, 2, f"{name}.json", reason)


def _mapping(text: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return make


BAD_LISTS: list[tuple[str, str, Callable[[Path], None], str]] = [
    ("--mapping", "malformed", _mapping("{"), "syntax"),
    ("--mapping", "array", _mapping('["x-a", "a"]'), "wrong-type"),
    ("--mapping", "number-value", _mapping('{"x-a": 5}'), "wrong-type"),
    ("--mapping", "not-utf-8", _mapping(b'{"\xff": "a"}'), "syntax"),
    ("--mapping", "fifo", os.mkfifo, "unreadable"),
    ("--mapping", "loop", lambda path: path.symlink_to(path), "unreadable"),
    ("--skip", "not-utf-8", _mapping(b"fee/\xff\n"), "syntax"),
    ("--skip", "fifo", os.mkfifo, "unreadable"),
    ("--skip", "loop", lambda path: path.symlink_to(path), "unreadable"),
    ("--skip", "too-big", _mapping("fee/a\n" * 200_000), "unreadable"),
]


@pytest.mark.parametrize(
    ("option", "name", "make", "reason"), BAD_LISTS, ids=[f"{b[0]}-{b[1]}" for b in BAD_LISTS]
)
def test_a_bad_mapping_or_skip_file_exits_2_naming_it(
    tmp_path: Path, option: str, name: str, make: Callable[[Path], None], reason: str
) -> None:
    folder = vectors_folder(tmp_path)
    path = tmp_path / name
    make(path)
    result = invoke("conformance", "--impl", REFERENCE, "--vectors", str(folder), option, str(path))
    assert_one_line_error(result, 2, str(path), reason)


@pytest.mark.parametrize(
    ("mode", "shown"),
    [("exit-at-hello", "exited (code 4)"), ("features-number", "got 5"),
     ("features-nested", "got [['fee']]"), ("hello-list", "got list"),
     ("protocol-2", "speaks protocol 2")],
)  # fmt: skip
def test_a_failed_handshake_is_one_error_and_exit_2(mode: str, shown: str) -> None:
    for command in ("conformance", "fuzz"):
        result = invoke(command, "--impl", f"{STUB} {mode}")
        assert_one_line_error(result, 2, "handshake", shown)
        assert "ERRORED" not in result.output


def test_unknown_skip_ids_fail_the_run(tmp_path: Path) -> None:
    skip = tmp_path / "skip.txt"
    skip.write_text("# known failures\nfee/no-such-vector  # renamed long ago\n\n")
    result = invoke("conformance", "--impl", REFERENCE, "--kind", "fee", "--skip", str(skip))
    assert result.exit_code == 1
    assert "FAILED fee/no-such-vector: listed in the skip list but no vector has this id" in (
        result.stdout
    )
    assert result.stdout.splitlines()[-1] == f"{FEE_VECTORS} passed, 1 failed, 0 skipped"


def test_a_skip_id_of_another_kind_is_not_unknown(tmp_path: Path) -> None:
    skip = tmp_path / "skip.txt"
    skip.write_text("margin/reject-missing-mark\n")
    result = invoke("conformance", "--impl", REFERENCE, "--kind", "fee", "--skip", str(skip))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"{FEE_VECTORS} passed, 0 failed, 0 skipped"


def test_a_selection_of_nothing_exits_1_without_running(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    impl = touching(marker)
    result = invoke("conformance", "--impl", impl, "--kind", "fee", "--feature", "inverse")
    assert_one_line_error(result, 1, "no vector matches --kind fee --feature inverse")
    assert result.stdout == "0 passed, 0 failed, 0 skipped\n"
    assert not marker.exists()


def test_a_run_where_everything_is_skipped_exits_1() -> None:
    result = invoke("conformance", "--impl", f"{STUB} other-features", "--kind", "fee")
    assert_one_line_error(result, 1, "no case passed or failed")
    assert result.stdout == f"0 passed, 0 failed, {FEE_VECTORS} skipped\n"


def test_reports_are_written_where_asked(tmp_path: Path) -> None:
    jsonl, markdown = tmp_path / "r.jsonl", tmp_path / "r.md"
    result = invoke("conformance", "--impl", f"{FAULTY} wrong-rounding", "--kind", "maintenance",
                    "--jsonl", str(jsonl), "--markdown", str(markdown))  # fmt: skip
    assert result.exit_code == 1
    rows = [json.loads(row) for row in jsonl.read_text().splitlines()]
    assert {row["status"] for row in rows} == {"passed", "failed"}
    summary = result.stdout.splitlines()[-1]
    assert markdown.read_text().splitlines()[-1] == summary
    assert len(markdown.read_text().splitlines()) == len(rows) + 4


@pytest.mark.parametrize(
    "args",
    [("--examples", "0"), ("--examples", "-5"), ("--spec", "no/such/spec"),
     ("--spec", "EMPTY"), ("--spec", "BROKEN"), ("--out", "FILE/vectors"), ("--out", "FILE")],
)  # fmt: skip
def test_bad_fuzz_options_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, str]
) -> None:
    (tmp_path / "EMPTY").mkdir()
    (tmp_path / "BROKEN" / "markets").mkdir(parents=True)
    (tmp_path / "BROKEN" / "markets" / "m.toml").write_text("format = [")
    (tmp_path / "FILE").write_text("a regular file")
    monkeypatch.chdir(tmp_path)
    result = invoke("fuzz", "--impl", REFERENCE, "--examples", "5", *args)
    assert_one_line_error(result, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BROKEN", "EMPTY", "FILE"]


def test_fuzz_prints_a_disagreement_without_writing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("fuzz", "--impl", f"{FAULTY} wrong-rounding", "--examples", "200",
                    "--seed", "3")  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout.startswith("disagreement on maintenance/fuzz-")
    vector = json.loads(result.stdout.split("\n", 1)[1])
    assert vector["input"]["notional"] == "0.00000001"
    assert list(tmp_path.iterdir()) == []


def test_fuzz_reports_an_adapter_that_supports_no_fuzzed_kind() -> None:
    result = invoke("fuzz", "--impl", f"{STUB} other-features", "--examples", "5")
    assert_one_line_error(result, 1, "supports none of the fuzzed kinds")


def test_generate_refuses_a_bad_spec_or_output(tmp_path: Path) -> None:
    (tmp_path / "FILE").write_text("a regular file")
    (tmp_path / "spec" / "markets").mkdir(parents=True)
    assert_one_line_error(invoke("vectors", "generate", "--out", str(tmp_path / "FILE" / "v")))
    result = invoke("vectors", "generate", "--spec", str(tmp_path / "spec"))
    assert_one_line_error(result, 2, "binance-btcusdt-2024-10-24.toml", "unreadable")


def liqspec(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, the installed package
        [sys.executable, "-m", "liqspec.cli", *args],
        cwd=cwd, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


def test_the_defaults_work_from_an_empty_folder_and_write_nothing(tmp_path: Path) -> None:
    count = len(list((ROOT / "spec" / "vectors").rglob("*.json")))
    done = liqspec(tmp_path, "conformance", "--impl", REFERENCE)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == f"{count} passed, 0 failed, 0 skipped\n"
    fuzzed = liqspec(tmp_path, "fuzz", "--impl", REFERENCE, "--examples", "50")
    assert fuzzed.returncode == 0, fuzzed.stdout + fuzzed.stderr
    assert fuzzed.stdout.endswith("cases, no disagreement\n")
    assert list(tmp_path.iterdir()) == []


def test_the_guide_shows_what_a_failed_handshake_prints() -> None:
    guide = (ROOT / "docs" / "conformance.md").read_text()
    shown = next(text for text in guide.splitlines() if text.startswith("error: "))
    result = invoke("conformance", "--impl", f"{STUB} features-number")
    assert result.exit_code == 2
    assert result.stderr == shown + "\n"


@pytest.mark.parametrize(
    "args",
    [("conformance",), ("fuzz", "--impl", REFERENCE, "--examples", "x"), ("adapter", "--bogus"),
     ("vectors", "bogus"), ("vectors", "--bogus"), ("vectors", "generate", "--bogus")],
)  # fmt: skip
def test_usage_errors_are_one_line(args: tuple[str, ...]) -> None:
    assert_one_line_error(invoke(*args), 2)
