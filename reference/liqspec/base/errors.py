"""The one exception hierarchy and the named rejection reasons (spec/01-conventions.md#CONV-10).

Every reason belongs to exactly one normative rule, so an error always names the rule it
enforces. Reasons are stable identifiers: conformance vectors and other implementations
compare them verbatim.
"""

from __future__ import annotations

import enum

__all__ = ["EventRejectedError", "InputError", "LiqspecError", "Reason"]


class Reason(enum.Enum):
    """A named rejection reason: ``(identifier, rule anchor)``."""

    # files and values (spec/01-conventions.md)
    UNREADABLE = ("unreadable", "CONV-11")
    SYNTAX = ("syntax", "CONV-11")
    WRONG_TYPE = ("wrong-type", "CONV-12")
    UNKNOWN_KEY = ("unknown-key", "CONV-12")
    MISSING_KEY = ("missing-key", "CONV-12")
    CONFLICTING_KEYS = ("conflicting-keys", "CONV-12")
    NOT_A_DECIMAL = ("not-a-decimal", "CONV-1")
    MAGNITUDE = ("magnitude", "CONV-2")
    OFF_GRID = ("off-grid", "CONV-3")
    OUT_OF_RANGE = ("out-of-range", "CONV-12")
    # market parameters (spec/02-markets.md)
    NOT_POSITIVE = ("not-positive", "MARKET-2")
    UNITS_NOT_COMMENSURATE = ("units-not-commensurate", "MARKET-3")
    OPTION_NOT_SUPPORTED = ("option-not-supported", "MARKET-4")
    NO_TIERS = ("no-tiers", "MARKET-5")
    TIERS_NOT_CONTIGUOUS = ("tiers-not-contiguous", "MARKET-6")
    MMR_RANGE = ("mmr-range", "MARKET-7")
    IMR_NOT_ABOVE_MMR = ("imr-not-above-mmr", "MARKET-8")
    RATES_DECREASING = ("rates-decreasing", "MARKET-9")
    MAINTENANCE_AMOUNT = ("maintenance-amount", "MARKET-10")
    DUPLICATE_MARKET = ("duplicate-market", "MARKET-11")
    LIQUIDATION_PARAMS = ("liquidation-params", "MARKET-12")
    MARK_PARAMS = ("mark-params", "MARKET-13")
    BREAKER_PARAMS = ("breaker-params", "MARKET-14")
    RISK_PARAMS = ("risk-params", "MARKET-15")
    # accounts (spec/03-accounts.md)
    UNKNOWN_MARKET = ("unknown-market", "ACCOUNT-2")
    DUPLICATE_POSITION = ("duplicate-position", "ACCOUNT-3")
    CROSS_INCOMPATIBLE = ("cross-incompatible", "ACCOUNT-4")
    MISSING_MARK = ("missing-mark", "ACCOUNT-5")
    ISOLATED_MARGIN = ("isolated-margin", "ACCOUNT-6")
    # the state and scenario files (spec/06-state.md, spec/08-insurance.md)
    NEGATIVE_BALANCE = ("negative-balance", "STATE-1")
    DUPLICATE_ACCOUNT = ("duplicate-account", "STATE-10")
    UNKNOWN_ASSET = ("unknown-asset", "STATE-10")
    UNKNOWN_FUND = ("unknown-fund", "INS-1")
    # events (spec/06-state.md)
    UNKNOWN_ACCOUNT = ("unknown-account", "STATE-4")
    NOT_POSITIVE_AMOUNT = ("not-positive-amount", "STATE-4")
    INSUFFICIENT_MARGIN = ("insufficient-margin", "STATE-5")
    MARGIN_MODE = ("margin-mode", "STATE-11")
    PRICE_OUT_OF_DOMAIN = ("price-out-of-domain", "STATE-3")
    BAD_BOOK = ("bad-book", "STATE-2")
    TIME_BACKWARDS = ("time-backwards", "STATE-7")
    MARK_DERIVED = ("mark-derived", "MARK-1")
    OUTSIDE_BAND = ("outside-band", "BRK-1")
    HALTED = ("halted", "BRK-3")
    WITHDRAWALS_BLOCKED = ("withdrawals-blocked", "BRK-5")
    INVALID_PARAMETERS = ("invalid-parameters", "RISK-5")
    # conformance (spec/13-conformance.md)
    NOT_INLINE = ("not-inline", "VEC-3")
    DUPLICATE_ID = ("duplicate-id", "VEC-2")
    # stress tests (spec/15-stress.md)
    EXECUTOR = ("executor", "STRESS-7")
    COMPARE_INCOMPATIBLE = ("compare-incompatible", "STRESS-8")

    @property
    def identifier(self) -> str:
        """The stable kebab-case name of the reason."""
        return self.value[0]

    @property
    def rule(self) -> str:
        """The anchor of the rule this reason enforces."""
        return self.value[1]


class LiqspecError(Exception):
    """Base of every error liqspec raises on purpose."""


def _cut(text: str, limit: int) -> str:
    """Shorten ``text`` to at most ``limit`` characters, eliding its middle.

    >>> _cut("abcdefghij", 7)
    'ab...ij'
    """
    if len(text) <= limit:
        return text
    head = (limit - 3) // 2
    return text[:head] + "..." + text[len(text) - (limit - 3 - head) :]


def _printable(text: str) -> str:
    r"""Escape control characters, so that a message stays one line and cannot drive a terminal.

    >>> _printable("BTC\n\x1b[2J")
    'BTC\\n\\x1b[2J'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _shown(value: object) -> str:
    """Render an offending value for a message: its repr, at most 50 characters."""
    text = repr(value) if len(str(value)) <= 1000 else repr(str(value)[:1000])
    return _cut(text, 50)


class InputError(LiqspecError):
    """A file or value broke a rule. Names the field path, the value and the rule."""

    def __init__(
        self,
        reason: Reason,
        field: str,
        value: object,
        detail: str,
        source: str | None = None,
    ) -> None:
        self.reason = reason
        self.field = field
        self.value = value
        self.detail = detail
        self.source = source
        super().__init__(str(self))

    def located(self, source: str) -> InputError:
        """Return the same error attributed to ``source`` (a file name)."""
        return InputError(self.reason, self.field, self.value, self.detail, source)

    def __str__(self) -> str:
        """One line under 300 characters: source, field, value, detail, rule and reason.

        The field, the value and the rule come first in the budget; the source (a path) gets
        what leaves the detail at least 60 characters, the detail the rest.
        """
        field = _cut(_printable(self.field), 60)
        if self.field == "<file>":
            subject = ""
        elif self.value is None:
            subject = f"{field}: "
        else:
            subject = f"{field} = {_shown(self.value)}: "
        tail = f" [{self.reason.rule} {self.reason.identifier}]"
        room = 280 - len(subject) - len(tail)
        where = f"{_cut(_printable(self.source), max(60, room - 60))}: " if self.source else ""
        detail = _printable(" ".join(self.detail.split()))
        return f"{where}{subject}{_cut(detail, max(20, room - len(where)))}{tail}"

    def as_json(self) -> dict[str, str]:
        """Return the error as a JSON-ready mapping."""
        return {
            "source": self.source or "",
            "field": self.field,
            "value": _shown(self.value),
            "detail": _cut(" ".join(self.detail.split()), 200),
            "rule": self.reason.rule,
            "reason": self.reason.identifier,
        }


class EventRejectedError(LiqspecError):
    """The transition function refused an event; the state is unchanged (STATE-8)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{detail} [{reason.rule} {reason.identifier}]")
