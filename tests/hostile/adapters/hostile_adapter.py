"""A hostile adapter for the conformance runner and the fuzzer (spec/protocol.md).

Usage: python hostile_adapter.py MODE [TARGET_ID] [--one-shot]

Handshake modes break the hello: ``features-number``, ``features-nested``, ``exit-after-hello``,
``hello-garbage``, ``hello-array``, ``hello-silent`` (exits without a word), ``hello-hang``,
``no-features`` (supports nothing). ``wrong-answers`` answers every case with a wrong result.
Case modes answer every case through the reference adapter (``liqspec adapter``, found next to
the running interpreter) except the case ``TARGET_ID``, on which the adapter misbehaves:
``crash``, ``hang``, ``garbage``, ``partial``, ``flood`` (gigabytes without a newline),
``flood-lines`` (hundreds of megabytes of short lines), ``lie-id``, ``lie-type``, ``array``,
``deep`` (a reply nested 100000 deep), ``bigint`` (an integer of 5000 digits), ``nan``,
``non-utf8``, ``slow`` (answers after 3 s). It never imports liqspec: it is a black box too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

FEATURES = ["fee", "maintenance", "margin", "market", "scenario", "shares"]
CHUNK = b"x" * (16 << 20)


def write(data: bytes) -> None:
    """Write raw bytes to stdout and flush; a closed pipe ends the adapter quietly."""
    try:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except (BrokenPipeError, OSError):
        sys.exit(0)


def hello(mode: str) -> None:
    """Answer the handshake, the way ``mode`` says."""
    base: dict[str, object] = {
        "type": "hello", "protocol": 1, "implementation": "hostile", "version": "0",
        "features": FEATURES,
    }  # fmt: skip
    changed: dict[str, dict[str, object]] = {
        "features-number": {"features": 5},
        "features-nested": {"features": [["fee"], {"a": 1}]},
        "no-features": {"features": []},
    }
    reply: object = {**base, **changed.get(mode, {})}
    if mode == "hello-array":
        reply = ["hello", 1]
    if mode == "hello-garbage":
        write(b"Welcome to my adapter! (not JSON)\n")
        return
    if mode == "hello-silent":
        sys.exit(0)
    if mode == "hello-hang":
        time.sleep(3600)
    write(json.dumps(reply).encode() + b"\n")
    if mode == "exit-after-hello":
        sys.exit(0)


def misbehave(mode: str, case_id: str) -> bool:
    """Misbehave on the target case; return False when ``mode`` has nothing to do here."""
    lines = {
        "garbage": b"this is not JSON\n",
        "partial": b'{"type": "res',
        "lie-id": json.dumps({"type": "result", "id": "someone/else", "output": {}}).encode()
        + b"\n",
        "lie-type": json.dumps({"type": "hello", "protocol": 1, "features": []}).encode() + b"\n",
        "array": b"[1, 2, 3]\n",
        "deep": b'{"type": "result", "id": "'
        + case_id.encode()
        + b'", "output": {"fee": '
        + b"[" * 100000
        + b"]" * 100000
        + b"}}\n",
        "bigint": b'{"type": "result", "id": "'
        + case_id.encode()
        + b'", "output": {"fee": '
        + b"7" * 5000
        + b"}}\n",
        "nan": b'{"type": "result", "id": "' + case_id.encode() + b'", "output": {"fee": NaN}}\n',
        "non-utf8": b'{"type": "result", "id": "\xff\xfe", "output": {}}\n',
    }
    if mode in lines:
        write(lines[mode])
        if mode == "partial":
            sys.exit(0)
        return True
    if mode == "crash":
        sys.exit(3)
    if mode == "hang":
        time.sleep(3600)
    if mode == "flood":
        for _ in range(192):  # 3 GiB, never a newline
            write(CHUNK)
        sys.exit(0)
    if mode == "flood-lines":
        block = b'{"type":"x"}\n' * (1 << 20)
        for _ in range(32):  # about 400 MiB of short lines
            write(block)
        sys.exit(0)
    if mode == "slow":
        time.sleep(3)
        return False
    return False


class Reference:
    """The reference adapter (``liqspec adapter``), started on first use."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def ask(self, line: bytes) -> bytes:
        """Forward one request line and return the reference's reply line."""
        if self.process is None:
            liqspec = str(Path(sys.executable).parent / "liqspec")
            self.process = subprocess.Popen(  # noqa: S603 - an argument list
                [liqspec, "adapter"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        stdin: IO[bytes] | None = self.process.stdin
        stdout: IO[bytes] | None = self.process.stdout
        assert stdin is not None
        assert stdout is not None
        stdin.write(line if line.endswith(b"\n") else line + b"\n")
        stdin.flush()
        return stdout.readline()


def one_shot(mode: str, target: str) -> None:
    """Answer the single case on stdin."""
    line = sys.stdin.buffer.read()
    message = json.loads(line)
    if message.get("id") == target and misbehave(mode, target):
        return
    liqspec = str(Path(sys.executable).parent / "liqspec")
    done = subprocess.run(  # noqa: S603 - an argument list
        [liqspec, "adapter", "--one-shot"], input=line, capture_output=True, check=False
    )
    write(done.stdout)


def wrong(message: dict[str, object]) -> bytes:
    """A well-formed but wrong answer to any case."""
    reply = {"type": "result", "id": message.get("id"), "output": {"fee": "-1", "shares": []}}
    return json.dumps(reply).encode() + b"\n"


def main() -> None:
    """Serve the protocol, misbehaving as the mode (first argument) says."""
    args = [a for a in sys.argv[1:] if a != "--one-shot"]
    mode, target = args[0], (args[1] if len(args) > 1 else "")
    if "--one-shot" in sys.argv:
        one_shot(mode, target)
        return
    reference = Reference()
    for line in sys.stdin.buffer:
        message = json.loads(line)
        kind = message.get("type")
        if kind == "bye":
            return
        if kind == "hello":
            hello(mode)
            continue
        if mode == "wrong-answers":
            write(wrong(message))
            continue
        if message.get("id") == target and misbehave(mode, target):
            continue
        write(reference.ask(line))


if __name__ == "__main__":
    main()
