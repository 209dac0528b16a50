"""Mutation testing of the engine: how many single-point defects the vectors catch.

``python scripts/mutation.py`` (``make mutation``) generates seeded mutants of the engine's
modules, runs each one against the conformance vectors (the reference evaluating every vector
with the mutant in place, in a forked process), then runs the survivors against the pytest
suite, and prints a table per module: generated, killed by the vectors, killed by the tests
only, equivalent, survived. A mutant is one AST change at one place: a comparison flipped
(``<`` for ``<=``), an arithmetic or boolean operator swapped, an integer constant moved by
one, ``min`` for ``max``, floor for ceiling, a condition negated, a ``raise`` dropped.

The mutated module replaces the real one at import time (a meta path finder), so no file is
written and every module that imports it sees the mutant. Mutants that cannot change any
output are listed with their reason in ``scripts/equivalent-mutants.toml``; so are, with
``scope = "tests"``, mutants of code that no file can reach (the Python API behind the schema,
the proofs' symbolic paths): they are left out of the vectors' figure and the tests must kill
them. The tool checks the list: a listed mutant that the vectors kill, or a ``tests`` one that
the tests do not, is an error, as in the conformance skip list.
"""

from __future__ import annotations

import argparse
import ast
import copy
import difflib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "reference" / "liqspec"
EQUIVALENT = ROOT / "scripts" / "equivalent-mutants.toml"

MODULES = {
    "conventions": ["base/conventions.py"],
    "markets": ["model/markets.py", "model/market_rules.py", "model/market_files.py"],
    "accounts": ["model/accounts.py"],
    "margin": ["model/margin.py"],
    "prices": ["model/prices.py"],
    "state/transition": ["engine/state.py", "engine/transition.py", "engine/scenarios.py"],
    "liquidation": ["engine/liquidation.py", "engine/execution.py"],
    "queue": ["engine/queue.py"],
    "insurance": ["engine/insurance.py", "engine/ranking.py"],
    "mark price": ["engine/markprice.py"],
    "breakers": ["engine/breakers.py"],
    "risk": ["engine/risk.py"],
}
"""The engine modules, grouped as the assurance issue reports them."""

TEST_FILES = {
    "conventions": [
        "tests/unit/test_conventions.py",
        "tests/properties/test_margin.py",
        "tests/properties/test_prices.py",
    ],
    "markets": [
        "tests/unit/test_bad_input.py",
        "tests/unit/test_published_examples.py",
        "tests/unit/test_public_api.py",
    ],
    "accounts": ["tests/unit/test_bad_input.py", "tests/properties/test_margin.py"],
    "margin": ["tests/properties/test_margin.py", "tests/unit/test_published_examples.py"],
    "prices": ["tests/properties/test_prices.py", "tests/unit/test_published_examples.py"],
    "state/transition": [
        "tests/unit/test_scenarios.py",
        "tests/unit/test_isolated.py",
        "tests/properties/test_engine.py",
        "tests/properties/test_account_map.py",
    ],
    "liquidation": [
        "tests/unit/test_liquidation.py",
        "tests/properties/test_engine.py",
        "tests/properties/test_prices.py",
    ],
    "queue": [
        "tests/unit/test_queue.py",
        "tests/properties/test_queue.py",
        "tests/properties/test_engine.py",
    ],
    "insurance": [
        "tests/unit/test_liquidation.py",
        "tests/properties/test_engine.py",
        "tests/properties/test_ranking.py",
    ],
    "mark price": ["tests/unit/test_breakers_and_risk.py", "tests/properties/test_engine.py"],
    "breakers": ["tests/unit/test_breakers_and_risk.py", "tests/properties/test_engine.py"],
    "risk": ["tests/unit/test_breakers_and_risk.py", "tests/properties/test_engine.py"],
}
for _files in TEST_FILES.values():  # the proofs run the engine's own functions on z3 terms
    _files += ["tests/symbolic/test_proofs.py", "tests/symbolic/test_z3_formulas.py"]
"""The tests a survivor of each group is run against: the unit and property tests of the
module, in process (a test that starts a subprocess would not see the mutant)."""

VECTOR_TIMEOUT = 20.0
TEST_TIMEOUT = 300.0

