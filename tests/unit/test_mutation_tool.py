"""`make mutation`'s mutator: every mutant applies and compiles; the equivalence list is current."""

from __future__ import annotations

import sys

from tests.data import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import mutation  # a script, not a package: its folder goes on the path first


def test_every_listed_equivalent_mutant_exists() -> None:
    every = {m.id for m in mutation.select(1, 0, list(mutation.MODULES))}
    assert set(mutation.read_equivalent()) <= every


def test_each_operator_changes_and_compiles_its_module() -> None:
    seen: dict[str, mutation.Mutant] = {}
    for m in mutation.select(1, 0, list(mutation.MODULES)):
        seen.setdefault(m.operator.split("-")[0], m)
    assert set(seen) >= {"compare", "binop", "boolop", "int", "name", "negate", "drop", "bool"}
    for mutant in seen.values():
        source = mutation.mutated_source(mutant)
        assert source != mutation._source(mutant.file)
        compile(source, mutant.file, "exec")


def test_every_function_listed_as_unreached_exists() -> None:
    for where in mutation.read_unreached():
        file, function = where.split(":")
        assert function in set(mutation.function_of(file).values()), where
