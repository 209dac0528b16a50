"""Reading parameter and account files at the boundary (spec/01-conventions.md#CONV-11).

A file is read whole (at most :data:`MAX_FILE_BYTES`), decoded as UTF-8, parsed as TOML or JSON
by its suffix, and checked against a JSON Schema before any rule looks at it. Every failure
becomes an :class:`~liqspec.base.errors.InputError` naming the file, the field path and the rule.
"""

from __future__ import annotations

import json
import tomllib
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from liqspec.base.errors import InputError, Reason

__all__ = [
    "MAX_FILE_BYTES",
    "check_schema",
    "field_path",
    "get_bundled",
    "load_document",
    "schema",
]

MAX_FILE_BYTES = 1 << 20
"""Largest file accepted (1 MiB): far above any real market or account file."""

_DECIMAL_PATTERN = "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$"


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


def load_document(path: Path) -> dict[str, Any]:
    """Read ``path`` as TOML (``.toml``) or JSON (anything else) into a mapping (CONV-11)."""
    where = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(
            Reason.UNREADABLE, "<file>", where, exc.strerror or str(exc), where
        ) from exc
    if len(raw) > MAX_FILE_BYTES:
        detail = f"file is larger than {MAX_FILE_BYTES} bytes"
        raise InputError(Reason.UNREADABLE, "<file>", where, detail, where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"not UTF-8 text (byte {exc.start})"
        raise InputError(Reason.SYNTAX, "<file>", where, detail, where) from exc
    if not text.strip():
        raise InputError(Reason.SYNTAX, "<file>", where, "file is empty", where)
    document = _parse(text, path.suffix.lower() == ".toml", where)
    if not isinstance(document, dict):
        detail = f"top level must be a table/object, got {type(document).__name__}"
        raise InputError(Reason.WRONG_TYPE, "<root>", where, detail, where)
    return document


def _parse(text: str, is_toml: bool, where: str) -> object:
    try:
        if is_toml:
            return tomllib.loads(text)
        return json.loads(text, parse_constant=_reject_constant)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InputError(Reason.SYNTAX, "<file>", where, str(exc), where) from exc
    except RecursionError as exc:
        raise InputError(Reason.SYNTAX, "<file>", where, "nesting too deep", where) from exc
    except ValueError as exc:  # e.g. an integer literal with thousands of digits
        raise InputError(Reason.MAGNITUDE, "<file>", where, str(exc), where) from exc


def _reject_constant(name: str) -> object:
    detail = f"{name} is not a number liqspec accepts"
    raise InputError(Reason.NOT_A_DECIMAL, "<file>", name, detail)


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


def check_schema(document: dict[str, Any], name: str) -> None:
    """Check ``document`` against schema ``name``; raise the first violation (CONV-12)."""
    validator = jsonschema.Draft202012Validator(schema(name))
    errors = sorted(
        validator.iter_errors(document),
        key=lambda e: ([str(p) for p in e.absolute_path], str(e.validator)),
    )
    if errors:
        raise _as_input_error(errors[0])


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
    "minItems": Reason.OUT_OF_RANGE,
}


def _classify(error: jsonschema.ValidationError) -> tuple[Reason, str]:
    if isinstance(error.instance, float):
        return Reason.NOT_A_DECIMAL, (
            'floats are not accepted (0.1 is not exactly 0.1); write a string such as "0.1"'
        )
    if error.validator == "pattern" and error.validator_value == _DECIMAL_PATTERN:
        return Reason.NOT_A_DECIMAL, (
            "expected plain decimal notation: digits, an optional '-' and '.', no exponent"
        )
    return _REASON_BY_KEYWORD.get(str(error.validator), Reason.WRONG_TYPE), str(error.message)
