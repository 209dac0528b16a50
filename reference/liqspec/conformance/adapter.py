"""The reference implementation's adapter (spec/protocol.md).

Long-lived mode: read one JSON message per line on stdin, answer one per line on stdout:
``hello`` -> ``hello`` (protocol, implementation, version, features); ``case`` -> ``result``
(``output`` or ``error``); ``bye`` -> exit. One-shot mode: one ``case`` on stdin, one reply.

Every other line gets exactly one ``errored`` reply with a reason of spec/protocol.md (Errored
replies), and the adapter goes on. Input is read as bytes in lines of at most
:data:`~liqspec.conformance.runner.MAX_LINE` bytes (the rest of a longer line is read in
chunks and dropped) and decoded as UTF-8 whatever the locale. No case ever opens a file
(VEC-3).
"""

from __future__ import annotations

import json
from typing import IO, Any

from liqspec import __version__
from liqspec.conformance.protocol import MAX_LINE, PROTOCOL, LineError, parse_line, shown
from liqspec.conformance.vectors import KINDS, BadCaseError, evaluate

__all__ = ["MAX_ID", "PROTOCOL", "answer", "answer_line", "serve", "serve_one"]

MAX_ID = 200
"""Longest case id accepted (and echoed)."""

_CHUNK = 1 << 20


def _errored(reason: str, message: str, case_id: str | None = None) -> dict[str, Any]:
    reply = {"type": "errored", "reason": reason, "message": message}
    return reply if case_id is None else {**reply, "id": case_id}


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """Return the one reply to a request message other than ``bye``."""
    kind = message.get("type")
    if kind == "hello":
        if message.get("protocol") != PROTOCOL:
            got = shown(message.get("protocol"))
            return _errored("unsupported-protocol", f"protocol {got}; this adapter speaks 1")
        return {"type": "hello", "protocol": PROTOCOL, "implementation": "liqspec-reference",
                "version": __version__, "features": sorted(KINDS)}  # fmt: skip
    if kind == "case":
        return _answer_case(message)
    return _errored("unknown-message", f"unknown message type {shown(kind)}", _id_of(message))


def _id_of(message: dict[str, Any]) -> str | None:
    case_id = message.get("id")
    return case_id if isinstance(case_id, str) and len(case_id) <= MAX_ID else None


def _answer_case(message: dict[str, Any]) -> dict[str, Any]:
    case_id = _id_of(message)
    missing = [key for key in ("id", "kind", "input") if key not in message]
    if missing:
        return _errored("bad-case", f"a case needs {', '.join(missing)}", case_id)
    if case_id is None:
        detail = f"id must be a string of at most {MAX_ID} characters"
        return _errored("bad-case", detail + f", got {shown(message['id'])}")
    try:
        result = evaluate(message["kind"], message["input"])
    except BadCaseError as error:
        return _errored(error.reason, str(error), case_id)
    except RecursionError:
        return _errored("too-deep", "the input is nested too deeply", case_id)
    except Exception as error:  # noqa: BLE001 - every line gets one reply, even on a bug
        return _errored("internal-error", f"{type(error).__name__}: {error}"[:300], case_id)
    return {"type": "result", "id": case_id, **result}


def answer_line(line: bytes) -> dict[str, Any] | None:
    """Return the reply to one input line, or None for ``bye``."""
    try:
        message = parse_line(line)
    except LineError as error:
        return _errored(error.reason, str(error))
    if message.get("type") == "bye":
        return None
    return answer(message)


def _encode(reply: dict[str, Any]) -> bytes:
    data = json.dumps(reply, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    if len(data) <= MAX_LINE:
        return data
    detail = f"the reply would be longer than {MAX_LINE} bytes"
    return _encode(_errored("reply-too-long", detail, reply.get("id")))


def _read_line(stdin: IO[bytes]) -> tuple[bytes, bool]:
    """Return the next line (empty at the end) and whether it was longer than the cap.

    The rest of an oversized line is read in chunks and dropped, never held whole.
    """
    line = stdin.readline(MAX_LINE + 1)
    if len(line) <= MAX_LINE:
        return line, False
    while not line.endswith(b"\n"):
        line = stdin.readline(_CHUNK)
        if not line:
            break
    return b"", True


def _reply_to(line: bytes, oversized: bool) -> dict[str, Any] | None:
    if oversized:
        return _errored("line-too-long", f"a line longer than {MAX_LINE} bytes")
    return answer_line(line)


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Serve requests until ``bye`` or the end of input; answer every other line once."""
    while True:
        line, oversized = _read_line(stdin)
        if not line and not oversized:
            return
        reply = _reply_to(line, oversized)
        if reply is None:
            return
        if not _send(stdout, reply):
            return


def serve_one(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """One-shot mode: answer the single message on stdin (spec/protocol.md, One-shot mode)."""
    line, oversized = _read_line(stdin)
    if not line and not oversized:
        _send(stdout, _errored("not-json", "no message on standard input"))
        return
    reply = _reply_to(line, oversized)
    if reply is not None:
        _send(stdout, reply)


def _send(stdout: IO[bytes], reply: dict[str, Any]) -> bool:
    """Write one reply line; return False when the reader has gone."""
    try:
        stdout.write(_encode(reply))
        stdout.flush()
    except BrokenPipeError:
        return False
    return True
