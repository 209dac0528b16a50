"""The reference adapter answers every line exactly once, and goes on (spec/protocol.md)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from typing import Any

import jsonschema
import pytest

from liqspec.conformance.adapter import serve, serve_one
from liqspec.conformance.protocol import MAX_LINE
from tests.data import ROOT

REPLY_SCHEMA = json.loads((ROOT / "spec" / "protocol" / "reply.schema.json").read_text())
ADAPTER = [sys.executable, "-m", "liqspec.cli", "adapter"]
GOOD = {"type": "case", "id": "fee/good", "kind": "fee",
        "input": {"nominal": "10", "surplus": "4"}}  # fmt: skip
GOOD_REPLY = {"type": "result", "id": "fee/good", "output": {"fee": "4"}}


def line(message: object) -> bytes:
    return json.dumps(message).encode() + b"\n"


def case(**changes: Any) -> bytes:
    message = {**GOOD, "id": "x", **changes}
    return line({k: v for k, v in message.items() if v is not None})


DEEP = b'{"type":"case","id":"x","kind":"fee","input":' + b"[" * 40 + b"]" * 40 + b"}\n"

# (name, line, reason, the id echoed or None)
BAD_LINES: list[tuple[str, bytes, str, str | None]] = [
    ("not-json", b"not json\n", "not-json", None),
    ("empty-line", b"\n", "not-json", None),
    ("nan", b'{"type": "case", "id": NaN}\n', "not-json", None),
    ("array", b"[1, 2]\n", "not-an-object", None),
    ("string", b'"case"\n', "not-an-object", None),
    ("not-utf-8", b'{"type": "case", "id": "\xff\xfe"}\n', "not-utf-8", None),
    ("latin-1", '{"type": "case", "id": "é"}\n'.encode("latin-1"), "not-utf-8", None),
    ("huge-integer", b'{"type": "case", "id": ' + b"9" * 5000 + b"}\n", "number-too-large", None),
    ("recursion", b"[" * 200_000 + b"]" * 200_000 + b"\n", "too-deep", None),
    ("deep", DEEP, "too-deep", None),
    ("no-type", line({"id": "x"}), "unknown-message", "x"),
    ("reply-type", line({"type": "result", "id": "x"}), "unknown-message", "x"),
    ("no-id", case(id=None), "bad-case", None),
    ("id-a-number", case(id=5), "bad-case", None),
    ("id-too-long", case(id="x" * 201), "bad-case", None),
    ("no-kind", case(kind=None), "bad-case", "x"),
    ("no-input", case(input=None), "bad-case", "x"),
    ("input-a-list", case(input=["10", "4"]), "bad-input", "x"),
    ("market-a-string", case(kind="market", input={"market": "btc.toml"}), "bad-input", "x"),
    ("markets-a-string", case(kind="margin", input={"markets": "a", "account": {}}), "bad-input",
     "x"),
    ("unknown-kind", case(kind="quanto"), "unknown-kind", "x"),
    ("kind-a-list", case(kind=["fee"]), "unknown-kind", "x"),
    ("protocol-2", line({"type": "hello", "protocol": 2}), "unsupported-protocol", None),
    ("too-long", b'{"pad": "' + b"x" * MAX_LINE + b'"}\n', "line-too-long", None),
    ("too-long-no-newline-at-cap", b"x" * (MAX_LINE + 1) + b"\n", "line-too-long", None),
]  # fmt: skip


def check_errored(reply: dict[str, Any], reason: str, case_id: str | None) -> None:
    jsonschema.validate(reply, REPLY_SCHEMA)
    assert reply["type"] == "errored"
    assert reply["reason"] == reason, reply
    assert reply.get("id") == case_id
    assert reply["message"]


@pytest.mark.parametrize(
    ("name", "bad", "reason", "case_id"), BAD_LINES, ids=[b[0] for b in BAD_LINES]
)
def test_every_line_gets_one_reply_and_the_adapter_goes_on(
    name: str, bad: bytes, reason: str, case_id: str | None
) -> None:
    out = io.BytesIO()
    serve(io.BytesIO(bad + line(GOOD) + b'{"type": "bye"}\n' + line(GOOD)), out)
    first, second = (json.loads(reply) for reply in out.getvalue().splitlines())
    check_errored(first, reason, case_id)
    assert second == GOOD_REPLY  # and nothing after bye


@pytest.mark.parametrize(
    ("name", "bad", "reason", "case_id"), BAD_LINES, ids=[b[0] for b in BAD_LINES]
)
def test_one_shot_answers_any_line_once(
    name: str, bad: bytes, reason: str, case_id: str | None
) -> None:
    out = io.BytesIO()
    serve_one(io.BytesIO(bad + line(GOOD)), out)
    (reply,) = out.getvalue().splitlines()
    check_errored(json.loads(reply), reason, case_id)


def test_one_shot_without_input_says_so() -> None:
    out = io.BytesIO()
    serve_one(io.BytesIO(b""), out)
    check_errored(json.loads(out.getvalue()), "not-json", None)


def test_a_line_at_the_cap_is_read() -> None:
    message = {**GOOD, "pad": ""}
    message["pad"] = "x" * (MAX_LINE - len(line(message)))
    assert len(line(message)) == MAX_LINE
    out = io.BytesIO()
    serve(io.BytesIO(line(message)), out)
    assert json.loads(out.getvalue()) == GOOD_REPLY


def test_the_process_answers_every_line_in_the_c_locale() -> None:
    stream = b"".join(bad + line(GOOD) for _, bad, _, _ in BAD_LINES)
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    env.pop("PYTHONIOENCODING", None)
    env.pop("PYTHONUTF8", None)
    done = subprocess.run(ADAPTER, input=stream, capture_output=True, env=env, check=True)  # noqa: S603
    replies = [json.loads(reply) for reply in done.stdout.splitlines()]
    assert len(replies) == 2 * len(BAD_LINES)
    for (_, _, reason, case_id), reply, good in zip(
        BAD_LINES, replies[::2], replies[1::2], strict=True
    ):
        check_errored(reply, reason, case_id)
        assert good == GOOD_REPLY
    assert done.stderr == b""


def test_one_shot_process_in_the_c_locale() -> None:
    env = {**os.environ, "LC_ALL": "C"}
    done = subprocess.run(  # noqa: S603
        [*ADAPTER, "--one-shot"], input=b'{"id": "\xff"}', capture_output=True, env=env, check=True
    )
    check_errored(json.loads(done.stdout), "not-utf-8", None)


def test_a_30_mb_line_is_refused_at_once_by_the_cap() -> None:
    process = subprocess.Popen(ADAPTER, stdin=subprocess.PIPE, stdout=subprocess.PIPE)  # noqa: S603
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(line({"type": "hello", "protocol": 1}))
    process.stdin.flush()
    assert json.loads(process.stdout.readline())["type"] == "hello"
    big = case(input={"nominal": "1" * (30 << 20), "surplus": "1"})
    process.stdin.write(big + line(GOOD))
    process.stdin.flush()
    check_errored(json.loads(process.stdout.readline()), "line-too-long", None)
    assert json.loads(process.stdout.readline()) == GOOD_REPLY
    process.stdin.close()
    assert process.wait(timeout=10) == 0


class _CountingInput(io.BytesIO):
    """Standard input that records how many bytes each read asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked: list[int] = []

    def readline(self, size: int | None = -1, /) -> bytes:
        self.asked.append(-1 if size is None else size)
        return super().readline(size)


