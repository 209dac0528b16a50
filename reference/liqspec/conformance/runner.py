"""The conformance runner: drive another implementation through its adapter (spec/protocol.md).

The adapter command runs as an argument list (never through a shell). Its output is read in
bounded lines (at most :data:`MAX_LINE` bytes, at most two lines ahead), so a flooding adapter
costs a few megabytes, not gigabytes. A failed handshake stops the run
(:class:`HandshakeError`); after it, each case has a timeout, and a crashed, hung or garbling
adapter is killed and restarted (a bounded number of times) while the run goes on. Results are
compared strictly (VEC-5), with an optional mapping of rejection-reason names; a skip list
names vectors expected to fail, and they must keep failing; every vector is either run or
explicitly skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterable, Sequence
from typing import IO, Any

from liqspec.base.errors import LiqspecError
from liqspec.conformance.protocol import MAX_LINE, PROTOCOL, LineError, parse_line, shown
from liqspec.conformance.reports import (
    CaseReport,
    apply_skip,
    judge,
)

__all__ = ["AdapterError", "HandshakeError", "Runner", "run_one_shot", "run_suite"]

HELLO_GRACE = 0.1
"""How long the runner watches a fresh adapter after its hello for an exit or stray output."""

REAP_TIMEOUT = 2.0
"""How long to wait for an adapter whose output has ended to exit, before saying it has not."""

_POSIX = hasattr(os, "killpg")


class AdapterError(Exception):
    """The adapter crashed, hung, or printed something that is not one reply."""


class HandshakeError(AdapterError, LiqspecError):
    """The adapter could not be started or failed its handshake: the run cannot start."""


class _End:
    """The end of an adapter's output: closed, or ``problem`` (a flood, a partial line)."""

    def __init__(self, problem: str = "") -> None:
        self.problem = problem


