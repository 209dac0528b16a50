"""A stub adapter that computes nothing, for the runner's tests (it starts fast: no liqspec).

Usage: python stub.py MODE [CASE-ID]. Every case is answered ``skipped``, except as the mode
says. Handshake defects: exit-at-hello, exit-after-hello, hello-list, hello-string,
no-features, features-number, features-nested, protocol-2, chatter (a second line after the
hello), silent (never answers); other-features (a good hello whose features match no vector
kind). Reply defects, on the case CASE-ID: not-object (a JSON list), huge-integer (5,000
digits), deep (nested 100,000 levels), twice (the reply, then a copy of it). Floods, on the
first case (with --one-shot, on the case read from stdin): flood-bytes (no newline, until
killed), flood-lines (short lines, until killed).
"""

from __future__ import annotations

import json
import sys
import time

GOOD = {"type": "hello", "protocol": 1, "implementation": "t", "version": "0", "features": ["fee"]}
HELLOS: dict[str, object] = {
    "hello-list": [GOOD],
    "hello-string": "hello",
    "no-features": {k: v for k, v in GOOD.items() if k != "features"},
    "features-number": {**GOOD, "features": 5},
    "features-nested": {**GOOD, "features": [["fee"]]},
    "protocol-2": {**GOOD, "protocol": 2},
    "other-features": {**GOOD, "features": ["quanto"]},
}
BAD_REPLIES = {
    "not-object": b'["result"]',
    "huge-integer": b'{"type": "result", "id": "x", "output": ' + b"9" * 5000 + b"}",
    "deep": b"[" * 100_000 + b"]" * 100_000,
}


def flood(mode: str) -> None:
    """Write until killed: a megabyte without newline at a time, or many short lines."""
    chunk = b"x" * (1 << 20) if mode == "flood-bytes" else b'{"type":"result"}\n' * 50_000
    while True:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()


def write(data: bytes) -> None:
    """Write one line."""
    sys.stdout.buffer.write(data + b"\n")
    sys.stdout.buffer.flush()


def serve(mode: str, target: str) -> None:
    """Answer each case until bye: skipped, or the reply defect on the target case."""
    for line in sys.stdin.buffer:
        message = json.loads(line)
        if message["type"] == "bye":
            return
        if mode.startswith("flood"):
            flood(mode)
        skipped = json.dumps({"type": "skipped", "id": message["id"], "reason": "a stub"})
        if message["id"] == target and mode in BAD_REPLIES:
            write(BAD_REPLIES[mode])
            continue
        write(skipped.encode())
        if message["id"] == target and mode == "twice":
            write(skipped.encode())


def main() -> None:
    """Misbehave as the mode (first argument) says."""
    mode = sys.argv[1]
    if "--one-shot" in sys.argv:
        sys.stdin.buffer.readline()
        flood(mode)
    sys.stdin.buffer.readline()  # the hello
    if mode == "exit-at-hello":
        sys.exit(4)
    if mode == "silent":
        time.sleep(3600)
    write(json.dumps(HELLOS.get(mode, GOOD)).encode())
    if mode == "exit-after-hello":
        sys.exit(0)
    if mode == "chatter":
        write(json.dumps(GOOD).encode())
    serve(mode, sys.argv[2] if len(sys.argv) > 2 else "")


if __name__ == "__main__":
    main()
