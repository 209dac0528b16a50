"""The conformance runner: drive another implementation through its adapter (spec/protocol.md).

The adapter command runs as an argument list (never through a shell). Each case has a
timeout; a crashed or hung adapter is restarted (a bounded number of times) and the run goes
on; output lines are capped in length. Results are compared strictly, with an optional mapping
of rejection-reason names; a skip list names vectors expected to fail, and they must keep
failing; every vector is either run or explicitly skipped.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterable, Sequence
from typing import IO, Any

from attrs import frozen

__all__ = [
    "CaseReport",
    "Runner",
    "first_difference",
    "run_one_shot",
    "run_suite",
    "summary_line",
]

MAX_LINE = 4 << 20
"""Longest reply line accepted (4 MiB); longer output is garbage (a flooding adapter)."""


@frozen
class CaseReport:
    """The outcome of one vector: passed, failed, skipped or errored, and why."""

    id: str
    status: str
    detail: str = ""
    field: str = ""
    expected: Any = None
    actual: Any = None
    rules: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON-ready mapping."""
        fields = ("id", "status", "detail", "field", "expected", "actual")
        return {**{name: getattr(self, name) for name in fields}, "rules": list(self.rules)}


def first_difference(  # noqa: PLR0911 - one return per shape of value compared
    expected: Any, actual: Any, path: str = ""
) -> tuple[str, Any, Any] | None:
    """Return (field path, expected, actual) of the first difference, or None.

    >>> first_difference({"a": [1, 2]}, {"a": [1, 3]})
    ('a[1]', 2, 3)
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual or key not in expected:
                return where, expected.get(key), actual.get(key)
            found = first_difference(expected[key], actual[key], where)
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        for i, (a, b) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(actual):
            return f"{path}.length", len(expected), len(actual)
        return None
    return (
        None if expected == actual and type(expected) is type(actual) else (path, expected, actual)
    )


class AdapterError(Exception):
    """The adapter crashed, hung, or printed something that is not one reply."""


class Runner:
    """A running adapter process speaking the line protocol."""

    def __init__(self, command: Sequence[str], timeout: float) -> None:
        self.command = list(command)
        self.timeout = timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.hello: dict[str, Any] = {}

    def start(self) -> dict[str, Any]:
        """Start the adapter and perform the handshake; return its hello."""
        self.process = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.lines = queue.Queue()
        stdout = self.process.stdout
        assert stdout is not None  # noqa: S101 - PIPE was requested
        threading.Thread(target=self._read, args=(stdout, self.lines), daemon=True).start()
        self.hello = self.request({"type": "hello", "protocol": 1})
        if self.hello.get("type") != "hello" or self.hello.get("protocol") != 1:
            raise AdapterError(f"bad handshake: {self.hello!r}")
        return self.hello

    @staticmethod
    def _read(stream: IO[bytes], lines: queue.Queue[bytes | None]) -> None:
        while True:
            line = stream.readline(MAX_LINE + 1)
            if not line:
                lines.put(None)
                return
            if len(line) > MAX_LINE or not line.endswith(b"\n"):
                lines.put(line[:200])
                if len(line) > MAX_LINE:
                    stream.read()  # drain the flood
                lines.put(None)
                return
            lines.put(line)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one message and return the one reply, or raise AdapterError."""
        process = self.process
        if process is None or process.stdin is None or process.poll() is not None:
            raise AdapterError("the adapter is not running")
        try:
            process.stdin.write(json.dumps(message, sort_keys=True).encode() + b"\n")
            process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise AdapterError(f"the adapter closed its input: {error}") from None
        try:
            line = self.lines.get(timeout=self.timeout)
        except queue.Empty:
            raise AdapterError(f"no reply within {self.timeout} s") from None
        if line is None:
            raise AdapterError(f"the adapter exited ({_exit_status(process)})")
        try:
            reply: dict[str, Any] = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise AdapterError(f"garbage instead of a reply: {line[:80]!r}") from None
        if not isinstance(reply, dict):
            raise AdapterError(f"a reply must be an object: {line[:80]!r}")
        return reply

    def stop(self) -> None:
        """Say bye and stop the process (killing it if it does not stop)."""
        process = self.process
        if process is None:
            return
        try:
            if process.poll() is None and process.stdin is not None:
                process.stdin.write(b'{"type":"bye"}\n')
                process.stdin.close()
            process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()
        self.process = None


REAP_TIMEOUT = 2.0
"""How long to wait for an adapter whose output has ended to exit, before saying it has not."""


def _exit_status(process: subprocess.Popen[bytes]) -> str:
    """Describe how the process ended, waiting (boundedly) for it to be reaped first.

    The end of its output comes before its exit: polling at once races with the exit.
    """
    try:
        return f"code {process.wait(timeout=REAP_TIMEOUT)}"
    except subprocess.TimeoutExpired:
        return f"output closed, still running after {REAP_TIMEOUT} s"


