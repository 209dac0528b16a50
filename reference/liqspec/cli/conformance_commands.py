"""Conformance commands: ``vectors``, ``adapter``, ``conformance`` and ``fuzz`` (chapter 13)."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

import click

from liqspec.base.errors import InputError, LiqspecError, Reason
from liqspec.cli.app import (
    EXIT_FOUND,
    EXIT_OK,
    guarded,
    main,
)
from liqspec.conformance.adapter import serve, serve_one
from liqspec.conformance.generate import build_vectors, write_vectors
from liqspec.conformance.runner import run_one_shot, run_suite, summary_line


@main.group("vectors")
def vectors_group() -> None:
    """Conformance vectors (spec/13-conformance.md)."""


@vectors_group.command("generate")
@click.option(
    "--spec",
    "spec_dir",
    default="spec",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The specification folder to read.",
)
@click.option(
    "--out",
    default="spec/vectors",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where to write the vectors (one JSON file per case).",
)
def vectors_generate(spec_dir: Path, out: Path) -> None:
    """Generate every conformance vector from the reference, deterministically.

    Reads the bundled markets and scenarios under --spec, evaluates every case with the
    reference, validates each vector against its JSON Schema and writes one canonical file
    per case (sorted keys, LF, decimal strings) under --out, replacing what was there.
    """

    def run_generate() -> int:

        vectors = build_vectors(spec_dir)
        for kind in {v["kind"] for v in vectors}:
            shutil.rmtree(out / kind, ignore_errors=True)
        count = write_vectors(vectors, out)
        click.echo(f"wrote {count} vectors to {out}")
        return EXIT_OK

    guarded(False, run_generate)  # noqa: FBT003


@main.command("adapter")
@click.option("--one-shot", is_flag=True, help="Answer one case from stdin, then exit.")
def adapter_command(one_shot: bool) -> None:
    """Run the reference implementation's adapter on stdin/stdout (spec/protocol.md).

    Newline-delimited JSON: a hello handshake, then one reply per case, until bye.
    """
    (serve_one if one_shot else serve)(sys.stdin, sys.stdout)


@main.command("conformance")
@click.option(
    "--impl",
    "impl",
    required=True,
    help='The adapter command, e.g. "node adapter.js" (split like a shell, run without one).',
)
@click.option(
    "--vectors",
    "vectors_dir",
    default="spec/vectors",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The vector folder.",
)
@click.option("--kind", "kinds", multiple=True, help="Only vectors of this kind (repeatable).")
@click.option("--feature", "features", multiple=True, help="Only vectors with this feature tag.")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds per case.")
@click.option("--restarts", default=3, show_default=True, help="Restarts after a crash.")
@click.option(
    "--mapping",
    type=click.Path(path_type=Path),
    help="JSON object mapping the implementation's reason names to liqspec's.",
)
@click.option(
    "--skip",
    "skip_file",
    type=click.Path(path_type=Path),
    help="File of vector ids expected to fail (one per line); they must keep failing.",
)
@click.option("--jsonl", type=click.Path(path_type=Path), help="Write one JSON line per case here.")
@click.option("--markdown", type=click.Path(path_type=Path), help="Write a Markdown table here.")
@click.option("--one-shot", is_flag=True, help="Start the adapter once per case.")
def conformance_command(
    *, impl: str, vectors_dir: Path, kinds: tuple[str, ...], features: tuple[str, ...],
    timeout: float, restarts: int, mapping: Path | None, skip_file: Path | None,
    jsonl: Path | None, markdown: Path | None, one_shot: bool,
) -> None:  # fmt: skip
    """Run the conformance vectors against another implementation's adapter.

    Prints each failure with the case id, the first differing field, expected and actual
    values and the spec rules the vector exercises, then `N passed, N failed, N skipped`.
    Exit 0 only when nothing failed.
    """

    def run_all() -> int:

        vectors = _select_vectors(vectors_dir, kinds, features)
        names = json.loads(mapping.read_text()) if mapping else {}
        skip = skip_file.read_text().split() if skip_file else []
        command = shlex.split(impl)
        if one_shot:
            reports = run_one_shot(vectors, command, timeout=timeout, mapping=names, skip=skip)
        else:
            reports = run_suite(vectors, command, timeout=timeout, restarts=restarts,
                                mapping=names, skip=skip)  # fmt: skip
        ran = {r.id for r in reports}
        missing = [v["id"] for v in vectors if v["id"] not in ran]
        if missing:  # pragma: no cover - the runner reports every vector
            raise LiqspecError(f"vectors neither run nor skipped: {missing[:5]}")
        if jsonl:
            jsonl.write_text(
                "".join(json.dumps(r.as_json(), sort_keys=True) + "\n" for r in reports)
            )
        if markdown:
            markdown.write_text(_conformance_markdown(reports, summary_line(reports)))
        for report in reports:
            if report.status in {"failed", "errored"}:
                click.echo(
                    f"{report.status.upper()} {report.id}: {report.detail}"
                    + (f" at {report.field}: expected {report.expected!r}, got {report.actual!r}"
                       if report.field else "")
                    + (f" [{', '.join(report.rules[:4])}]" if report.rules else "")
                )  # fmt: skip
        click.echo(summary_line(reports))
        return EXIT_OK if all(r.status in {"passed", "skipped"} for r in reports) else EXIT_FOUND

    guarded(False, run_all)  # noqa: FBT003


def _select_vectors(
    folder: Path, kinds: tuple[str, ...], features: tuple[str, ...]
) -> list[dict[str, Any]]:
    vectors = [json.loads(p.read_text()) for p in sorted(folder.rglob("*.json"))]
    if not vectors:
        raise InputError(Reason.UNREADABLE, "--vectors", str(folder), "no vector files found")

    def wanted(vector: dict[str, Any]) -> bool:
        kind_ok = not kinds or vector["kind"] in kinds
        return kind_ok and (not features or bool(set(features) & set(vector["features"])))

    return [v for v in vectors if wanted(v)]


def _conformance_markdown(reports: list[Any], summary: str) -> str:
    lines = ["| case | status | field | expected | actual |", "|---|---|---|---|---|"]
    lines += [
        f"| {r.id} | {r.status} | {r.field} | {r.expected!r} | {r.actual!r} |" for r in reports
    ]
    return "\n".join([*lines, "", summary, ""])


@main.command("fuzz")
@click.option("--impl", "impl", required=True, help="The adapter command to fuzz.")
@click.option("--examples", default=500, show_default=True, help="How many cases to draw.")
@click.option("--seed", "seed_value", default=0, show_default=True, help="The random seed.")
@click.option("--spec", "spec_dir", default="spec", show_default=True,
              type=click.Path(path_type=Path), help="Where the bundled markets are.")  # fmt: skip
@click.option("--out", default="fuzz-vectors", show_default=True, type=click.Path(path_type=Path),
              help="Where a disagreement is written as a vector.")  # fmt: skip
def fuzz_command(*, impl: str, examples: int, seed_value: int, spec_dir: Path, out: Path) -> None:
    """Differential fuzzing: random cases to the reference and to an implementation.

    On the first disagreement the case is shrunk to a minimal one and written as a new vector
    file under --out (add it to your suite). Exit 0 when no disagreement was found, 1 when one
    was.
    """

    def run_fuzz() -> int:

        from liqspec.conformance.fuzz import fuzz  # noqa: PLC0415 - hypothesis loads on demand

        outcome = fuzz(shlex.split(impl), spec=spec_dir, out=out, examples=examples,
                       seed_value=seed_value)  # fmt: skip
        if outcome.vector is None:
            click.echo(f"{outcome.examples} cases, no disagreement")
            return EXIT_OK
        click.echo(f"disagreement on {outcome.vector['id']}: {outcome.difference}")
        click.echo(f"minimal case written to {outcome.path}")
        return EXIT_FOUND

    guarded(False, run_fuzz)  # noqa: FBT003