# --- mutants -----------------------------------------------------------------------------------

_COMPARE_SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
    ast.In: ast.NotIn, ast.NotIn: ast.In,
}  # fmt: skip
_BINOP_SWAPS = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv, ast.Div: ast.Mult, ast.Pow: ast.Mult,
}  # fmt: skip
_NAME_SWAPS = {
    "min": "max", "max": "min", "div_floor": "div_ceil", "div_ceil": "div_floor",
    "smin": "smax", "smax": "smin", "any": "all", "all": "any",
}  # fmt: skip


@dataclass(frozen=True)
class Mutant:
    """One change at one place of one module: ``<file>:<line>:<col>:<operator>``."""

    group: str
    file: str
    line: int
    col: int
    operator: str

    @property
    def id(self) -> str:
        """Return ``<file>:<line>:<col>:<operator>``, stable across runs."""
        return f"{self.file}:{self.line}:{self.col}:{self.operator}"

    @property
    def module(self) -> str:
        """Return the dotted name of the mutated module."""
        return "liqspec." + self.file.removesuffix(".py").replace("/", ".")


@cache
def _source(file: str) -> str:
    """Return a module's source, read once: a run sees one version of every file."""
    return (PACKAGE / file).read_text()


def _skipped_nodes(tree: ast.Module) -> set[int]:
    """Nodes no mutant touches: docstrings, annotations, f-strings, asserts, ``__all__``."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip(node.returns)
            for arg in (*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs):
                skip(arg.annotation)
        if isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, (ast.JoinedStr, ast.Assert)):
            skip(node)
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            skip(node)
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip(first)
    return skipped


def _operators(node: ast.AST) -> Iterator[str]:
    """Yield the names of the mutations that apply to ``node``."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        if type(node.ops[0]) in _COMPARE_SWAPS:
            yield f"compare-{type(node.ops[0]).__name__}"
    elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
        yield f"binop-{type(node.op).__name__}"
    elif isinstance(node, ast.BoolOp):
        yield f"boolop-{type(node.op).__name__}"
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop-not"
    elif isinstance(node, ast.Constant) and type(node.value) is int:
        yield "int-plus-one"
        if node.value != 0:
            yield "int-minus-one"
    elif isinstance(node, ast.Constant) and type(node.value) is bool:
        yield "bool-flip"
    elif isinstance(node, ast.Name) and node.id in _NAME_SWAPS and isinstance(node.ctx, ast.Load):
        yield f"name-{node.id}"
    elif isinstance(node, ast.If):
        yield "negate-if"
    elif isinstance(node, ast.Raise):
        yield "drop-raise"


