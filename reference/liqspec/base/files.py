"""Reading parameter and account files at the boundary (spec/01-conventions.md#CONV-11).

A file is read whole (at most :data:`MAX_FILE_BYTES`), decoded as UTF-8, parsed as TOML or JSON
by its suffix, and checked against a JSON Schema before any rule looks at it. Every failure
becomes an :class:`~liqspec.base.errors.InputError` naming the file, the field path and the rule.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import fastjsonschema
import jsonschema
from attrs import frozen

from liqspec.base.conventions import MAX_DECIMAL_CHARS, TomlInteger
from liqspec.base.errors import InputError, Reason

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "check_literals",
    "check_schema",
    "field_path",
    "get_bundled",
    "load_document",
    "open_regular_file",
    "read_csv",
    "read_json_lines",
    "read_regular_file",
    "schema",
]

MAX_FILE_BYTES = 1 << 20
"""Largest file accepted (1 MiB): far above any real market or account file."""

MAX_DEPTH = 16
"""Deepest nesting of a document (a scenario's book levels sit at depth 5)."""

_DECIMAL_PATTERN = "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$"
_RATE_PATTERN = "^(-?(0|[1-9][0-9]*)(\\.[0-9]+)?|[1-9][0-9]*/[1-9][0-9]*)$"


def get_bundled(*parts: str) -> Path:
    """Return a file or folder of the specification shipped with the package.

    ``spec/`` is installed as the package ``liqspec.bundled`` (markets, accounts, scenarios,
    vectors, protocol schemas), so the defaults of the commands work from any folder.

    >>> get_bundled("vectors").is_dir(), get_bundled("markets", "bitmex-xbtusd-step.toml").name
    (True, 'bitmex-xbtusd-step.toml')
    """
    root = resources.files("liqspec.bundled")
    if not isinstance(root, Path):  # a zipped install: the data has no folder to walk
        detail = "the bundled specification must be installed on a file system"
        raise InputError(Reason.UNREADABLE, "<bundled>", str(root), detail)
    return root.joinpath(*parts)


def load_document(
    path: str | os.PathLike[str], *, limit: int = MAX_FILE_BYTES, toml: bool | None = None
) -> dict[str, Any]:
    """Read ``path`` as TOML (``.toml``) or JSON (anything else) into a mapping (CONV-11).

    Only a regular file is opened for reading (a FIFO, a device or a folder is refused before
    any read, so nothing blocks), at most :data:`MAX_FILE_BYTES` bytes. The literals are then
    checked before any schema (CONV-1, CONV-2, CONV-11): no duplicate keys, no NaN, Infinity
    or float, no oversized integer, no TOML integer where a decimal belongs, bounded nesting.
    """
    path = Path(path)
    where = str(path)
    text = _decoded(read_regular_file(path, limit), "<file>", where)
    if not text.strip():
        raise InputError(Reason.SYNTAX, "<file>", None, "file is empty", where)
    is_toml = path.suffix.lower() == ".toml" if toml is None else toml
    document = _parse_object(text, is_toml=is_toml, where=where, field="<root>",
                             what="top level must be a table/object")  # fmt: skip
    return _mark_toml_integers(document) if is_toml else document


def _parse_object(text: str, *, is_toml: bool, where: str, field: str, what: str) -> dict[str, Any]:
    """Parse ``text`` into a mapping whose literals CONV-1, CONV-2 and CONV-11 accept."""
    document = _parse(text, is_toml=is_toml, where=where)
    if not isinstance(document, dict):
        detail = f"{what}, got {type(document).__name__}"
        raise InputError(Reason.WRONG_TYPE, field, None, detail, where)
    try:
        check_literals(document)
    except InputError as error:
        raise error.located(where) from None
    return document


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Return the bytes of a regular file of at most ``limit`` bytes (CONV-11).

    Anything else (missing, a folder, a FIFO, a device, a symlink loop) is refused with
    ``unreadable``; the file is opened without blocking and checked before any read.
    """
    with open_regular_file(path) as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        detail = f"file is larger than {limit} bytes"
        raise InputError(Reason.UNREADABLE, "<file>", None, detail, str(path))
    return raw


MAX_LINE_BYTES = 1 << 20
"""Longest line of a JSON-lines file (1 MiB): far above any event with its records."""


def open_regular_file(path: Path) -> BinaryIO:
    """Open a regular file for reading without blocking, or refuse it (CONV-11).

    Like :func:`read_regular_file`, but the caller reads it, in pieces: a log is streamed.
    """
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputError(Reason.UNREADABLE, "<file>", None, detail, where) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        detail = f"not a regular file ({_file_kind(mode)})"
        raise InputError(Reason.UNREADABLE, "<file>", None, detail, where)
    return os.fdopen(fd, "rb")


def read_json_lines(handle: BinaryIO, where: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number from 1, object) for each non-blank line of a JSON-lines file.

    Each line is checked like a whole JSON file (CONV-1, CONV-2, CONV-11) and must be an
    object; a line longer than :data:`MAX_LINE_BYTES` is refused. Lines are read one at a
    time, so memory stays bounded whatever the file's length.
    """
    for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
        located = f"{where}: line {number}"
        if len(raw) > MAX_LINE_BYTES:
            detail = f"line is longer than {MAX_LINE_BYTES} bytes"
            raise InputError(Reason.UNREADABLE, "<line>", None, detail, located)
        text = _decoded(raw, "<line>", located)
        if not text.strip():
            continue
        yield number, _parse_object(text, is_toml=False, where=located, field="<line>",
                                    what="a line must be an object")  # fmt: skip


def read_csv(
    path: Path, required: Sequence[str], optional: Sequence[str], limit: int
) -> list[tuple[str, dict[str, str]]]:
    """Return the rows of a CSV file (RFC 4180, UTF-8, a header line), each with its place.

    The place is ``line N``, the physical line where the row ends (blank lines and quoted line
    breaks counted). The header must name every ``required`` column, may name ``optional``
    ones, and nothing else, each once; every row has as many fields as the header. Errors
    name the file and the line.
    """
    text = _decoded(read_regular_file(path, limit), "<file>", str(path), "utf-8-sig")
    try:
        return _csv_rows(text, required, optional)
    except InputError as error:
        raise error.located(str(path)) from None


def _csv_rows(
    text: str, required: Sequence[str], optional: Sequence[str]
) -> list[tuple[str, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    unknown = [c for c in header if c not in (*required, *optional)]
    if unknown or missing:
        detail = f"columns {','.join(required)}"
        detail += f", optionally {','.join(optional)}" if optional else ""
        reason = Reason.UNKNOWN_KEY if unknown else Reason.MISSING_KEY
        raise InputError(reason, "line 1", (unknown or missing)[0], detail)
    if len(set(header)) != len(header):
        repeated = next(c for c in header if header.count(c) > 1)
        raise InputError(Reason.SYNTAX, "line 1", repeated, "a column is named once")
    rows: list[tuple[str, dict[str, str]]] = []
    lines = reader.reader  # counts physical lines, blank ones and quoted line breaks included
    try:
        for row in reader:
            where = f"line {lines.line_num}"
            if None in row or None in row.values():
                detail = f"{len(header)} fields, as the header has"
                raise InputError(Reason.SYNTAX, where, None, detail)
            rows.append((where, row))
    except csv.Error as exc:
        raise InputError(Reason.SYNTAX, f"line {lines.line_num}", None, str(exc)) from None
    return rows


def _decoded(raw: bytes, field: str, where: str, encoding: str = "utf-8") -> str:
    """Return ``raw`` as UTF-8 text (``utf-8-sig``: a byte-order mark dropped), or refuse it."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text (byte {exc.start})"
        raise InputError(Reason.SYNTAX, field, None, detail, where) from exc


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a file")


@frozen
class _Refused:
    """A JSON literal refused while parsing; reported with its field path afterwards."""

    text: str
    reason: Reason
    detail: str


_FLOAT_DETAIL = 'floats are not accepted (0.1 is not exactly 0.1); write a string such as "0.1"'


def _parse(text: str, *, is_toml: bool, where: str) -> object:
    try:
        if is_toml:
            return tomllib.loads(text)
        return json.loads(
            text,
            parse_constant=lambda name: _Refused(name, Reason.NOT_A_DECIMAL, "not a number"),
            parse_float=lambda literal: _Refused(literal, Reason.NOT_A_DECIMAL, _FLOAT_DETAIL),
            parse_int=_json_integer,
            object_pairs_hook=_unique_keys,
        )
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InputError(Reason.SYNTAX, "<file>", None, str(exc), where) from None
    except RecursionError:
        detail = f"nested deeper than {MAX_DEPTH} levels"
        raise InputError(Reason.SYNTAX, "<file>", None, detail, where) from None
    except ValueError as exc:  # a TOML integer literal with thousands of digits
        raise InputError(Reason.MAGNITUDE, "<file>", None, str(exc), where) from None
    except InputError as error:
        raise error.located(where) from None


def _json_integer(literal: str) -> int | _Refused:
    if len(literal) > MAX_DECIMAL_CHARS:
        detail = f"decimal text longer than {MAX_DECIMAL_CHARS} characters"
        return _Refused(literal, Reason.MAGNITUDE, detail)
    return int(literal)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            detail = "the same key twice in one object (CONV-11)"
            raise InputError(Reason.SYNTAX, "<key>", key, detail)
        document[key] = value
    return document


def check_literals(document: dict[str, Any]) -> None:
    """Raise for the first literal CONV-1/CONV-2 refuse, naming its field; bound the nesting.

    >>> check_literals({"tiers": [{"cap": "5"}]})
    >>> check_literals({"market": {"max_price": _Refused("NaN", Reason.NOT_A_DECIMAL, "no")}})
    Traceback (most recent call last):
    liqspec.base.errors.InputError: market.max_price = 'NaN': no [CONV-1 not-a-decimal]
    """
    if _is_plain(document):
        return
    stack: list[tuple[tuple[str | int, ...], object]] = [((), document)]
    while stack:
        where, value = stack.pop()
        if len(where) > MAX_DEPTH:
            detail = f"nested deeper than {MAX_DEPTH} levels"
            raise InputError(Reason.SYNTAX, field_path(where), None, detail)
        if isinstance(value, _Refused):
            raise InputError(value.reason, field_path(where), value.text, value.detail)
        if isinstance(value, dict):
            stack.extend(((*where, key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend(((*where, i), item) for i, item in reversed(list(enumerate(value))))


def _is_plain(document: dict[str, Any]) -> bool:
    """Return whether no literal was refused and the nesting is bounded (no paths built)."""
    level: list[object] = [document]
    for _ in range(MAX_DEPTH + 1):
        below: list[object] = []
        for value in level:
            if isinstance(value, dict):
                below.extend(value.values())
            elif isinstance(value, list):
                below.extend(value)
            elif isinstance(value, _Refused):
                return False
        if not below:
            return True
        level = below
    return False


def _mark_toml_integers(document: dict[str, Any]) -> dict[str, Any]:
    """Mark TOML integer literals, but the top-level ``format``, as :class:`TomlInteger`.

    A decimal written as a TOML integer may have carried ``+``, ``_`` or ``0x`` (CONV-1), which
    the parsed value no longer shows: :func:`~liqspec.base.conventions.parse_decimal` refuses
    it where a decimal belongs; anywhere else the schema reports the wrong type.
    """

    def mark(value: object) -> object:
        if type(value) is int:
            return TomlInteger(value)
        if isinstance(value, dict):
            return {key: mark(item) for key, item in value.items()}
        if isinstance(value, list):
            return [mark(item) for item in value]
        return value

    return {key: value if key == "format" else mark(value) for key, value in document.items()}


@cache
def schema(name: str) -> dict[str, Any]:
    """Return the packaged JSON Schema ``name`` (e.g. ``"market"``)."""
    text = resources.files("liqspec").joinpath(f"schemas/{name}.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def field_path(parts: list[str | int] | tuple[str | int, ...]) -> str:
    """Render a document path such as ``tiers[2].mmr``.

    >>> field_path(["tiers", 2, "mmr"])
    'tiers[2].mmr'
    """
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "<root>"


def _whole_string_pattern(
    _validator: object, pattern: str, instance: object, _schema: object
) -> Iterator[jsonschema.ValidationError]:
    r"""``pattern`` as JSON Schema means it: ``$`` is the end of the string (CONV-12).

    Python's ``$`` also matches before a final newline, so ``"BTC\n"`` would pass
    ``^[A-Z]+$``; read as ``\Z``, it does not.
    """
    if isinstance(instance, str) and not re.search(_END.sub(r"\\Z", pattern), instance):
        yield jsonschema.ValidationError(f"does not match {pattern}")


_END = re.compile(r"(?<!\\)\$")

_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"pattern": _whole_string_pattern}
)


_COMPILED = frozenset({"account", "audit-action", "audit-line", "market", "scenario", "vector"})
"""The input schemas, which use only keywords that draft 7 reads as draft 2020-12 does: a
compiled validator (fastjsonschema) accepts a valid document of these quickly."""


@cache
def _compiled(name: str) -> Callable[[Any], Any]:
    formats = {"date": lambda text: _DATES.conforms(text, "date")}
    compiled: Callable[[Any], Any] = fastjsonschema.compile(
        schema(name), formats=formats, use_default=False
    )
    return compiled


def _is_accepted_fast(document: dict[str, Any], name: str) -> bool:
    """Return whether the compiled validator accepts ``document`` (no opinion: False)."""
    if name not in _COMPILED:
        return False
    try:
        _compiled(name)(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


_DATES = jsonschema.FormatChecker(["date"])


def check_schema(document: dict[str, Any], name: str) -> None:
    """Check ``document`` against schema ``name``; raise the first violation (CONV-12).

    Patterns match the whole string and ``format: date`` must be a real date. A valid input
    document is accepted by a compiled validator; only a rejected one is walked by
    ``jsonschema`` to find the first violation in the order CONV-12 fixes.
    """
    if _is_accepted_fast(document, name):
        return
    validator = _Validator(schema(name), format_checker=_DATES)
    errors = sorted(validator.iter_errors(document), key=_error_order)
    if errors:
        raise _as_input_error(errors[0])


_Order = tuple[tuple[tuple[int, int, str], ...], str]


def _error_order(error: jsonschema.ValidationError) -> _Order:
    """Order schema violations by field path, then keyword (CONV-12).

    Paths compare part by part: an index as a number (``tiers[2]`` before ``tiers[10]``), an
    index before a key, keys by code point, a path before its extensions.
    """
    parts = tuple(
        (0, part, "") if isinstance(part, int) else (1, 0, str(part))
        for part in error.absolute_path
    )
    return parts, str(error.validator)


def _as_input_error(error: jsonschema.ValidationError) -> InputError:
    path = list(error.absolute_path)
    field = field_path(path)
    value = error.instance
    kind = error.validator
    schema_node = error.schema
    if kind == "additionalProperties" and isinstance(value, dict):
        properties = schema_node.get("properties", {}) if isinstance(schema_node, dict) else {}
        allowed = set(properties)
        extra = sorted(str(key) for key in value if key not in allowed)
        detail = f"unknown key; allowed keys: {', '.join(sorted(allowed))}"
        return InputError(Reason.UNKNOWN_KEY, field_path([*path, extra[0]]), extra[0], detail)
    if kind == "required":
        missing = str(error.message).split("'")[1]
        return InputError(Reason.MISSING_KEY, field_path([*path, missing]), None, "required key")
    reason, detail = _classify(error)
    return InputError(reason, field, value, detail)


_REASON_BY_KEYWORD = {
    "maxLength": Reason.MAGNITUDE,
    "maxItems": Reason.MAGNITUDE,
    "maxProperties": Reason.MAGNITUDE,
    "enum": Reason.OUT_OF_RANGE,
    "const": Reason.OUT_OF_RANGE,
    "pattern": Reason.OUT_OF_RANGE,
    "format": Reason.OUT_OF_RANGE,
    "minItems": Reason.OUT_OF_RANGE,
    "minLength": Reason.OUT_OF_RANGE,
}


def _classify(error: jsonschema.ValidationError) -> tuple[Reason, str]:
    """Name the reason and say what was expected, without repeating the value (CONV-12)."""
    if isinstance(error.instance, float):
        return Reason.NOT_A_DECIMAL, _FLOAT_DETAIL
    if error.validator == "pattern" and error.validator_value == _DECIMAL_PATTERN:
        return Reason.NOT_A_DECIMAL, (
            "expected plain decimal notation: digits, an optional '-' and '.', no exponent"
        )
    if error.validator == "pattern" and error.validator_value == _RATE_PATTERN:
        return Reason.NOT_A_DECIMAL, (
            "expected plain decimal notation, or a fraction n/d of two positive integers"
        )
    keyword, rule = str(error.validator), error.validator_value
    expected = {
        "type": f"must be of type {rule}",
        "maxLength": f"longer than {rule} characters",
        "maxItems": f"more than {rule} items",
        "maxProperties": f"more than {rule} keys",
        "minItems": f"fewer than {rule} items",
        "minLength": f"shorter than {rule} characters",
        "enum": f"must be one of {', '.join(map(str, rule)) if isinstance(rule, list) else rule}",
        "const": f"must be {rule}",
        "pattern": f"must match {rule}",
        "format": f"must be a valid {rule}",
    }
    detail = expected.get(keyword, _cut_message(str(error.message)))
    return _REASON_BY_KEYWORD.get(keyword, Reason.WRONG_TYPE), detail


def _cut_message(message: str) -> str:
    return message if len(message) <= 80 else message[:77] + "..."