def _judge(  # noqa: PLR0911 - one return per kind of reply
    vector: dict[str, Any], reply: dict[str, Any], mapping: dict[str, str]
) -> CaseReport:
    rules = tuple(vector.get("rules", ()))
    case_id = vector["id"]
    if reply.get("type") == "skipped":
        return CaseReport(case_id, "skipped", str(reply.get("reason", "")), rules=rules)
    if reply.get("type") == "errored":
        return CaseReport(case_id, "errored", str(reply.get("message", "")), rules=rules)
    if reply.get("type") != "result" or reply.get("id") != case_id:
        return CaseReport(case_id, "errored", f"unexpected reply {reply!r}"[:200], rules=rules)
    if "expected_error" in vector:
        want = vector["expected_error"]["reason"]
        got = mapping.get(str(reply.get("error")), reply.get("error"))
        if got == want:
            return CaseReport(case_id, "passed", rules=rules)
        actual = got if got is not None else reply.get("output")
        return CaseReport(case_id, "failed", "wrong rejection", "error", want, actual, rules)
    if "error" in reply:
        return CaseReport(
            case_id, "failed", "rejected a valid case", "error", None, reply["error"], rules
        )
    difference = first_difference(vector["expected"], reply.get("output"))
    if difference is None:
        return CaseReport(case_id, "passed", rules=rules)
    field, want, got = difference
    return CaseReport(case_id, "failed", "different result", field, want, got, rules)


def run_suite(
    vectors: Iterable[dict[str, Any]],
    command: Sequence[str],
    *,
    timeout: float = 10.0,
    restarts: int = 3,
    mapping: dict[str, str] | None = None,
    skip: Iterable[str] = (),
) -> list[CaseReport]:
    """Run every vector against the adapter; return one report per vector, in order."""
    mapping, skip = mapping or {}, set(skip)
    runner, reports, crashes = Runner(command, timeout), [], 0
    features: set[str] = set()
    alive = False
    for vector in vectors:
        if not alive:
            if crashes > restarts:
                reports.append(CaseReport(vector["id"], "errored", "adapter restart limit reached"))
                continue
            try:
                features = set(runner.start().get("features", []))
                alive = True
            except AdapterError as error:
                runner.stop()
                crashes += 1
                reports.append(
                    CaseReport(vector["id"], "errored", f"adapter did not start: {error}")
                )
                continue
        if vector["kind"] not in features and not set(vector.get("features", ())) & features:
            reports.append(
                CaseReport(vector["id"], "skipped", "feature not supported by the adapter")
            )
            continue
        message = {
            "type": "case",
            "id": vector["id"],
            "kind": vector["kind"],
            "input": vector["input"],
        }
        try:
            report = _judge(vector, runner.request(message), mapping)
        except AdapterError as error:
            report = CaseReport(
                vector["id"], "errored", str(error), rules=tuple(vector.get("rules", ()))
            )
            runner.stop()
            alive, crashes = False, crashes + 1
        reports.append(_apply_skip(report, skip))
    runner.stop()
    return reports


def run_one_shot(
    vectors: Iterable[dict[str, Any]],
    command: Sequence[str],
    *,
    timeout: float = 10.0,
    mapping: dict[str, str] | None = None,
    skip: Iterable[str] = (),
) -> list[CaseReport]:
    """One process per case: the case on stdin, one reply line on stdout (spec/protocol.md)."""
    mapping, skip = mapping or {}, set(skip)
    reports = []
    for vector in vectors:
        message = {
            "type": "case",
            "id": vector["id"],
            "kind": vector["kind"],
            "input": vector["input"],
        }
        try:
            done = subprocess.run(  # noqa: S603 - an argument list, never a shell
                list(command), input=json.dumps(message).encode(), capture_output=True,
                timeout=timeout, check=False,
            )  # fmt: skip
            reply = json.loads(done.stdout.splitlines()[0]) if done.stdout else {}
            report = (
                _judge(vector, reply, mapping)
                if reply
                else CaseReport(vector["id"], "errored", f"no reply (exit {done.returncode})")
            )
        except subprocess.TimeoutExpired:
            report = CaseReport(vector["id"], "errored", f"no reply within {timeout} s")
        except (json.JSONDecodeError, UnicodeDecodeError):
            report = CaseReport(vector["id"], "errored", "garbage instead of a reply")
        reports.append(_apply_skip(report, skip))
    return reports


def _apply_skip(report: CaseReport, skip: set[str]) -> CaseReport:
    """Apply the skip list: a listed failure is skipped, a listed pass is a failure."""
    if report.id not in skip:
        return report
    if report.status == "passed":
        return CaseReport(report.id, "failed", "listed in the skip list but now passes; remove it")
    return CaseReport(report.id, "skipped", f"skip list ({report.status}: {report.detail})")


def summary_line(reports: Sequence[CaseReport]) -> str:
    """Return the closing line: ``N passed, N failed`` and ``, N skipped`` if any."""
    passed = sum(r.status == "passed" for r in reports)
    failed = sum(r.status in {"failed", "errored"} for r in reports)
    skipped = sum(r.status == "skipped" for r in reports)
    line = f"{passed} passed, {failed} failed"
    return f"{line}, {skipped} skipped" if skipped else line
