"""The adapter protocol's lines (spec/protocol.md): limits, parsing, and showing values.

Both sides use it: the runner reads replies with it, the reference adapter reads requests.
A line is at most :data:`MAX_LINE` bytes, UTF-8, one JSON object nested at most
:data:`MAX_DEPTH` levels, without NaN, huge integers or a key given twice; anything else is a
:class:`LineError` with a named reason.
"""

from __future__ import annotations

import json
import reprlib
import sys
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_LINE", "PROTOCOL", "LineError", "parse_line", "shown"]

PROTOCOL = 1
"""The protocol version spoken (spec/protocol.md)."""

MAX_LINE = 4 << 20
"""Longest line, its newline included (4 MiB); a longer one is a flood, in either direction."""

MAX_DEPTH = 32
"""Deepest nesting of objects and lists in one message (a case nests 8 levels)."""


class LineError(Exception):
    """A line that is not one protocol message; ``reason`` is its errored reason."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


def parse_line(line: bytes) -> dict[str, Any]:
    r"""Parse one protocol line into a message, or raise :class:`LineError` (spec/protocol.md).

    The line is UTF-8 JSON holding one object, nested at most :data:`MAX_DEPTH` levels; NaN,
    Infinity and integers the parser refuses (thousands of digits) are not accepted.

    >>> parse_line(b'{"type": "bye"}\n')
    {'type': 'bye'}
    >>> parse_line(b"[1, 2]")
    Traceback (most recent call last):
    liqspec.conformance.protocol.LineError: a message must be a JSON object, got list
    """
    if len(line) > MAX_LINE:
        raise LineError("line-too-long", f"a line longer than {MAX_LINE} bytes")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise LineError("not-utf-8", f"not UTF-8 text (byte {error.start})") from None
    if not text.strip():
        raise LineError("not-json", "an empty line")
    try:
        message = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique)
    except (json.JSONDecodeError, _NotJsonError) as error:
        raise LineError("not-json", f"not JSON: {error}") from None
    except ValueError:  # an integer literal of thousands of digits
        digits = sys.get_int_max_str_digits()
        raise LineError("number-too-large", f"an integer of more than {digits} digits") from None
    except RecursionError:
        raise LineError("too-deep", f"nested deeper than {MAX_DEPTH} levels") from None
    if _depth(message) > MAX_DEPTH:
        raise LineError("too-deep", f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(message, dict):
        raise LineError("not-an-object", f"a message must be a JSON object, got {_type(message)}")
    return message


class _NotJsonError(ValueError):
    """NaN or Infinity: Python's parser accepts them, JSON does not."""


def _refuse_constant(name: str) -> object:
    raise _NotJsonError(f"{name} is not a JSON number")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build an object, refusing the same key twice (CONV-11: which one would count?)."""
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = next(key for key in keys if keys.count(key) > 1)
        raise _NotJsonError(f"the key {twice[:40]!r} appears twice in one object")
    return dict(pairs)


def _type(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _depth(value: object) -> int:
    """Return how deeply objects and lists nest in ``value``, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = list(node.values()) if isinstance(node, dict) else node
        if isinstance(children, list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


_SHOWN = reprlib.Repr()
_SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlevel = 80, 80, 3
_SHOWN.maxlist = _SHOWN.maxdict = 6


def shown(value: object) -> str:
    """Return a short repr of a value from a reply, bounded in length and depth.

    >>> shown("0.00000001"), shown("x" * 1000)[:12], shown(list(range(1000)))
    ("'0.00000001'", "'xxxxxxxxxxx", '[0, 1, 2, 3, 4, 5, ...]')
    """
    return _SHOWN.repr(value)