def _place(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def mutants_of(group: str, file: str) -> list[Mutant]:
    """Every mutant of one module file, in source order."""
    tree = ast.parse(_source(file))
    skipped = _skipped_nodes(tree)
    found = [
        Mutant(group, file, *_place(node), operator)
        for node in ast.walk(tree)
        if id(node) not in skipped
        for operator in _operators(node)
    ]
    return sorted(set(found), key=lambda m: (m.line, m.col, m.operator))


class _Mutator(ast.NodeTransformer):
    def __init__(self, mutant: Mutant) -> None:
        self.mutant = mutant
        self.applied = False

    def generic_visit(self, node: ast.AST) -> ast.AST:
        node = super().generic_visit(node)
        if _place(node) != (self.mutant.line, self.mutant.col) or self.applied:
            return node
        if self.mutant.operator not in set(_operators(node)):
            return node
        self.applied = True
        return _mutate(node, self.mutant.operator)


def _mutate(node: ast.AST, operator: str) -> ast.AST:  # noqa: PLR0911 - one case per operator
    node = copy.copy(node)
    if isinstance(node, ast.Compare):
        node.ops = [_COMPARE_SWAPS[type(node.ops[0])]()]
        return node
    if isinstance(node, ast.BinOp):
        node.op = _BINOP_SWAPS[type(node.op)]()
        return node
    if isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node
    if isinstance(node, ast.UnaryOp):
        return node.operand
    if isinstance(node, ast.Constant):
        if operator == "bool-flip":
            return ast.Constant(not node.value)
        value = node.value
        assert isinstance(value, int)  # noqa: S101 - _operators only offers it for an int
        return ast.Constant(value + (1 if operator == "int-plus-one" else -1))
    if isinstance(node, ast.Name):
        return ast.Name(_NAME_SWAPS[node.id], node.ctx)
    if isinstance(node, ast.If):
        node.test = ast.UnaryOp(ast.Not(), node.test)
        return node
    return ast.Pass()  # drop-raise


def mutated_source(mutant: Mutant) -> str:
    """Return the module's source with the mutant applied."""
    tree = ast.parse(_source(mutant.file))
    mutator = _Mutator(mutant)
    tree = ast.fix_missing_locations(mutator.visit(tree))
    if not mutator.applied:
        raise LookupError(f"mutant {mutant.id} does not apply")
    return ast.unparse(tree)


class _MutantFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve the mutated source for one module; every other import is untouched."""

    def __init__(self, mutant: Mutant, source: str) -> None:
        self.mutant = mutant
        self.source = source

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,  # noqa: ARG002 - the finder's signature
        target: ModuleType | None = None,  # noqa: ARG002
    ) -> importlib.machinery.ModuleSpec | None:
        """Return the spec of the mutated module; None for every other."""
        if fullname != self.mutant.module:
            return None
        origin = str(PACKAGE / self.mutant.file)
        return importlib.util.spec_from_loader(fullname, self, origin=origin)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """Let the import system create the module object."""

    def exec_module(self, module: ModuleType) -> None:
        """Run the mutated source in the module's namespace."""
        module.__file__ = str(PACKAGE / self.mutant.file)
        exec(compile(self.source, module.__file__, "exec"), module.__dict__)


def parse_id(mutant_id: str) -> Mutant:
    """Return the mutant named ``<file>:<line>:<col>:<operator>``."""
    file, line, col, operator = mutant_id.rsplit(":", 3)
    group = next(g for g, files in MODULES.items() if file in files)
    return Mutant(group, file, int(line), int(col), operator)


def install(mutant: Mutant, source: str | None = None) -> None:
    """Install the finder for ``mutant`` (before ``liqspec`` is imported)."""
    sys.meta_path.insert(0, _MutantFinder(mutant, source or mutated_source(mutant)))


# --- running -----------------------------------------------------------------------------------


def load_vectors() -> list[dict[str, Any]]:
    """Every vector, cheap kinds first, so that most mutants die in the first second."""
    order = {"fee": 0, "shares": 1, "maintenance": 2, "market": 3, "margin": 4, "scenario": 5}
    vectors = [json.loads(p.read_text()) for p in sorted((ROOT / "spec/vectors").rglob("*.json"))]
    return sorted(vectors, key=lambda v: (order[v["kind"]], "random" in v["features"], v["id"]))


def _first_failing(vectors: list[dict[str, Any]]) -> str | None:
    from liqspec.conformance.vectors import evaluate  # noqa: PLC0415 - after the finder

    for vector in vectors:
        case: str = vector["id"]
        try:
            answer = evaluate(vector["kind"], vector["input"])
        except Exception:  # noqa: BLE001 - a crash is a kill
            return case
        if "expected_error" in vector:
            if answer != {"error": vector["expected_error"]["reason"]}:
                return case
        elif answer != {"output": vector["expected"]}:
            return case
    return None


Poll = Callable[[], "str | _Pending | None"]
"""A running job: returns ``PENDING`` until it is done, then its result."""


class _Pending:
    """The result of a job that is still running."""


PENDING = _Pending()


def start_vectors(mutant: Mutant, vectors: list[dict[str, Any]]) -> Poll:
    """Fork a child that runs ``vectors`` with the mutant in place; return its poll.

    The poll's result is the id of the first vector the mutant fails (or ``timeout``), else
    None.
    """
    source = mutated_source(mutant)  # here, so that a mutant that does not apply is an error
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: install the mutant, import the engine, run the vectors
        os.close(read)
        try:
            install(mutant, source)
            result = _first_failing(vectors) or ""
        except BaseException as error:  # noqa: BLE001 - an import that fails is a kill
            result = f"import: {type(error).__name__}"
        os.write(write, result.encode())
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + VECTOR_TIMEOUT

    def poll() -> str | _Pending | None:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if not done and time.monotonic() < deadline:
            return PENDING
        if not done:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
            return "timeout"
        with os.fdopen(read, "rb") as pipe:
            return pipe.read().decode() or None

    return poll


def start_tests(mutant: Mutant) -> Poll:
    """Start the module's tests with the mutant in place; the poll says ``tests`` if they fail."""
    env = {**os.environ, "LIQSPEC_MUTANT": mutant.id, "PYTHONPATH": str(ROOT / "scripts")}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
               "-p", "mutation_plugin", *TEST_FILES[mutant.group]]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + TEST_TIMEOUT

    def poll() -> str | _Pending | None:
        code = process.poll()
        if code is None and time.monotonic() < deadline:
            return PENDING
        if code is None:
            process.kill()
            process.wait()
            return "tests (timeout)"
        return "tests" if code else None

    return poll


