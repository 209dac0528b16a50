"""The reference adapter with one engine defect that only scenarios reach.

The LIQ-3 queue is ordered by equity instead of equity / maintenance (ties still by id): the
account with the most negative equity gets its step first, not the one most underwater
relative to its requirement. No single-account case and no margin query can see it; it takes
two accounts in liquidation after the same event. The queue is replaced where
``process_liquidations`` looks it up, when the adapter runs (as ``faulty.py`` does).

Usage: python scenario_bug.py (speaks the protocol on stdin and stdout, like the reference).
"""

from __future__ import annotations

import sys

import attrs

from liqspec.conformance.adapter import serve
from liqspec.engine import liquidation
from liqspec.engine.queue import is_in_liquidation
from liqspec.engine.state import State, get_unit
from liqspec.model.margin import get_equity


def queue_by_equity(state: State) -> list[str]:
    """The defect: accounts in liquidation sorted by equity, not by E/MM (LIQ-3)."""
    queue = []
    for account in state.accounts.values():
        if not account.positions:
            continue
        unit = get_unit(state, account)
        if is_in_liquidation(unit, account):
            queue.append((get_equity(unit), account.id))
    return [account_id for _, account_id in sorted(queue)]


def indexed_queue_by_equity(state: State) -> tuple[list[str], State]:
    """The defect in place of the engine's indexed queue (no index: every account, each time)."""
    return queue_by_equity(state), attrs.evolve(state, changed=())


def patch_engine() -> None:
    """Install the defect where ``process_liquidations`` looks the queue up."""
    vars(liquidation)["get_indexed_queue"] = indexed_queue_by_equity  # the name it calls


def main() -> None:
    """Serve the protocol with the defect installed.

    Only when run: pytest imports this file for its doctests, and the tests' own engine must
    stay the reference.
    """
    patch_engine()
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
