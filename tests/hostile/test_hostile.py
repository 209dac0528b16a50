"""Hostile input: the behaviour the command line MUST have (issue "Hardening", section 8).

The CLI is a black box: every case runs the ``liqspec`` console script next to the running
interpreter in a subprocess, with an empty temporary working directory, a time limit and a
memory limit; liqspec is never imported. The cases are data: ``cases.toml`` (one ``[[case]]``
per command line, one ``[[line]]`` per adapter protocol line), hostile files under ``cases/``,
and recipes that build the big or special ones (FIFOs, symlink loops, non-UTF-8, deep nesting,
huge numbers) at test time. ``adapters/hostile_adapter.py`` is an adapter that breaks the
protocol on purpose.

What every case checks (see :func:`check`): the exit code; no traceback anywhere; for bad input
exactly one ``error: `` line on stderr in the project's format (``error: <file>: <field> =
<value>: <detail> [<RULE> <reason>]``), under 300 characters, or for a bad option value click's
usage error naming the option; the expected reason, rule and field; peak memory; nothing written
to the working directory; input files unchanged.

Cases run three at a time (each is its own process, limited by util-linux ``prlimit``), so the
default set takes about a minute. Set ``HOSTILE_ALL=1`` to run the ``extended`` variants too
(``make test-long`` does); set ``HOSTILE_LOG=/some/file.jsonl`` to append one JSON line per
case with what was observed. A bad option value may be reported as click's usage error on one
``error: Invalid value for '--option': ...`` line (``click_ok`` cases).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import resource
import signal
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SPEC = ROOT / "spec"
CASES_DIR = HERE / "cases"
ADAPTER = HERE / "adapters" / "hostile_adapter.py"
LAUNCH = HERE / "launch.py"
LIQSPEC = Path(sys.executable).parent / "liqspec"
TABLE: dict[str, Any] = tomllib.loads((HERE / "cases.toml").read_text(encoding="utf-8"))
RECIPES: dict[str, list[dict[str, Any]]] = TABLE["recipe"]
ALL_CASES: list[dict[str, Any]] = TABLE["case"]
CASES = [c for c in ALL_CASES if not c.get("extended") or os.environ.get("HOSTILE_ALL")]
"""The default run leaves out ``extended`` variants; ``HOSTILE_ALL=1`` runs every case."""
LINES: list[dict[str, Any]] = TABLE["line"]

AS_LIMIT = 1536 << 20
"""Address-space limit of every subprocess (z3 proves comfortably under it)."""
FSIZE_LIMIT = 256 << 20
"""Largest file a subprocess may write (a runaway writer fails instead of filling the disk)."""
DEFAULT_TIMEOUT = 20.0
DEFAULT_RSS_MB = 500
KEEP = 1 << 20
"""Bytes of each output stream kept for checking (the rest is read and dropped)."""
ERROR_FORMAT = re.compile(r"^error: \S.*: .+ \[[A-Z]+-[0-9]+ [a-z][a-z-]*\]$")
"""``error: <file>: [<field> [= <value>]: ]<detail> [<RULE> <reason>]`` (InputError.__str__);
the field and file a case must name are in its ``error`` regexes."""
USAGE = re.compile(
    r"^error: (Invalid value for|Missing (argument|option)|No such option|Got unexpected) "
)
"""A bad option value reported as click's usage error, on one ``error: `` line naming it."""
CLOSING = re.compile(r"^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$")
MAX_LINE_CHARS = 300
LONG = "/".join(["d" * 200] * 15)
"""A 3000-character path (each component within NAME_MAX)."""


def _placeholders(tmp: Path) -> dict[str, str]:
    return {
        "{spec}": str(SPEC),
        "{cases}": str(CASES_DIR),
        "{tmp}": str(tmp),
        "{python}": sys.executable,
        "{liqspec}": str(LIQSPEC),
        "{adapter}": str(ADAPTER),
        "{long}": LONG,
    }


def expand(text: str, tmp: Path, *, regex: bool = False) -> str:
    """Replace the known ``{name}`` placeholders (others, such as regex counts, stay)."""
    for key, value in _placeholders(tmp).items():
        text = text.replace(key, re.escape(value) if regex else value)
    return text


