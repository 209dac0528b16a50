"""Conformance commands: ``vectors``, ``adapter``, ``conformance`` and ``fuzz`` (chapter 13).

Every default works from any folder after ``pip install``: the vectors and markets are the
bundled ones (``liqspec.bundled``), and nothing is written unless a path is given. Bad options
and files exit 2 with one line ``error: ...``, before any adapter is started.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from liqspec.base.errors import InputError, LiqspecError, Reason
from liqspec.base.files import get_bundled, read_regular_file
from liqspec.cli.app import EXIT_FOUND, EXIT_OK, guarded, main
from liqspec.conformance.adapter import serve, serve_one
from liqspec.conformance.generate import build_vectors, write_vectors
from liqspec.conformance.protocol import shown
from liqspec.conformance.reports import CaseReport, summary_line, unknown_skips
from liqspec.conformance.runner import run_one_shot, run_suite
from liqspec.conformance.vectors import (
    KINDS,
    Vector,
    canonical,
    load_vectors,
    read_json_file,
)

MAX_LIST_BYTES = 1 << 20
"""Largest mapping or skip file read (1 MiB)."""


class _Seconds(click.FloatRange):
    """Seconds: a finite number above 0 and at most a day (NaN and infinities refused)."""

    def __init__(self) -> None:
        super().__init__(min=0, max=86400, min_open=True)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return seconds


def _adapter_command(ctx: click.Context, param: click.Parameter, value: str) -> list[str]:
    """Split ``--impl`` like a shell and check that its program can be run."""
    try:
        argv = shlex.split(value)
    except ValueError as error:  # e.g. "No closing quotation"
        raise click.BadParameter(f"{value!r}: {error}", ctx, param) from None
    if not argv:
        raise click.BadParameter("the adapter command is empty", ctx, param)
    if shutil.which(argv[0]) is None:
        detail = f"{argv[0]!r} is not a program on PATH nor an executable file"
        raise click.BadParameter(detail, ctx, param)
    return argv


def _output_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check that a report can be created: its folder exists and is writable."""
    if value is not None:
        folder = value.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise click.BadParameter(f"{str(folder)!r} is not a writable folder", ctx, param)
    return value


