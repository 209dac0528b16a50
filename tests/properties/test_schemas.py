"""The compiled validator never accepts what jsonschema rejects (base/files.py, CONV-12).

``check_schema`` trusts fastjsonschema to accept a valid input document quickly; jsonschema
decides everything else. So the two must agree wherever the fast one says "valid": a property
over broken copies of real documents (a value replaced, a key dropped or added).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from liqspec.base.files import _DATES, _is_accepted_fast, _Validator, load_document, schema
from tests.data import ACCOUNTS, MARKETS, ROOT

DOCUMENTS = {
    "market": [load_document(p) for p in sorted(MARKETS.glob("*.toml"))],
    "account": [load_document(p) for p in sorted(ACCOUNTS.glob("*.toml"))],
    "scenario": [
        json.loads(p.read_text())["input"]["scenario"]
        for p in sorted((ROOT / "spec/vectors/scenario").glob("*.json"))[:40]
    ],
}

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(
        ["", "0", "-1", "1.5", "1e3", "BTC\n", "x" * 40, "2024-02-30", "2024-02-28", "0x10"]
    ),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.text(max_size=3), inner, max_size=2),
    max_leaves=4,
)  # fmt: skip


def _paths(value: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [where]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*where, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*where, i))
    return found


@st.composite
def broken(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    name = draw(st.sampled_from(sorted(DOCUMENTS)))
    document = copy.deepcopy(draw(st.sampled_from(DOCUMENTS[name])))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(_paths(document)[1:]))
        parent = document
        for part in where[:-1]:
            parent = parent[part]
        how = draw(st.sampled_from(["replace", "drop", "add"]))
        if how == "replace" or (how == "drop" and isinstance(parent, list)):
            parent[where[-1]] = draw(_JSON)
        elif how == "drop":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=4))] = draw(_JSON)
    return name, document


def _valid(name: str, document: dict[str, Any]) -> bool:
    validator = _Validator(schema(name), format_checker=_DATES)
    return not any(True for _ in validator.iter_errors(document))


@given(broken())
def test_the_fast_validator_accepts_only_valid_documents(case: tuple[str, dict[str, Any]]) -> None:
    name, document = case
    if _is_accepted_fast(document, name):
        assert _valid(name, document), json.dumps(document)[:300]


def test_both_validators_agree_on_the_bundled_documents() -> None:
    # a few scenario vectors are rejected files: both must say so, the rest both accept
    verdicts = [
        (_is_accepted_fast(document, name), _valid(name, document))
        for name, documents in DOCUMENTS.items()
        for document in documents
    ]
    assert all(fast == slow for fast, slow in verdicts)
    assert sum(slow for _, slow in verdicts) > len(verdicts) // 2
