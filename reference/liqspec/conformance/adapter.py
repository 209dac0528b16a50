"""The reference implementation's adapter (spec/protocol.md).

Long-lived mode: read one JSON message per line on stdin, answer one per line on stdout:
``hello`` -> ``hello`` (protocol, implementation, version, features); ``case`` -> ``result``
(``output`` or ``error``); ``bye`` -> exit. One-shot mode: one ``case`` on stdin, one reply.
"""

from __future__ import annotations

import json
from typing import Any, TextIO

from liqspec import __version__
from liqspec.conformance.vectors import KINDS, evaluate

__all__ = ["PROTOCOL", "answer", "serve", "serve_one"]

PROTOCOL = 1


def answer(message: dict[str, Any]) -> dict[str, Any]:
    """Return the reply to one request message."""
    kind = message.get("type")
    if kind == "hello":
        return {"type": "hello", "protocol": PROTOCOL, "implementation": "liqspec-reference",
                "version": __version__, "features": sorted(KINDS)}  # fmt: skip
    if kind == "case":
        case_id = message.get("id", "")
        if message.get("kind") not in KINDS:
            return {"type": "skipped", "id": case_id, "reason": "kind not supported"}
        result = evaluate(message["kind"], message["input"])
        return {"type": "result", "id": case_id, **result}
    return {"type": "errored", "id": message.get("id", ""), "message": f"unknown message {kind!r}"}


def _send(stdout: TextIO, reply: dict[str, Any]) -> None:
    stdout.write(json.dumps(reply, sort_keys=True, separators=(",", ":")) + "\n")
    stdout.flush()


def serve(stdin: TextIO, stdout: TextIO) -> None:
    """Serve requests until ``bye`` or end of input."""
    for line in stdin:
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            _send(stdout, {"type": "errored", "id": "", "message": f"not JSON: {error}"})
            continue
        if message.get("type") == "bye":
            return
        _send(stdout, answer(message))


def serve_one(stdin: TextIO, stdout: TextIO) -> None:
    """One-shot mode: answer the single case on stdin."""
    _send(stdout, answer(json.loads(stdin.read())))
