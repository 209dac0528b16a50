"""The violation catalogue of an audit (spec/16-audit.md#AUDIT-5).

Each class has a stable id, a severity, the rule the venue's action broke and the invariant
of the catalogue (spec/invariants.md) that the rule protects.
"""

from __future__ import annotations

import enum

__all__ = ["Severity", "Violation"]


class Severity(enum.Enum):
    """How a finding counts: an error fails the audit (exit 1); a warning is reported only."""

    ERROR = "error"
    WARNING = "warning"


class Violation(enum.Enum):
    """A class of finding: ``(id, severity, rule, invariant)``."""

    CONTINUITY = ("continuity", Severity.ERROR, "AUDIT-3", "INV-CONSERVE-CLOSE")
    PREMATURE = ("premature-liquidation", Severity.ERROR, "LIQ-1", "INV-TRIGGER")
    MISSED = ("missed-liquidation", Severity.ERROR, "LIQ-3", "INV-TRIGGER")
    BEYOND_QUOTE = ("beyond-bankruptcy-quote", Severity.ERROR, "LIQ-6", "INV-RATIO")
    OUTSIDE_BAND = ("outside-band", Severity.ERROR, "BRK-2", "INV-BAND")
    FEE_ABOVE_SURPLUS = ("fee-above-surplus", Severity.ERROR, "LIQ-8", "INV-FEE")
    FEE_ABOVE_RATE = ("fee-above-rate", Severity.ERROR, "LIQ-8", "INV-FEE")
    TAKEOVER_PRICE = ("takeover-price", Severity.WARNING, "LIQ-9", "INV-RATIO")
    FUND_BALANCE = ("fund-balance", Severity.ERROR, "INS-1", "INV-FUND")
    FUND_NEGATIVE = ("fund-negative", Severity.ERROR, "INS-2", "INV-FUND")
    FUND_DELTA = ("fund-delta", Severity.ERROR, "INS-2", "INV-DEFICIT-CONSERVE")
    ADL_EARLY = ("adl-before-fund-exhausted", Severity.ERROR, "INS-3", "INV-ADL-EXACT")
    ADL_ORDER = ("adl-out-of-order", Severity.ERROR, "INS-4", "INV-ADL-EXACT")
    ADL_TOTAL = ("adl-total", Severity.ERROR, "INS-4", "INV-ADL-EXACT")
    BAD_DEBT = ("bad-debt", Severity.ERROR, "INS-6", "INV-DEFICIT-CONSERVE")
    ENDED_EARLY = ("ended-early", Severity.WARNING, "LIQ-2", "INV-EXIT")
    NOT_CONSERVED = ("value-not-conserved", Severity.ERROR, "AUDIT-4", "INV-DEFICIT-CONSERVE")
    BEYOND_LIMIT = ("fill-beyond-limit", Severity.ERROR, "LIQ-6", "INV-RATIO")
    BANKRUPT_AT_MARK = ("bankrupt-at-mark", Severity.WARNING, "LIQ-3", "INV-TRIGGER")
    PAIR_MISMATCH = ("pair-mismatch", Severity.ERROR, "AUDIT-10", "INV-CONSERVE-CLOSE")

    @property
    def identifier(self) -> str:
        """The stable kebab-case id of the class."""
        return self.value[0]

    @property
    def severity(self) -> Severity:
        """Whether a finding of the class fails the audit."""
        return self.value[1]

    @property
    def rule(self) -> str:
        """The anchor of the rule the class checks."""
        return self.value[2]

    @property
    def invariant(self) -> str:
        """The invariant of the catalogue the rule protects."""
        return self.value[3]
