"""The engine's formulas evaluated on z3 terms agree with the concrete ones (CONV-9)."""

from __future__ import annotations

from typing import Any

import pytest
import z3
from hypothesis import given
from hypothesis import strategies as st

from liqproofs.symbolic import symbolic_backend
from liqspec import Market, TierMode, get_maintenance_for_notional, load_market
from tests.data import MARKETS

CONTINUOUS = [
    load_market(path)
    for path in sorted(MARKETS.glob("*.toml"))
    if load_market(path).tier_mode is TierMode.CONTINUOUS
]


def symbolic_maintenance(market: Market, notional: Any) -> Any:
    with symbolic_backend():
        return get_maintenance_for_notional(market, notional)


@pytest.mark.parametrize("market", CONTINUOUS, ids=lambda m: f"{m.source.venue}-{m.symbol}")
def test_z3_proves_maintenance_monotone_for_bundled_tables(market: Market) -> None:
    """MARGIN-4 for each bundled continuous table: for all N >= 0, MM(N) <= MM(N+1) <= MM(N)+1."""
    n = z3.Int("n")
    here, there = symbolic_maintenance(market, n), symbolic_maintenance(market, n + 1)
    solver = z3.Solver()
    solver.set("rlimit", 5_000_000)
    solver.add(n >= 0)
    assert solver.check() == z3.sat  # the hypothesis is satisfiable: not a vacuous proof
    solver.add(z3.Not(z3.And(here <= there, there <= here + 1)))
    assert solver.check() == z3.unsat


@given(st.sampled_from(CONTINUOUS), st.integers(0, 10**22))
def test_symbolic_and_concrete_maintenance_agree(market: Market, notional: int) -> None:
    term = symbolic_maintenance(market, z3.IntVal(notional))
    assert z3.simplify(term).as_long() == get_maintenance_for_notional(market, notional)