# --- building the hostile files --------------------------------------------------------------


def render_parts(parts: list[dict[str, Any]], tmp: Path) -> bytes:
    """Concatenate parts: ``text`` (placeholders expanded), ``hex`` bytes or ``file`` content,
    each repeated ``repeat`` times."""
    out = bytearray()
    for part in parts:
        if "text" in part:
            piece = expand(str(part["text"]), tmp).encode()
        elif "hex" in part:
            piece = bytes.fromhex(str(part["hex"]))
        else:
            piece = Path(expand(str(part["file"]), tmp)).read_bytes()
        out += piece * int(part.get("repeat", 1))
    return bytes(out)


def _content(entry: dict[str, Any], tmp: Path) -> bytes:
    data = b""
    if "base" in entry:
        data = Path(expand(str(entry["base"]), tmp)).read_bytes()
    for change in entry.get("replace", []):
        old = expand(str(change["old"]), tmp).encode()
        if "parts" in change:
            new = render_parts(change["parts"], tmp)
        else:
            new = expand(str(change["new"]), tmp).encode()
        assert old in data, f"recipe: {change['old']!r} not found in {entry['base']}"
        data = data.replace(old, new, 1)
    if "text" in entry:
        data += expand(str(entry["text"]), tmp).encode()
    if "parts" in entry:
        data += render_parts(entry["parts"], tmp)
    return data


def build_files(entries: list[dict[str, Any]], tmp: Path) -> None:
    """Create the files a case needs under ``tmp``."""
    for entry in entries:
        if "recipe" in entry:
            build_files(RECIPES[str(entry["recipe"])], tmp)
            continue
        target = tmp / str(entry["name"])
        target.parent.mkdir(parents=True, exist_ok=True)
        if entry.get("fifo"):
            os.mkfifo(target)
        elif entry.get("dir"):
            target.mkdir(exist_ok=True)
        elif "symlink" in entry:
            target.symlink_to(expand(str(entry["symlink"]), tmp))
        elif "copy" in entry:
            source = Path(expand(str(entry["copy"]), tmp))
            target.write_bytes(source.read_bytes())
        else:
            target.write_bytes(_content(entry, tmp))