def test_an_oversized_line_is_never_read_whole() -> None:
    big = case(input={"nominal": "1" * (30 << 20), "surplus": "1"})
    stdin, stdout = _CountingInput(big + line(GOOD)), io.BytesIO()
    serve(stdin, stdout)
    replies = [json.loads(reply) for reply in stdout.getvalue().splitlines()]
    check_errored(replies[0], "line-too-long", None)
    assert replies[1:] == [GOOD_REPLY]
    assert all(0 < size <= MAX_LINE + 1 for size in stdin.asked)  # every read is bounded


def test_the_adapter_stops_quietly_when_the_runner_goes() -> None:
    process = subprocess.Popen(  # noqa: S603
        ADAPTER, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None
    process.stdout.close()  # the reader has gone: writing a reply fails
    _, errors = process.communicate(line(GOOD) * 1000, timeout=30)
    assert process.returncode == 0
    assert b"Traceback" not in errors
    assert b"Exception ignored" not in errors


def test_a_reply_over_the_cap_is_errored(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = {"output": {"fee": "1" * MAX_LINE}}
    monkeypatch.setattr("liqspec.conformance.adapter.evaluate", lambda kind, case: huge)
    out = io.BytesIO()
    serve(io.BytesIO(line(GOOD)), out)
    check_errored(json.loads(out.getvalue()), "reply-too-long", "fee/good")


def test_a_defect_of_the_adapter_is_errored_and_it_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(kind: str, case: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("tiers")

    monkeypatch.setattr("liqspec.conformance.adapter.evaluate", broken)
    out = io.BytesIO()
    serve(io.BytesIO(line(GOOD) * 2), out)
    replies = [json.loads(reply) for reply in out.getvalue().splitlines()]
    assert len(replies) == 2
    for reply in replies:
        check_errored(reply, "internal-error", "fee/good")
        assert reply["message"] == "KeyError: 'tiers'"


def test_the_protocol_lists_exactly_the_reasons_the_adapter_gives() -> None:
    text = (ROOT / "spec" / "protocol.md").read_text()
    table = text.split("## Errored replies", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.MULTILINE)
    given = {reason for _, _, reason, _ in BAD_LINES} | {"reply-too-long", "internal-error"}
    assert sorted(documented) == sorted(given)