class _Process:
    """A started adapter: a writer thread for its input, a bounded line reader for its output.

    The reader keeps at most two lines in hand and stops at the first line longer than
    :data:`MAX_LINE` or cut short by the end of output; the writer never blocks the runner.
    The process gets a session of its own, so killing it also kills what it started.
    """

    def __init__(self, command: Sequence[str]) -> None:
        self.popen = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, start_new_session=_POSIX,
        )  # fmt: skip
        assert self.popen.stdin is not None  # noqa: S101 - PIPE was requested
        assert self.popen.stdout is not None  # noqa: S101 - PIPE was requested
        self._closed = threading.Event()
        self._inbox: queue.Queue[bytes | _End] = queue.Queue(maxsize=2)
        self._outbox: queue.Queue[bytes | None] = queue.Queue()
        for target, stream in ((self._read, self.popen.stdout), (self._write, self.popen.stdin)):
            threading.Thread(target=target, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            while not self._closed.is_set():
                line = stream.readline(MAX_LINE + 1)
                if len(line) > MAX_LINE:
                    self._put(_End(f"a line longer than {MAX_LINE} bytes (a flood)"))
                    return
                if not line.endswith(b"\n"):
                    self._put(_End(f"output cut short: {shown(line)}" if line else ""))
                    return
                self._put(line)

    def _put(self, item: bytes | _End) -> None:
        while not self._closed.is_set():
            try:
                self._inbox.put(item, timeout=0.1)
            except queue.Full:
                continue
            return

    def _write(self, stream: IO[bytes]) -> None:
        try:
            while (data := self._outbox.get()) is not None:
                stream.write(data)
                stream.flush()
        except OSError:  # the adapter closed its input or died: the reader reports it
            pass
        with contextlib.suppress(OSError):  # what could not be written is dropped
            stream.close()

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the adapter's input."""
        self._outbox.put(data)

    def close_input(self) -> None:
        """Close the adapter's input once everything queued is written."""
        self._outbox.put(None)

    def next(self, timeout: float) -> bytes | _End | None:
        """Return the next output line, its end, or None when nothing came within ``timeout``."""
        try:
            return self._inbox.get(timeout=timeout)
        except queue.Empty:
            return None

    def receive(self, timeout: float) -> bytes:
        """Return the next output line, or raise :class:`AdapterError`."""
        item = self.next(timeout)
        if item is None:
            raise AdapterError(f"no reply within {timeout:g} s")
        if isinstance(item, _End):
            if item.problem:
                raise AdapterError(f"garbage instead of a reply: {item.problem}")
            raise AdapterError(f"the adapter exited ({_exit_status(self.popen)})")
        return item

    def kill(self) -> None:
        """Kill the adapter (and its process group) now, and reap it."""
        self._closed.set()
        self._outbox.put(None)
        if self.popen.poll() is None:
            with contextlib.suppress(OSError):  # it exited in between
                if _POSIX:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                else:  # pragma: no cover - Windows
                    self.popen.kill()
        self.popen.wait()


def _exit_status(process: subprocess.Popen[bytes]) -> str:
    """Describe how the process ended, waiting (boundedly) for it to be reaped first.

    The end of its output comes before its exit: polling at once races with the exit.
    """
    try:
        return f"code {process.wait(timeout=REAP_TIMEOUT)}"
    except subprocess.TimeoutExpired:
        return f"output closed, still running after {REAP_TIMEOUT:g} s"


def _start(command: Sequence[str]) -> _Process:
    try:
        return _Process(command)
    except OSError as error:
        detail = error.strerror or str(error)
        raise HandshakeError(f"cannot start the adapter {command[0]!r}: {detail}") from None


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def _reply(process: _Process, timeout: float) -> dict[str, Any]:
    try:
        return parse_line(process.receive(timeout))
    except LineError as error:
        raise AdapterError(f"garbage instead of a reply: {error}") from None


class Runner:
    """A running adapter process speaking the line protocol (long-lived mode)."""

    def __init__(self, command: Sequence[str], timeout: float) -> None:
        self.command = list(command)
        self.timeout = timeout
        self.process: _Process | None = None
        self.hello: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        """Start the adapter and perform the handshake; return its hello.

        Raises :class:`HandshakeError` when the program cannot start, does not answer the
        hello with a hello of protocol 1 whose ``features`` is a list of strings, or exits or
        writes again right after its hello.
        """
        process = self.process = _start(self.command)
        try:
            process.send(_encode({"type": "hello", "protocol": PROTOCOL}))
            self.hello = _check_hello(_reply(process, self.timeout))
            _expect_silence(process)
        except AdapterError as error:
            self.kill()
            raise HandshakeError(f"the adapter failed the handshake: {error}") from None
        return self.hello

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one message and return the one reply, or raise AdapterError."""
        if self.process is None:
            raise AdapterError("the adapter is not running")
        self.process.send(_encode(message))
        return _reply(self.process, self.timeout)

    def kill(self) -> None:
        """Kill the adapter at once (after a failure)."""
        if self.process is not None:
            self.process.kill()
            self.process = None

    def stop(self) -> None:
        """Say bye, give the adapter a second to exit, then kill whatever is left."""
        process = self.process
        if process is None:
            return
        process.send(b'{"type":"bye"}\n')
        process.close_input()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.popen.wait(timeout=1)
        self.kill()


def _check_hello(hello: dict[str, Any]) -> dict[str, Any]:
    if hello.get("type") != "hello":
        raise AdapterError(f"expected a hello, got {shown(hello)}")
    if hello.get("protocol") != PROTOCOL:
        got = shown(hello.get("protocol"))
        raise AdapterError(f"the adapter speaks protocol {got}; liqspec speaks {PROTOCOL}")
    features = hello.get("features")
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise AdapterError(f"features must be a list of strings, got {shown(features)}")
    return hello


def _expect_silence(process: _Process) -> None:
    """Raise if the adapter exits or writes a line unasked right after its hello."""
    item = process.next(HELLO_GRACE)
    if isinstance(item, bytes):
        raise AdapterError(f"a line nobody asked for after the hello: {shown(item)}")
    if isinstance(item, _End):
        ending = item.problem or f"the adapter exited ({_exit_status(process.popen)})"
        raise AdapterError(f"right after its hello, {ending}")


def _case(vector: dict[str, Any]) -> dict[str, Any]:
    return {"type": "case", "id": vector["id"], "kind": vector["kind"], "input": vector["input"]}


def _in_step(vector: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
    """Return the reply if it answers this case; raise when adapter and runner are out of step."""
    kind = reply.get("type")
    if kind not in {"result", "skipped", "errored"}:
        raise AdapterError(f"a {shown(kind)} message instead of a reply")
    if "id" not in reply and kind != "errored":
        raise AdapterError(f"a {kind} without the case's id")
    if reply.get("id", vector["id"]) != vector["id"]:
        raise AdapterError(f"a reply to another case: id {shown(reply['id'])}")
    return reply


def _supported(vector: dict[str, Any], features: set[str]) -> bool:
    return vector["kind"] in features or bool(set(vector.get("features", ())) & features)


class _Session:
    """The adapter across a run: restarted after a crash, given up on after too many."""

    def __init__(self, runner: Runner, restarts: int) -> None:
        self.runner, self.restarts = runner, restarts
        self.features = set(runner.start()["features"])
        self.crashes, self.alive, self.answered = 0, True, False

    def run(self, vector: dict[str, Any], mapping: dict[str, str]) -> CaseReport:
        """Return the report of one vector, restarting the adapter first if it crashed."""
        rules = tuple(vector.get("rules", ()))
        try:
            if not self.alive:
                self._restart()
        except AdapterError as error:
            return CaseReport(vector["id"], "errored", str(error), rules=rules)
        if not _supported(vector, self.features):
            detail = "feature not supported by the adapter"
            return CaseReport(vector["id"], "skipped", detail, rules=rules)
        try:
            reply = _in_step(vector, self.runner.request(_case(vector)))
        except AdapterError as error:
            self._crashed(error)
            return CaseReport(vector["id"], "errored", str(error), rules=rules)
        self.answered = True
        return judge(vector, reply, mapping)

    def _restart(self) -> None:
        if self.crashes > self.restarts:
            raise AdapterError("adapter restart limit reached")
        try:
            self.features = set(self.runner.start()["features"])
        except HandshakeError as error:
            self._crashed(error)
            raise AdapterError(f"no restart: {error}") from None
        self.alive = True

    def _crashed(self, error: AdapterError) -> None:
        """Stop the adapter; give up on the run when it has never answered a case."""
        self.runner.kill()
        self.alive, self.crashes = False, self.crashes + 1
        if self.crashes > self.restarts and not self.answered:
            detail = f"the adapter answered none of the cases sent ({self.crashes} starts)"
            raise HandshakeError(f"{detail}; the last time: {error}") from None


def run_suite(
    vectors: Iterable[dict[str, Any]],
    command: Sequence[str],
    *,
    timeout: float = 10.0,
    restarts: int = 3,
    mapping: dict[str, str] | None = None,
    skip: Iterable[str] = (),
) -> list[CaseReport]:
    """Run every vector against the adapter; return one report per vector, in order.

    Raises :class:`HandshakeError` when the adapter fails its first handshake, or uses up its
    restarts without answering any case. Otherwise a case the adapter fails to answer is
    errored, the adapter is restarted (at most ``restarts`` times) and the run goes on.
    """
    mapping, skip = mapping or {}, set(skip)
    session = _Session(Runner(command, timeout), restarts)
    try:
        return [apply_skip(session.run(vector, mapping), skip) for vector in vectors]
    finally:
        session.runner.stop()


def run_one_shot(
    vectors: Iterable[dict[str, Any]],
    command: Sequence[str],
    *,
    timeout: float = 10.0,
    mapping: dict[str, str] | None = None,
    skip: Iterable[str] = (),
) -> list[CaseReport]:
    """One process per case: the case on stdin, one reply line on stdout (spec/protocol.md).

    At most :data:`MAX_LINE` + 1 bytes of the adapter's output are read; then it is killed.
    Raises :class:`HandshakeError` when the program cannot be started at all.
    """
    mapping, skip = mapping or {}, set(skip)
    reports = []
    for vector in vectors:
        process = _start(command)
        try:
            process.send(_encode(_case(vector)))
            process.close_input()
            reply = _in_step(vector, _reply(process, timeout))
            report = judge(vector, reply, mapping)
        except AdapterError as error:
            rules = tuple(vector.get("rules", ()))
            report = CaseReport(vector["id"], "errored", str(error), rules=rules)
        finally:
            process.kill()
        reports.append(apply_skip(report, skip))
    return reports
