"""A z3 backend for the engine's arithmetic helpers (spec/01-conventions.md#CONV-9).

Installed with :func:`symbolic_backend`, it lets the engine's own formula functions run on z3
integer terms: ``ite`` becomes ``If``, and the two roundings become z3 integer division, which
for a positive divisor is exactly floor division (SMT-LIB ``div``). The proofs therefore
reason about the reference's formulas, not about a second copy of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import z3

from liqspec.base.conventions import install_symbolic_backend

__all__ = ["Z3Integers", "symbolic_backend"]


class Z3Integers:
    """Exact integer semantics over z3 ``Int`` terms; divisors must be positive."""

    def ite(self, cond: Any, then: Any, other: Any) -> Any:
        """Return ``If(cond, then, other)``."""
        return z3.If(cond, then, other)

    def div_floor(self, num: Any, den: Any) -> Any:
        """Return floor(num / den): z3's integer division for den > 0."""
        return num / den

    def div_ceil(self, num: Any, den: Any) -> Any:
        """Return ceil(num / den) = -floor(-num / den)."""
        return -((-num) / den)


@contextmanager
def symbolic_backend() -> Iterator[Z3Integers]:
    """Install the z3 backend for the duration of a ``with`` block."""
    backend = Z3Integers()
    install_symbolic_backend(backend)
    try:
        yield backend
    finally:
        install_symbolic_backend(None)