def _output_folder(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check that a folder exists or can be created: no regular file on its path."""
    if value is not None:
        existing = next(p for p in (value, *value.parents) if p.exists() or p == Path(p.anchor))
        if not existing.is_dir():
            raise click.BadParameter(f"{str(existing)!r} is not a folder", ctx, param)
        if not os.access(existing, os.W_OK):
            raise click.BadParameter(f"{str(existing)!r} is not writable", ctx, param)
    return value


_FOLDER = click.Path(exists=True, file_okay=False, path_type=Path)
_FILE = click.Path(dir_okay=False, path_type=Path)


def _run(action: Callable[[], int]) -> None:
    """Run a command's action: liqspec errors and failed writes become one line, exit 2."""

    def writing() -> int:
        try:
            return action()
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            raise LiqspecError(f"{where}{error.strerror or error}") from None

    guarded(False, writing)  # noqa: FBT003


@main.group("vectors")
def vectors_group() -> None:
    """Conformance vectors (spec/13-conformance.md)."""


@vectors_group.command("generate")
@click.option(
    "--spec",
    "spec_dir",
    type=_FOLDER,
    show_default="the bundled one",
    help="The specification folder to read.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_output_folder,
    show_default="the vectors folder of --spec",
    help="Where to write the vectors.",
)
def vectors_generate(spec_dir: Path | None, out: Path | None) -> None:
    """Generate every conformance vector from the reference, deterministically.

    Reads the markets and scenarios under --spec, evaluates every case with the reference,
    validates each vector against its JSON Schema and writes one canonical file per case
    (sorted keys, LF, decimal strings) under --out, replacing what was there.
    """

    def run_generate() -> int:
        spec = spec_dir or get_bundled()
        folder = out or spec / "vectors"
        vectors = build_vectors(spec)
        for kind in {v["kind"] for v in vectors}:
            shutil.rmtree(folder / kind, ignore_errors=True)
        count = write_vectors(vectors, folder)
        click.echo(f"wrote {count} vectors to {folder}")
        return EXIT_OK

    _run(run_generate)


@main.command("adapter")
@click.option("--one-shot", is_flag=True, help="Answer one case from stdin, then exit.")
def adapter_command(one_shot: bool) -> None:
    """Run the reference implementation's adapter on stdin/stdout (spec/protocol.md).

    Newline-delimited JSON: a hello handshake, then one reply per line, until bye. A line that
    is not a request gets one errored reply with a reason; no case ever opens a file.
    """
    (serve_one if one_shot else serve)(sys.stdin.buffer, sys.stdout.buffer)
    # the reader may be gone: nothing is left to flush, so drop what the exit would flush
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


@main.command("conformance")
@click.option(
    "--impl",
    "command",
    required=True,
    callback=_adapter_command,
    help='The adapter command, e.g. "node adapter.js" (split like a shell, run without one).',
)
@click.option(
    "--vectors",
    "vectors_dir",
    type=_FOLDER,
    show_default="the bundled vectors",
    help="The vector folder.",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(sorted(KINDS)),
    help="Only vectors of this kind (repeatable).",
)
@click.option(
    "--feature", "features", multiple=True, help="Only vectors with this feature tag (repeatable)."
)
@click.option(
    "--timeout", default=10.0, show_default=True, type=_Seconds(), help="Seconds per case."
)
@click.option(
    "--restarts",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="Restarts after a crash.",
)
@click.option(
    "--mapping",
    type=_FILE,
    help="JSON object mapping the implementation's reason names to liqspec's (strings).",
)
@click.option(
    "--skip",
    "skip_file",
    type=_FILE,
    help="Vector ids expected to fail, one per line (# comments); they must keep failing.",
)
@click.option(
    "--jsonl", type=_FILE, callback=_output_file, help="Write one JSON line per case here."
)
@click.option("--markdown", type=_FILE, callback=_output_file, help="Write a Markdown table here.")
@click.option("--one-shot", is_flag=True, help="Start the adapter once per case.")
def conformance_command(
    *, command: list[str], vectors_dir: Path | None, kinds: tuple[str, ...],
    features: tuple[str, ...], timeout: float, restarts: int, mapping: Path | None,
    skip_file: Path | None, jsonl: Path | None, markdown: Path | None, one_shot: bool,
) -> None:  # fmt: skip
    """Run the conformance vectors against another implementation's adapter.

    Prints each failure with the case id, the first differing field, expected and actual
    values and the spec rules the vector exercises, then `N passed, N failed, N skipped`.
    Exit 0 when some case passed and none failed; 1 otherwise; 2 for bad options or files,
    or an adapter that fails its handshake.
    """

    def run_all() -> int:
        folder = vectors_dir or get_bundled("vectors")
        vectors = load_vectors(folder)
        selected = _select_vectors(vectors, kinds, features)
        names = _read_mapping(mapping) if mapping else {}
        skip = _read_skip_list(skip_file) if skip_file else []
        if not selected:
            click.echo(summary_line([]))
            chosen = " ".join(
                [*(f"--kind {k}" for k in kinds), *(f"--feature {f}" for f in features)]
            )
            click.echo(f"error: no vector matches {chosen}; nothing was run", err=True)
            return EXIT_FOUND
        if one_shot:
            reports = run_one_shot(selected, command, timeout=timeout, mapping=names, skip=skip)
        else:
            reports = run_suite(
                selected, command, timeout=timeout, restarts=restarts, mapping=names, skip=skip
            )
        ran = {r.id for r in reports}
        missing = [v["id"] for v in selected if v["id"] not in ran]
        if missing:  # pragma: no cover - the runner reports every vector
            raise LiqspecError(f"vectors neither run nor skipped: {missing[:5]}")
        reports += unknown_skips(skip, (v["id"] for v in vectors))
        _write_reports(reports, jsonl, markdown)
        for report in reports:
            if report.status in {"failed", "errored"}:
                click.echo(_failure_line(report))
        click.echo(summary_line(reports))
        if not any(r.status in {"passed", "failed", "errored"} for r in reports):
            detail = f"every one of the {len(selected)} selected vectors was skipped"
            click.echo(f"error: no case passed or failed: {detail}", err=True)
            return EXIT_FOUND
        return EXIT_OK if all(r.status in {"passed", "skipped"} for r in reports) else EXIT_FOUND

    _run(run_all)


def _select_vectors(
    vectors: list[Vector], kinds: Sequence[str], features: Sequence[str]
) -> list[Vector]:
    """Return the vectors of the kinds and features asked; a feature no vector has is an error."""
    known = {f for v in vectors for f in v["features"]}
    for feature in features:
        if feature not in known:
            choices = ", ".join(sorted(known))
            if len(choices) > 160:
                choices = choices[:157].rsplit(", ", 1)[0] + ", ..."
            shown = feature if len(feature) <= 40 else feature[:37] + "..."
            detail = f"{shown!r} is a feature of no vector; choose from {choices}"
            raise LiqspecError(f"Invalid value for '--feature': {detail}")

    def wanted(vector: Vector) -> bool:
        kind_ok = not kinds or vector["kind"] in kinds
        return kind_ok and (not features or bool(set(features) & set(vector["features"])))

    return [v for v in vectors if wanted(v)]


def _read_mapping(path: Path) -> dict[str, str]:
    """Read a reason mapping: one JSON object whose values are reason names."""
    names = read_json_file(path, MAX_LIST_BYTES)
    for key, value in names.items():
        if not isinstance(value, str):
            detail = f"a reason name (a string) is expected, got {type(value).__name__}"
            raise InputError(Reason.WRONG_TYPE, key, value, detail, str(path))
    return names


def _read_skip_list(path: Path) -> list[str]:
    """Read a skip list: one vector id per line; blank lines and ``#`` comments are ignored."""
    raw = read_regular_file(path, MAX_LIST_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        detail = f"not UTF-8 text (byte {error.start})"
        raise InputError(Reason.SYNTAX, "<file>", str(path), detail, str(path)) from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def _failure_line(report: CaseReport) -> str:
    where = ""
    if report.field:
        expected, actual = shown(report.expected), shown(report.actual)
        where = f" at {report.field}: expected {expected}, got {actual}"
    rules = f" [{', '.join(report.rules[:4])}]" if report.rules else ""
    return f"{report.status.upper()} {report.id}: {report.detail}{where}{rules}"


def _write_reports(reports: list[CaseReport], jsonl: Path | None, markdown: Path | None) -> None:
    if jsonl:
        lines = (json.dumps(r.as_json(), sort_keys=True) + "\n" for r in reports)
        jsonl.write_text("".join(lines), encoding="utf-8")
    if markdown:
        markdown.write_text(_conformance_markdown(reports), encoding="utf-8")


def _cell(value: object) -> str:
    text = value if isinstance(value, str) else shown(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _conformance_markdown(reports: list[CaseReport]) -> str:
    lines = ["| case | status | field | expected | actual |", "|---|---|---|---|---|"]
    lines += [
        f"| {_cell(r.id)} | {r.status} | {_cell(r.field)} | {_cell(shown(r.expected))} | "
        f"{_cell(shown(r.actual))} |"
        for r in reports
    ]
    return "\n".join([*lines, "", summary_line(reports), ""])


@main.command("fuzz")
@click.option(
    "--impl",
    "command",
    required=True,
    callback=_adapter_command,
    help="The adapter command to fuzz.",
)
@click.option(
    "--examples",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many cases to draw.",
)
@click.option("--seed", "seed_value", default=0, show_default=True, help="The random seed.")
@click.option(
    "--spec",
    "spec_dir",
    type=_FOLDER,
    show_default="the bundled spec",
    help="Where the markets are (markets/*.toml).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    callback=_output_folder,
    show_default="print it",
    help="Write a disagreement here as a vector file.",
)
@click.option(
    "--kind",
    "what",
    type=click.Choice(["cases", "scenario"]),
    default="cases",
    show_default=True,
    help="cases: maintenance, fee and shares cases; scenario: whole scenarios (chapters 6-12).",
)
def fuzz_command(
    *,
    command: list[str],
    examples: int,
    seed_value: int,
    spec_dir: Path | None,
    out: Path | None,
    what: str,
) -> None:
    """Differential fuzzing: random cases to the reference and to an implementation.

    On the first disagreement the case is shrunk to a minimal one and printed as a vector, or
    written as a new vector file under --out (add it to your suite). With --kind scenario the
    cases are whole scenarios (2-50 accounts, several markets, every policy, ADL, breakers,
    risk adjustment), shrunk to a few accounts and events; --spec does not apply (the markets
    are the bundled ones). Exit 0 when no disagreement was found, 1 when one was or when the
    adapter supports none of the fuzzed kinds, 2 for bad options or an adapter that fails its
    handshake.

    \b
    Example:
      liqspec fuzz --impl "node docs/examples/adapter.js" --kind scenario --examples 300
    """
    if what == "scenario":
        _run(lambda: _fuzz_scenarios(command, examples, seed_value, out))
        return

    def run_fuzz() -> int:
        from liqspec.conformance.fuzz import KINDS as FUZZED  # noqa: PLC0415 - loads hypothesis
        from liqspec.conformance.fuzz import fuzz  # noqa: PLC0415

        outcome = fuzz(
            command,
            spec=spec_dir or get_bundled(),
            out=out,
            examples=examples,
            seed_value=seed_value,
        )
        if outcome.vector is not None:
            click.echo(f"disagreement on {outcome.vector['id']}: {outcome.difference}")
            if outcome.path is None:
                click.echo(canonical(outcome.vector), nl=False)
            else:
                click.echo(f"minimal case written to {outcome.path}")
            return EXIT_FOUND
        if outcome.examples == 0:
            detail = f"the adapter supports none of the fuzzed kinds ({', '.join(FUZZED)})"
            click.echo(f"error: nothing was compared: {detail}", err=True)
            return EXIT_FOUND
        click.echo(f"{outcome.examples} cases, no disagreement")
        return EXIT_OK

    _run(run_fuzz)


def _fuzz_scenarios(command: list[str], examples: int, seed_value: int, out: Path | None) -> int:
    """``fuzz --kind scenario``: whole scenarios, shrunk on a disagreement (VEC-5)."""
    from liqspec.conformance.scenario_fuzz import (  # noqa: PLC0415 - loads hypothesis
        ScenarioKindUnsupportedError,
        fuzz_scenarios,
    )

    try:
        findings = fuzz_scenarios(command, examples, seed_value)
    except ScenarioKindUnsupportedError as error:
        click.echo(f"error: nothing was compared: {error}", err=True)
        return EXIT_FOUND
    if not findings:
        click.echo(f"{examples} scenarios, no disagreement")
        return EXIT_OK
    finding = findings[0]
    click.echo(f"disagreement on {finding.vector['id']}: {finding.difference}")
    if out is None:
        click.echo(canonical(finding.vector), nl=False)
    else:
        path = out / f"{finding.vector['id']}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(canonical(finding.vector), encoding="utf-8", newline="\n")
        click.echo(f"minimal case written to {path}")
    return EXIT_FOUND