def in_parallel(
    jobs: int, mutants: Sequence[Mutant], start: Callable[[Mutant], Poll]
) -> Iterator[tuple[Mutant, str | None]]:
    """Run ``start`` on each mutant, ``jobs`` at a time; yield each result as it is done."""
    waiting = list(reversed(mutants))
    running: list[tuple[Mutant, Poll]] = []
    while waiting or running:
        while waiting and len(running) < jobs:
            mutant = waiting.pop()
            running.append((mutant, start(mutant)))
        for job in list(running):
            result = job[1]()
            if not isinstance(result, _Pending):
                running.remove(job)
                yield job[0], result
        time.sleep(0.005)


def vector_coverage(vectors: list[dict[str, Any]]) -> dict[str, list[int]]:
    """Return, per engine file, the lines that no vector executes (coverage.py, in a fork)."""
    files = [str(PACKAGE / f) for group in MODULES.values() for f in group]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        import coverage  # noqa: PLC0415 - only the child measures

        measure = coverage.Coverage(include=files, data_file=None)
        measure.start()
        _first_failing(vectors)
        measure.stop()
        missing = {str(Path(f).relative_to(PACKAGE)): measure.analysis2(f)[3] for f in files}
        os.write(write, json.dumps(missing).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    found: dict[str, list[int]] = json.loads(text)
    return found


def select(seed: int, limit: int, groups: Sequence[str]) -> list[Mutant]:
    """Every mutant of ``groups``, or a seeded sample of ``limit`` per group."""
    chosen = []
    for group in groups:
        every = [m for file in MODULES[group] for m in mutants_of(group, file)]
        if limit and len(every) > limit:
            sample = random.Random(f"{seed}/{group}").sample(every, limit)  # noqa: S311 - seeded
            every = sorted(sample, key=lambda m: (m.file, m.line, m.col, m.operator))
        chosen.extend(every)
    return chosen


def read_equivalent() -> dict[str, str]:
    """Return the listed mutants and their scopes: ``equivalent``, or ``tests`` (beyond files)."""
    if not EQUIVALENT.exists():
        return {}
    entries = tomllib.loads(EQUIVALENT.read_text()).get("mutant", [])
    return {entry["id"]: entry.get("scope", "equivalent") for entry in entries}


def relocate(revision: str) -> list[str]:
    """Move each listed id whose line changed since ``revision`` to where that line went.

    The listed ids name lines, which move when the engine is edited; a diff of the file since
    ``revision`` says where each went. Return what moved, as ``old -> new``.
    """
    moved = []

    def move(match: re.Match[str]) -> str:
        file, line = match.group(1), int(match.group(2))
        command = ["git", "show", f"{revision}:reference/liqspec/{file}"]
        shown = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        old, new = shown.stdout.splitlines(), _source(file).splitlines()
        matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
        blocks = matcher.get_matching_blocks()
        lines = {a + k + 1: b + k + 1 for a, b, n in blocks for k in range(n)}
        to = lines.get(line, line)  # a line that is gone stays: the run reports it as stale
        if to == line:
            return match.group(0)
        moved.append(f"{file}:{line} -> {to}")
        return f'id = "{file}:{to}:{match.group(3)}"'

    text = re.sub(r'id = "([^:"]+):(\d+):([^"]+)"', move, EQUIVALENT.read_text())
    EQUIVALENT.write_text(text)
    return moved


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1, help="the sample's seed (default 1)")
    parser.add_argument("--limit", type=int, default=60,
                        help="mutants per module group, 0 for all (default 60)")  # fmt: skip
    parser.add_argument("--group", action="append", choices=sorted(MODULES),
                        help="only this group (repeatable)")  # fmt: skip
    parser.add_argument("--no-tests", action="store_true", help="vectors only")
    parser.add_argument("--only", type=Path,
                        help="run only the mutant ids listed in FILE (sampled or not)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write one JSON line per mutant here")
    parser.add_argument("--relocate", metavar="REV",
                        help="move listed ids to where their lines went since git REV")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="mutants run at once (default: the number of cores)")  # fmt: skip
    return parser


