"""The state's accounts (engine/state.py, AccountMap): read exactly as a copied dict would.

``with_account`` used to copy the accounts dict; an AccountMap shares it. Outputs list
accounts in the map's order and states compare by content, so the map must give the copied
dict's items, in its order, and earlier maps must not change when later ones are made.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from liqspec.engine.state import AccountMap, AccountState

REPLACEMENTS = st.lists(st.tuples(st.integers(0, 300), st.integers(0, 9)), max_size=400)


@given(st.integers(0, 200), REPLACEMENTS)
def test_an_account_map_reads_as_the_copied_dict(
    start: int, replacements: list[tuple[int, int]]
) -> None:
    """Items, order, length, membership and equality after any replacements."""
    base = {f"a{i}": AccountState(f"a{i}", "USDT", 0) for i in range(start)}
    shared, copied = AccountMap(base), dict(base)
    snapshots = []
    for key, balance in replacements:
        account = AccountState(f"a{key}", "USDT", balance)
        snapshots.append((shared, list(copied.items())))
        shared, copied = shared.replaced(account), {**copied, account.id: account}
    assert list(shared.items()) == list(copied.items())
    assert list(shared.values()) == list(copied.values())
    assert len(shared) == len(copied)
    assert shared == copied
    assert "absent" not in shared
    assert shared.get("absent") is None
    for earlier, items in snapshots:
        assert list(earlier.items()) == items
        assert list(earlier.values()) == [account for _, account in items]