def snapshot(*folders: Path) -> dict[str, str]:
    """Digest every regular file under ``folders`` (FIFOs and loops are left alone)."""
    digests = {}
    for folder in folders:
        for path in [folder] if folder.is_file() else sorted(folder.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


# --- running a subprocess under limits -------------------------------------------------------


LIMITS = ["prlimit", f"--as={AS_LIMIT}", f"--fsize={FSIZE_LIMIT}", "--core=0", "--"]
"""Resource limits set by util-linux ``prlimit`` in the child: safe with the runner's threads."""


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every subprocess: UTF-8 locale, fixed width, no bytecode written."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HYPOTHESIS"))}
    env.update({"LC_ALL": "C.UTF-8", "COLUMNS": "120", "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(extra or {})
    return env


@dataclass
class Outcome:
    """What a subprocess did."""

    code: int | None
    stdout: str
    stderr: str
    rss_mb: float
    seconds: float
    hung: bool
    stdout_bytes: int = 0


@dataclass
class _Sink:
    kept: bytearray = field(default_factory=bytearray)
    total: int = 0


def _drain(stream: IO[bytes], sink: _Sink) -> None:
    while chunk := stream.read1(1 << 16):  # type: ignore[attr-defined]
        sink.total += len(chunk)
        if len(sink.kept) < KEEP:
            sink.kept += chunk[: KEEP - len(sink.kept)]


def _feed(stream: IO[bytes], data: bytes) -> None:
    try:
        stream.write(data)
        stream.close()
    except OSError:  # the process exited (or never read): what it did is judged elsewhere
        pass


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_cli(
    argv: list[str],
    *,
    cwd: Path,
    stdin: bytes = b"",
    timeout: float,
    env: dict[str, str],
    peak_file: Path,
) -> Outcome:
    """Run ``argv`` in its own session with limits; kill the whole group on timeout.

    The command runs under ``launch.py``, which writes its true peak RSS to ``peak_file``.
    """
    start = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
        [sys.executable, "-I", "-S", str(LAUNCH), str(peak_file), *LIMITS, *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = _Sink(), _Sink()
    threads = [
        threading.Thread(target=_drain, args=(process.stdout, out), daemon=True),
        threading.Thread(target=_drain, args=(process.stderr, err), daemon=True),
        threading.Thread(target=_feed, args=(process.stdin, stdin), daemon=True),
    ]
    for thread in threads:
        thread.start()
    hung = False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > timeout:
            hung = True
            _kill_group(process.pid)
            pid, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.01)
    seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    process.returncode = code
    _kill_group(process.pid)  # stray grandchildren (adapters) go too
    for thread in threads:
        thread.join(timeout=5)
    return Outcome(
        code=None if hung else code,
        stdout=out.kept.decode("utf-8", "replace"),
        stderr=err.kept.decode("utf-8", "replace"),
        rss_mb=int(peak_file.read_text()) / 1024 if peak_file.exists() else usage.ru_maxrss / 1024,
        seconds=round(seconds, 2),
        hung=hung,
        stdout_bytes=out.total,
    )


# --- judging ---------------------------------------------------------------------------------


def traceback_tail(text: str) -> str:
    """The last line of the last traceback in ``text``, or ''."""
    if "Traceback" not in text:
        return ""
    tail = text[text.rindex("Traceback") :].splitlines()
    lines = [line for line in tail if line and not line.startswith((" ", "Traceback"))]
    return lines[0][:200] if lines else tail[-1][:200]


def _expected_codes(case: dict[str, Any]) -> list[int]:
    wanted = case.get("exit", 2)
    return [int(c) for c in wanted] if isinstance(wanted, list) else [int(wanted)]


def check_error_line(case: dict[str, Any], outcome: Outcome, tmp: Path) -> list[str]:
    """The one error line (project format, or click's usage error where allowed)."""
    problems = []
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    ours = [line for line in lines if line.startswith("error: ")]
    clicks = [line for line in lines if line.startswith("Error: ")]
    style = case.get("format", "project")
    usage = [line for line in ours if USAGE.match(line)]
    if case.get("click_ok") and ((clicks and not ours) or (len(ours) == 1 and usage)):
        shown = clicks or usage
        if len(shown) != 1 or len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr for a usage error (want 1)")
        option = str(case.get("option", ""))
        if option and option not in shown[0]:
            problems.append(f"usage error does not name {option}: {shown[0][:120]!r}")
        line = shown[0]
    else:
        if len(ours) != 1:
            problems.append(f"{len(ours)} 'error: ' lines on stderr (want exactly 1)")
        if len(lines) != len(ours):
            others = [line for line in lines if not line.startswith("error: ")]
            problems.append(f"stderr has {len(others)} other lines, first {others[0][:100]!r}")
        line = ours[0] if ours else ""
        if line and style == "project" and not ERROR_FORMAT.match(line):
            problems.append(f"error line not in the project format: {line[:160]!r}")
    if line:
        problems.extend(
            f"error line lacks /{pattern}/: {line[:200]!r}"
            for pattern in case.get("error", [])
            if not re.search(expand(str(pattern), tmp, regex=True), line)
        )
    if case.get("stdout_empty", True) and outcome.stdout.strip():
        first = outcome.stdout.strip().splitlines()
        problems.append(f"stdout not empty on bad input ({len(first)} lines): {first[0][:100]!r}")
    return problems


def check_reply(case: dict[str, Any], outcome: Outcome) -> list[str]:
    """One-shot adapter: exactly one JSON object line, of an allowed type."""
    lines = [line for line in outcome.stdout.splitlines() if line.strip()]
    if len(lines) != 1:
        return [f"{len(lines)} reply lines on stdout (want exactly 1)"]
    return judge_reply(lines[0], list(case.get("reply", ["errored"])))


def judge_reply(line: str, allowed: list[str]) -> list[str]:
    """A reply line must be a JSON object of an allowed kind: ``errored`` (with a message),
    ``result-error`` (a result with an ``error`` reason and no output), ``result`` or
    ``skipped``."""
    try:
        reply = json.loads(line)
    except ValueError:
        return [f"reply is not JSON: {line[:100]!r}"]
    if not isinstance(reply, dict):
        return [f"reply is not an object: {line[:100]!r}"]
    kind = str(reply.get("type"))
    if kind == "result" and "error" in reply:
        kind = "result-error"
    if kind not in allowed:
        return [f"reply type {kind!r}, want one of {allowed}: {line[:150]!r}"]
    if kind == "errored" and not (reply.get("message") or reply.get("reason")):
        return [f"errored reply without a message or reason: {line[:150]!r}"]
    if kind == "result-error" and (not isinstance(reply["error"], str) or "output" in reply):
        return [f"rejection without a reason name: {line[:150]!r}"]
    return []


def check_output(case: dict[str, Any], outcome: Outcome, tmp: Path) -> list[str]:
    """The expected stdout lines, messages and closing line."""
    both = outcome.stdout + outcome.stderr
    problems = [
        f"{name} lacks /{pattern}/"
        for name, text in (("stdout", outcome.stdout), ("output", both))
        for pattern in case.get(name, [])
        if not re.search(expand(str(pattern), tmp, regex=True), text, re.MULTILINE)
    ]
    if case.get("closing") and not outcome.hung:
        last = ([line for line in outcome.stdout.splitlines() if line.strip()] or [""])[-1]
        if not CLOSING.match(last):
            problems.append(f"closing line is {last[:100]!r}, want 'N passed, N failed, N skipped'")
    return problems


def check(case: dict[str, Any], outcome: Outcome, tmp: Path) -> list[str]:
    """Every expectation of ``case`` that ``outcome`` breaks."""
    problems: list[str] = []
    codes = _expected_codes(case)
    if outcome.hung:
        problems.append(f"hang: still running after {outcome.seconds} s (killed)")
    elif outcome.code not in codes:
        problems.append(f"exit {outcome.code}, expected {codes}")
    for name, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
        if "Traceback" in text:
            problems.append(f"traceback on {name}: {traceback_tail(text)}")
    limit = float(case.get("max_rss_mb", DEFAULT_RSS_MB))
    if outcome.rss_mb > limit:
        problems.append(f"peak RSS {outcome.rss_mb:.0f} MB > {limit:.0f} MB")
    long_lines = [line for line in outcome.stderr.splitlines() if len(line) >= MAX_LINE_CHARS]
    if long_lines:
        problems.append(f"stderr line of {max(map(len, long_lines))} characters (limit 300)")
    if case.get("reply"):
        problems += check_reply(case, outcome)
    elif codes == [2] and case.get("format") != "none" and not outcome.hung:
        problems += check_error_line(case, outcome, tmp)
    problems += check_output(case, outcome, tmp)
    return problems


def observed(outcome: Outcome) -> dict[str, Any]:
    """A short record of what happened, for the log and the failure message."""
    return {
        "exit": outcome.code,
        "hung": outcome.hung,
        "seconds": outcome.seconds,
        "rss_mb": round(outcome.rss_mb),
        "stdout_bytes": outcome.stdout_bytes,
        "stdout": outcome.stdout.strip().splitlines()[:3],
        "stderr": [line[:300] for line in outcome.stderr.strip().splitlines()[:3]],
        "traceback": traceback_tail(outcome.stdout + outcome.stderr),
    }


def log(record: dict[str, Any]) -> None:
    """Append ``record`` to ``$HOSTILE_LOG`` when set."""
    target = os.environ.get("HOSTILE_LOG")
    if target:
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")


def _case_id(case: dict[str, Any]) -> str:
    return str(case["id"])


def test_the_table_is_sound() -> None:
    ids = [str(c["id"]) for c in ALL_CASES] + [str(line["id"]) for line in LINES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) + len(LINES) >= 150
    assert LIQSPEC.exists(), f"no liqspec console script next to {sys.executable}"


def run_case(case: dict[str, Any], base: Path) -> tuple[list[str], dict[str, Any]]:
    """Run one case in its own folders under ``base``; return its problems and what it did."""
    tmp, cwd = base / "in", base / "cwd"
    tmp.mkdir(parents=True)
    cwd.mkdir()
    build_files(list(case.get("files", [])), tmp)
    argv = [str(LIQSPEC), *(expand(str(a), tmp) for a in case["argv"])]
    named = [Path(a) for a in argv[1:] if a.startswith("/") and Path(a).is_file()]
    before = snapshot(tmp, CASES_DIR, *named)
    stdin = b""
    if "stdin" in case:
        stdin = expand(str(case["stdin"]), tmp).encode()
    elif "stdin_parts" in case:
        stdin = render_parts(case["stdin_parts"], tmp)
    elif "stdin_line" in case:
        stdin = protocol_line(case["stdin_line"], tmp) + b"\n"
    env = environment({str(k): str(v) for k, v in case.get("env", {}).items()})
    timeout = float(case.get("timeout", DEFAULT_TIMEOUT))
    outcome = run_cli(argv, cwd=cwd, stdin=stdin, timeout=timeout, env=env, peak_file=base / "peak")
    problems = check(case, outcome, tmp)
    leftovers = sorted(p.name for p in cwd.iterdir())
    if leftovers:
        problems.append(f"wrote into the working directory: {leftovers[:5]}")
    outputs = {expand(str(p), tmp) for p in case.get("outputs", [])}
    after = snapshot(tmp, CASES_DIR, *named)
    changed = sorted(
        p
        for p in set(before) | set(after)
        if before.get(p) != after.get(p) and not any(p.startswith(o) for o in outputs)
    )
    if changed:
        problems.append(f"files changed or created: {changed[:5]}")
    problems += [f"{p} was not written" for p in sorted(outputs) if not Path(p).exists()]
    log({"id": case["id"], "problems": problems, **observed(outcome)})
    return problems, observed(outcome)


WORKERS = 3
"""Cases run this many at a time: each is a separate process, mostly waiting to start."""


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[list[str], dict[str, Any]]]:
    """Run every selected case, several at a time; each test then judges its own."""
    selected = {
        item.callspec.params["case"]["id"]
        for item in request.session.items
        if item.path == Path(__file__)
        and hasattr(item, "callspec")
        and "case" in item.callspec.params
    }
    chosen = [case for case in CASES if case["id"] in selected]
    base = tmp_path_factory.mktemp("hostile")
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {
            case["id"]: pool.submit(run_case, case, base / f"case{i}")
            for i, case in enumerate(chosen)
        }
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case(case: dict[str, Any], outcomes: dict[str, tuple[list[str], dict[str, Any]]]) -> None:
    problems, seen = outcomes[case["id"]]
    assert not problems, json.dumps({"problems": problems, **seen}, indent=1)


# --- the adapter protocol: many hostile lines to one process ---------------------------------


class Adapter:
    """A running ``liqspec adapter``: one line in, one reply line out, with a time limit."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
            [*LIMITS, str(LIQSPEC), "adapter"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        self.replies: queue.Queue[bytes | None] = queue.Queue()
        self.errors = _Sink()
        self.ended: tuple[int, resource.struct_rusage] | None = None
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        threading.Thread(
            target=_drain, args=(self.process.stderr, self.errors), daemon=True
        ).start()

    def _read(self, stream: IO[bytes]) -> None:
        while line := stream.readline(8 << 20):
            self.replies.put(line)
        self.replies.put(None)

    def ask(self, line: bytes, timeout: float) -> tuple[bytes | None, str]:
        """Send ``line``; return the reply, or None and why none came ("hang" or "exited")."""
        stdin = self.process.stdin
        assert stdin is not None

        def send() -> None:
            try:
                stdin.write(line + b"\n")
                stdin.flush()
            except OSError:
                pass

        writer = threading.Thread(target=send, daemon=True)
        writer.start()
        try:
            reply = self.replies.get(timeout=timeout)
        except queue.Empty:
            return None, "hang"
        return reply, "" if reply is not None else "the adapter exited"

    def alive(self) -> bool:
        """Whether the process still runs (reaping it, and keeping its usage, when not)."""
        if self.ended is None:
            pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
            if pid:
                self.ended = (os.waitstatus_to_exitcode(status), usage)
        return self.ended is None

    def finish(self, timeout: float) -> tuple[int | None, float]:
        """Say bye; return the exit code (None if it had to be killed) and peak RSS in MB."""
        stdin = self.process.stdin
        assert stdin is not None
        try:
            stdin.write(b'{"type":"bye"}\n')
            stdin.close()
        except OSError:
            pass
        deadline = time.monotonic() + timeout
        code: int | None = None
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.ended is None:
            _kill_group(self.process.pid)
            _pid, _status, usage = os.wait4(self.process.pid, 0)
        else:
            code, usage = self.ended
        self.process.returncode = -1 if code is None else code
        _kill_group(self.process.pid)
        return code, usage.ru_maxrss / 1024


def protocol_line(entry: dict[str, Any], tmp: Path) -> bytes:
    """The bytes of one hostile protocol line (without its newline)."""
    if "vector" in entry:
        vector = json.loads((SPEC / "vectors" / str(entry["vector"])).read_text("utf-8"))
        target: Any = vector["input"]
        pointer = list(entry["pointer"])
        for step in pointer[:-1]:
            target = target[step]
        value = entry["value"]
        target[pointer[-1]] = expand(value, tmp) if isinstance(value, str) else value
        message = {"type": "case", "id": vector["id"], "kind": vector["kind"]}
        return json.dumps({**message, "input": vector["input"]}).encode()
    if "parts" in entry:
        return render_parts(entry["parts"], tmp)
    return expand(str(entry["text"]), tmp).encode()


VALID = b'{"type":"case","id":"fee/ok","kind":"fee","input":{"nominal":"10","surplus":"4"}}'


@pytest.mark.parametrize("locale", ["C", "C.UTF-8"])
def test_adapter_answers_every_hostile_line(locale: str, tmp_path: Path) -> None:
    """Every line gets one reply, and one adapter process survives all of them."""
    tmp, cwd = tmp_path / "in", tmp_path / "cwd"
    tmp.mkdir()
    cwd.mkdir()
    for entry in LINES:
        build_files(list(entry.get("files", [])), tmp)
    before = snapshot(tmp, CASES_DIR)
    env = environment({"LC_ALL": locale})
    adapter, restarts, peak = Adapter(cwd, env), 0, 0.0
    problems: list[str] = []

    def restart() -> None:
        nonlocal adapter, restarts, peak
        _code, rss = adapter.finish(timeout=1)
        peak = max(peak, rss)
        tail = traceback_tail(adapter.errors.kept.decode("utf-8", "replace"))
        if tail:
            problems.append(f"    (the adapter died with {tail})")
        adapter, restarts = Adapter(cwd, env), restarts + 1

    hello, _ = adapter.ask(b'{"type":"hello","protocol":1}', timeout=10)
    if not hello or json.loads(hello).get("type") != "hello":
        problems.append(f"no hello: {hello!r}")
    for entry in LINES:
        line = protocol_line(entry, tmp)
        reply, why = adapter.ask(line, timeout=float(entry.get("timeout", 10)))
        allowed = list(entry.get("reply", ["errored"]))
        if reply is None:
            problems.append(f"{entry['id']}: no reply ({why})")
            restart()
            continue
        problems += [
            f"{entry['id']}: {p}" for p in judge_reply(reply.decode("utf-8", "replace"), allowed)
        ]
    reply, _ = adapter.ask(VALID, timeout=10)
    if reply is None or json.loads(reply).get("output") != {"fee": "4"}:
        problems.append(f"a valid case after the hostile lines: {reply!r}")
    code, rss = adapter.finish(timeout=5)
    peak = max(peak, rss)
    errors = adapter.errors.kept.decode("utf-8", "replace")
    if "Traceback" in errors:
        problems.append(f"traceback on stderr: {traceback_tail(errors)}")
    if code != 0:
        problems.append(f"exit {code} after bye")
    if restarts:
        problems.append(f"the adapter had to be restarted {restarts} times")
    if peak > DEFAULT_RSS_MB:
        problems.append(f"peak RSS {peak:.0f} MB")
    if any(cwd.iterdir()):
        problems.append("wrote into the working directory")
    if snapshot(tmp, CASES_DIR) != before:
        problems.append("input files changed")
    log({"id": f"adapter/protocol-lines[{locale}]", "problems": problems, "rss_mb": round(peak)})
    assert not problems, "\n".join(problems)