def _relocate(parser: argparse.ArgumentParser, revision: str) -> int:
    try:
        moved = relocate(revision)
    except subprocess.CalledProcessError as error:
        parser.error(f"--relocate {revision}: {error.stderr.strip() or 'git failed'}")
    print("\n".join(moved) or "nothing moved")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the mutants; print the table; exit 1 when the list of equivalent mutants is wrong."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.relocate:
        return _relocate(parser, args.relocate)
    if args.jobs < 1:
        parser.error(f"--jobs {args.jobs}: must be at least 1")
    for module in ("jsonschema", "fastjsonschema", "attrs", "referencing"):
        __import__(module)  # imported once here, shared by every fork
    vectors = load_vectors()
    equivalent = read_equivalent()
    every = {m.id for m in select(args.seed, 0, list(MODULES))}
    stale = sorted(set(equivalent) - every)
    if stale:
        parser.error(f"{EQUIVALENT.name} lists mutants that no longer exist: {stale[:3]}")
    limit = 0 if args.only else args.limit  # listed ids are run wherever the sample falls
    mutants = select(args.seed, limit, args.group or list(MODULES))
    if args.only:
        try:
            wanted = set(args.only.read_text().split())
        except OSError as error:
            parser.error(f"--only {args.only}: {error.strerror or error}")
        mutants = [m for m in mutants if m.id in wanted]
    unreached = vector_coverage(vectors)
    status, killers = run_all(mutants, vectors, equivalent, args)
    rows: dict[str, dict[str, int]] = {}
    results = []
    errors = []
    for mutant in mutants:
        listed, found = equivalent.get(mutant.id), status[mutant.id]
        if listed and killers[mutant.id]:
            errors.append(f"{mutant.id} is listed ({listed}) but a vector kills it")
        elif listed == "tests" and found == "survived" and not args.no_tests:
            errors.append(f"{mutant.id} is listed as reached by the tests only; they miss it")
        elif listed:
            status[mutant.id] = "outside" if listed == "tests" else "equivalent"
        row = rows.setdefault(mutant.group, {})
        row[status[mutant.id]] = row.get(status[mutant.id], 0) + 1
        results.append({"id": mutant.id, "group": mutant.group, "status": status[mutant.id],
                        "killer": killers[mutant.id]})  # fmt: skip
    if args.json:
        args.json.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in results))
    print_table(rows)
    errors += print_unreached(unreached)
    for line in errors:
        print(f"error: {line}", file=sys.stderr)
    return 1 if errors else 0


