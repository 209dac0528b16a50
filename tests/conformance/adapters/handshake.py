"""An adapter that fails its handshake, or floods: for the runner's tests (no liqspec import).

Usage: python handshake.py MODE. Handshake defects: exit-at-hello, exit-after-hello,
hello-list, hello-string, no-features, features-number, features-nested, protocol-2, chatter
(a second line after the hello), silent (never answers). Floods on the first case after a good
hello (or, with --one-shot, on the case read from stdin): flood-bytes (no newline, until
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
}


def flood(mode: str) -> None:
    """Write until killed: a megabyte without newline at a time, or many short lines."""
    chunk = b"x" * (1 << 20) if mode == "flood-bytes" else b'{"type":"result"}\n' * 50_000
    while True:
        sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()


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
    print(json.dumps(HELLOS.get(mode, GOOD)), flush=True)
    if mode == "exit-after-hello":
        sys.exit(0)
    if mode == "chatter":
        print(json.dumps(GOOD), flush=True)
    sys.stdin.buffer.readline()  # the first case
    flood(mode)


if __name__ == "__main__":
    main()
