"""Integrity of an audit log: the hash chain and Merkle trees of lines (spec/16-audit.md#AUDIT-6).

The chain commits to the whole log in order. The Merkle trees (RFC 6962), one per batch of
lines, let a finding carry an inclusion proof: a third party holding only the finding's line,
the proof and the batch's published root can check that the line is in the committed log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from attrs import frozen

__all__ = [
    "GENESIS",
    "Batch",
    "MerkleBatches",
    "Proof",
    "get_inclusion_proof",
    "get_leaf_hash",
    "get_line_digest",
    "get_normalised_text",
    "get_root",
    "is_included",
    "is_proved",
]

GENESIS = "0" * 64
"""The hash chain's value before the first line."""


def get_normalised_text(line: dict[str, Any]) -> bytes:
    r"""Return a line's normalised text: sorted keys, no whitespace, UTF-8 (AUDIT-6).

    >>> get_normalised_text({"b": "1", "a": ["é"]})
    b'{"a":["\xc3\xa9"],"b":"1"}'
    """
    text = json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def get_line_digest(previous: str, text: bytes) -> str:
    """Return the chain's next value: SHA-256 of the previous value and the normalised line.

    >>> expected = hashlib.sha256(bytes(32) + b'{"a":[]}').hexdigest()
    >>> get_line_digest(GENESIS, b'{"a":[]}') == expected
    True
    """
    return hashlib.sha256(bytes.fromhex(previous) + text).hexdigest()


def get_leaf_hash(data: bytes) -> bytes:
    """Return RFC 6962's leaf hash, SHA-256(0x00 || data).

    >>> get_leaf_hash(b"").hex()[:16]  # RFC 6962's tree of one empty leaf
    '6e340b9cffb37a98'
    """
    return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(size: int) -> int:
    """Return the largest power of two below ``size`` (``size`` > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def get_root(leaves: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash of the leaf hashes ``leaves`` (RFC 6962, section 2.1)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(get_root(leaves[:k]), get_root(leaves[k:]))


def get_inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """Return the audit path of leaf ``index`` among ``leaves`` (RFC 6962, section 2.1.1)."""
    if len(leaves) <= 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*get_inclusion_proof(leaves[:k], index), get_root(leaves[k:])]
    return [*get_inclusion_proof(leaves[k:], index - k), get_root(leaves[:k])]


def is_included(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Return whether ``proof`` puts leaf hash ``leaf`` at ``index`` under ``root``.

    The tree has ``size`` leaves; the check is RFC 9162's, section 2.1.3.2.
    """
    if not 0 <= index < size:
        return False
    fn, sn, hashed = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            hashed = _node(sibling, hashed)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            hashed = _node(hashed, sibling)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hashed == root


@frozen
class Proof:
    """A line's inclusion proof: its batch, its place there, the path and the batch's root."""

    batch: int
    index: int
    size: int
    path: tuple[str, ...]
    root: str
    leaf: str
    """The line's normalised text, which the leaf hash is taken of."""


@frozen
class Batch:
    """One batch's Merkle root: its first line's number, its number of lines and its root."""

    first_line: int
    lines: int
    root: str


class MerkleBatches:
    """Cuts the lines into batches of ``size`` and proves the lines asked for (AUDIT-6)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.leaves: list[bytes] = []
        self.numbers: list[int] = []
        self.kept: dict[int, bytes] = {}
        self.batches: list[Batch] = []

    def add(self, number: int, text: bytes) -> None:
        """Add line ``number``, whose normalised text is ``text``."""
        self.leaves.append(get_leaf_hash(text))
        self.numbers.append(number)
        self.last = text

    def keep(self, number: int) -> None:
        """Ask for the proof of line ``number``, the line added last."""
        self.kept[number] = self.last

    def is_full(self) -> bool:
        """Return whether the open batch has ``size`` lines."""
        return len(self.leaves) >= self.size

    def close(self) -> dict[int, Proof]:
        """Close the open batch; return the proofs of its kept lines, by line number."""
        if not self.leaves:
            return {}
        root = get_root(self.leaves)
        place = {number: i for i, number in enumerate(self.numbers)}
        proofs = {
            number: Proof(
                batch=len(self.batches),
                index=place[number],
                size=len(self.leaves),
                path=tuple(h.hex() for h in get_inclusion_proof(self.leaves, place[number])),
                root=root.hex(),
                leaf=text.decode("utf-8"),
            )
            for number, text in self.kept.items()
        }
        self.batches.append(Batch(self.numbers[0], len(self.leaves), root.hex()))
        self.leaves, self.numbers, self.kept = [], [], {}
        return proofs


def is_proved(proof: Proof, root: str | None = None) -> bool:
    """Return whether ``proof`` shows its leaf in a batch whose root is ``root``.

    By default the root is the proof's own, which must then be compared with the published one.
    """
    try:
        path = [bytes.fromhex(h) for h in proof.path]
        expected = bytes.fromhex(root if root is not None else proof.root)
    except ValueError:
        return False
    leaf = get_leaf_hash(proof.leaf.encode("utf-8"))
    return is_included(leaf, proof.index, proof.size, path, expected)
