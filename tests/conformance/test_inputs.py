"""Malformed cases and vector files are refused with a named reason, before anything is read."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from liqspec.base.errors import InputError, LiqspecError
from liqspec.conformance.vectors import (
    MAX_CUTS,
    MAX_MARKETS,
    BadCaseError,
    evaluate,
    load_vectors,
    read_json_file,
)
from tests.data import ROOT

VECTORS = ROOT / "spec" / "vectors"
FEE = json.loads((VECTORS / "fee" / "nominal-10-surplus-4.json").read_text())
MARKET = json.loads((VECTORS / "market" / "binance-btcusdt-2024-10-24.json").read_text())
DOCUMENT = MARKET["input"]["market"]


@pytest.mark.parametrize(
    ("kind", "case", "reason"),
    [
        ("nope", {}, "unknown-kind"),
        (5, {}, "unknown-kind"),
        ("fee", ["10", "4"], "bad-input"),
        ("fee", {"nominal": "10"}, "bad-input"),
        ("fee", {"nominal": "10", "surplus": "4", "extra": "1"}, "bad-input"),
        ("fee", {"nominal": ["10"], "surplus": "4"}, "bad-input"),
        ("market", {"market": "spec/markets/binance-btcusdt-2024-10-24.toml"}, "bad-input"),
        ("market", {"market": None}, "bad-input"),
        ("margin", {"markets": {}, "account": {}}, "bad-input"),
        ("margin", {"markets": ["a.toml"], "account": {}}, "bad-input"),
        ("shares", {"deficit": "1", "cuts": "1", "total": "2"}, "bad-input"),
        ("scenario", {"scenario": []}, "bad-input"),
    ],
)
def test_a_case_of_the_wrong_shape_is_not_evaluated(kind: Any, case: Any, reason: str) -> None:
    with pytest.raises(BadCaseError) as caught:
        evaluate(kind, case)
    assert caught.value.reason == reason
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "case"),
    [
        ("margin", {"markets": [{}] * (MAX_MARKETS + 1), "account": {}}),
        ("shares", {"deficit": "1", "cuts": ["x"] * (MAX_CUTS + 1), "total": "1"}),
    ],
)
def test_lists_are_counted_before_their_items_are_read(kind: str, case: dict[str, Any]) -> None:
    # the items are invalid: a magnitude rejection shows they were never looked at
    assert evaluate(kind, case) == {"error": "magnitude"}


def test_a_long_list_is_refused_before_its_items_are_read() -> None:
    # every item is broken: reading any of them would answer not-a-decimal, not magnitude
    cuts = ["not a number"] * 300_000
    assert evaluate("shares", {"deficit": "1", "cuts": cuts, "total": "1"}) == {
        "error": "magnitude"
    }


def test_a_market_path_in_a_scenario_is_never_opened(tmp_path: Path, monkeypatch: Any) -> None:
    vector = json.loads((VECTORS / "scenario" / "reject-market-path.json").read_text())
    (entry,) = vector["input"]["scenario"]["scenario"]["markets"]
    assert isinstance(entry, str)
    # the file exists relative to this folder: it is still rejected, not read
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "markets").mkdir()
    (tmp_path / "markets" / Path(entry).name).write_text(
        (ROOT / "spec" / "markets" / Path(entry).name).read_text()
    )
    monkeypatch.chdir(tmp_path / "scenarios")
    assert evaluate("scenario", vector["input"]) == {"error": "not-inline"}
    assert vector["expected_error"] == {"reason": "not-inline"}


def _write(text: str | bytes) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)

    return make


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _loop(path: Path) -> None:
    path.symlink_to(path)


def _dangling(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere.json")


WITHOUT_KIND = {k: v for k, v in FEE.items() if k != "kind"}
WITHOUT_INPUT = {k: v for k, v in FEE.items() if k != "input"}
BAD_FILES: list[tuple[str, Callable[[Path], None], str]] = [
    ("malformed", _write("{"), "syntax"),
    ("array", _write(json.dumps([FEE])), "wrong-type"),
    ("not-utf-8", _write(b'{"id": "\xff"}'), "syntax"),
    ("huge-integer", _write('{"format": ' + "9" * 5000 + "}"), "magnitude"),
    ("deep", _write("[" * 100_000 + "]" * 100_000), "syntax"),
    ("nan", _write('{"format": NaN}'), "not-a-decimal"),
    ("missing-kind", _write(json.dumps(WITHOUT_KIND)), "missing-key"),
    ("missing-input", _write(json.dumps(WITHOUT_INPUT)), "missing-key"),
    ("input-a-list", _write(json.dumps({**FEE, "input": []})), "wrong-type"),
    ("fifo", _fifo, "unreadable"),
    ("symlink-loop", _loop, "unreadable"),
    ("dangling-symlink", _dangling, "unreadable"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "make", "reason"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_vector_file_is_refused_naming_it(
    tmp_path: Path, name: str, make: Callable[[Path], None], reason: str
) -> None:
    (tmp_path / "fee").mkdir()
    (tmp_path / "fee" / "good.json").write_text(json.dumps(FEE))
    bad = tmp_path / "fee" / f"{name}.json"
    make(bad)
    with pytest.raises(InputError) as caught:
        load_vectors(tmp_path)  # a FIFO would block here if it were opened
    assert caught.value.reason.identifier == reason
    assert str(bad) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_vector_ids_are_unique_and_a_folder_has_vectors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no vector files"):
        load_vectors(tmp_path)
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps(FEE))
    with pytest.raises(LiqspecError, match="also the id of"):
        load_vectors(tmp_path)


def test_the_bundled_vectors_load() -> None:
    vectors = load_vectors(VECTORS)
    assert len(vectors) == len(list(VECTORS.rglob("*.json")))
    assert {v["id"] + ".json" for v in vectors} == {
        str(p.relative_to(VECTORS)) for p in VECTORS.rglob("*.json")
    }


def test_a_json_file_must_hold_an_object(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text('"x"')
    with pytest.raises(InputError, match="top level must be a table/object, got str"):
        read_json_file(path)
    path.write_text("x" * 100)
    with pytest.raises(InputError, match="larger than 10 bytes"):
        read_json_file(path, 10)
