"""The prove helper: Proved, Counterexample or Unknown, never a vacuous yes (spec/invariants.md).

``prove(hypotheses, claim)`` first checks that the hypotheses are satisfiable (a proof from
contradictory hypotheses proves nothing and is reported as a failure), then asks z3 for a model
of ``hypotheses and not claim`` under a deterministic resource limit (``rlimit``), not a wall
clock. ``unknown`` is a failure too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import z3
from attrs import frozen

__all__ = ["RLIMIT", "Counterexample", "Outcome", "Proved", "Unknown", "prove"]

RLIMIT = 20_000_000
"""z3's deterministic resource budget per query; results are reproducible byte for byte."""


@frozen
class Proved:
    """The claim holds for every value that meets the hypotheses."""

    holds = True


@frozen
class Counterexample:
    """Values that meet the hypotheses and break the claim, by variable name."""

    values: tuple[tuple[str, str], ...]
    holds = False


@frozen
class Unknown:
    """z3 gave no answer within the limit, or the hypotheses are unsatisfiable."""

    reason: str
    holds = False


Outcome = Proved | Counterexample | Unknown


def _solver(context: Any) -> Any:
    solver = z3.Solver(ctx=context)
    solver.set("rlimit", RLIMIT)
    return solver


def _least(hypotheses: Sequence[Any], claim: Any, objective: Any) -> Any:
    """Return the counterexample with the least ``objective`` (z3's optimizer, same limit)."""
    optimizer = z3.Optimize(ctx=claim.ctx)
    optimizer.set("rlimit", RLIMIT)
    optimizer.add(*hypotheses, z3.Not(claim))
    optimizer.minimize(objective)
    if optimizer.check() != z3.sat:  # pragma: no cover - the plain solver found one
        message = "the optimizer lost a counterexample the solver found"
        raise RuntimeError(message)
    return optimizer.model()


def prove(hypotheses: Sequence[Any], claim: Any, minimize: Any | None = None) -> Outcome:
    """Prove ``claim`` under ``hypotheses`` (z3 terms); see the module docstring.

    With ``minimize`` (an integer term), a counterexample is the one with the least value of
    that term: unique, so the witness does not depend on what z3 was asked before.
    """
    solver = _solver(claim.ctx)
    solver.add(*hypotheses)
    vacuity = solver.check()
    if vacuity == z3.unsat:
        return Unknown("the hypotheses are unsatisfiable: the proof would be vacuous")
    if vacuity != z3.sat:
        return Unknown(f"z3 could not decide the hypotheses ({solver.reason_unknown()})")
    solver.add(z3.Not(claim))
    answer = solver.check()
    if answer == z3.unsat:
        return Proved()
    if answer == z3.sat:
        model = solver.model() if minimize is None else _least(hypotheses, claim, minimize)
        values = tuple(sorted((str(d.name()), str(model[d])) for d in model.decls()))
        return Counterexample(values)
    return Unknown(f"z3 returned unknown ({solver.reason_unknown()})")