def run_all(
    mutants: Sequence[Mutant],
    vectors: list[dict[str, Any]],
    equivalent: dict[str, str],
    args: argparse.Namespace,
) -> tuple[dict[str, str], dict[str, str | None]]:
    """Run every mutant against the vectors, then the survivors against the tests.

    Return each mutant's status (``vectors``, ``tests`` or ``survived``) and the vector that
    killed it; print progress on stderr.
    """
    status: dict[str, str] = {}
    killers: dict[str, str | None] = {}
    started = time.monotonic()
    done = in_parallel(args.jobs, mutants, lambda m: start_vectors(m, vectors))
    for n, (mutant, killer) in enumerate(done, 1):
        killers[mutant.id] = killer
        status[mutant.id] = "vectors" if killer else "survived"
        verdict = f"killed ({killer})" if killer else "survived"
        print(f"[vectors {n}/{len(mutants)} {time.monotonic() - started:.0f}s] {mutant.id}: "
              f"{verdict}", file=sys.stderr, flush=True)  # fmt: skip
    if args.no_tests:
        return status, killers
    survivors = [
        m for m in mutants if status[m.id] == "survived" and equivalent.get(m.id) != "equivalent"
    ]
    for n, (mutant, result) in enumerate(in_parallel(args.jobs, survivors, start_tests), 1):
        if result:
            status[mutant.id] = "tests"
        verdict = "killed" if result else "survived"
        print(f"[tests {n}/{len(survivors)} {time.monotonic() - started:.0f}s] {mutant.id}: "
              f"{verdict}", file=sys.stderr, flush=True)  # fmt: skip
    return status, killers


def function_of(file: str) -> dict[int, str]:
    """Map each line of an engine file to the innermost function around it (or ``-``)."""
    owner: dict[int, str] = {}
    functions = [n for n in ast.walk(ast.parse(_source(file))) if isinstance(n, ast.FunctionDef)]
    spans = sorted(((n.end_lineno or n.lineno) - n.lineno, n.lineno, n) for n in functions)
    for _, first, node in reversed(spans):  # outermost first: inner functions overwrite
        for line in range(first, (node.end_lineno or first) + 1):
            owner[line] = node.name
    return owner


def read_unreached() -> dict[str, str]:
    """Return the functions listed as out of the vectors' reach, ``<file>:<function>``."""
    if not EQUIVALENT.exists():
        return {}
    entries = tomllib.loads(EQUIVALENT.read_text()).get("unreached", [])
    return {entry["where"]: entry["why"] for entry in entries}


def explain_unreached(unreached: dict[str, list[int]]) -> tuple[dict[str, list[int]], list[str]]:
    """Split the unreached lines: those no listed function explains, and stale listings."""
    listed = read_unreached()
    unexplained: dict[str, list[int]] = {}
    used = set()
    for file, lines in unreached.items():
        owner = function_of(file)
        for line in lines:
            where = f"{file}:{owner.get(line, '-')}"
            if where in listed:
                used.add(where)
            else:
                unexplained.setdefault(file, []).append(line)
    return unexplained, sorted(set(listed) - used)


def print_unreached(unreached: dict[str, list[int]]) -> list[str]:
    """Print the engine lines no vector executes; return the errors of the listing.

    A line no vector reaches is dead code, a rule without a vector, or code only a Python
    caller reaches (listed by function in the equivalence file, with the reason).
    """
    total = sum(len(lines) for lines in unreached.values())
    unexplained, stale = explain_unreached(unreached)
    left = sum(len(lines) for lines in unexplained.values())
    print(f"\nLines of the engine no vector executes: {total}, of which {left} not listed")
    for file, lines in sorted(unexplained.items()):
        print(f"- {file}: {', '.join(map(str, lines))}")
    return [f"{where} is listed as unreached, but no line of it is (or no such function)"
            for where in stale]  # fmt: skip


_STATUSES = ("vectors", "tests", "outside", "equivalent", "survived")


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def print_table(rows: dict[str, dict[str, int]]) -> None:
    """One line per group: generated, killed by vectors, by tests only, equivalent, survived.

    ``outside`` counts the listed mutants no file can reach, killed by the tests; the vectors'
    percentage leaves them and the equivalent ones out.
    """
    header = ("group", "mutants", "vectors", "tests only", "outside", "equivalent", "survived",
              "vectors %", "all %")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    total: dict[str, int] = {}
    for group in [*MODULES, "total"]:
        row = total if group == "total" else rows.get(group)
        if not row:
            continue
        if group != "total":
            for key, value in row.items():
                total[key] = total.get(key, 0) + value
        v, t, o, e, s = (row.get(k, 0) for k in _STATUSES)
        cells = [group, str(v + t + o + e + s), str(v), str(t), str(o), str(e), str(s),
                 _percent(v, v + t + s), _percent(v + t + o, v + t + o + s)]  # fmt: skip
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
