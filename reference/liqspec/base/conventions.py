"""Number model and rounding helpers (spec/01-conventions.md).

Every quantity in the engine is a Python ``int`` counted in a declared base unit: price ticks,
lots, settlement quantums. Rates are exact rationals (:class:`Ratio`). Every division that can
leave a remainder goes through one of the named helpers below, each with one documented
direction; the table of where each rounding happens and why is CONV-7, and CONV-8 forbids
any other rounding. The helpers also accept symbolic terms (z3 expressions) once a symbolic
backend is installed by the proofs package; the engine itself never imports z3.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction
from math import gcd, isqrt
from typing import Any, Protocol, cast

from attrs import frozen

from liqspec.base.errors import InputError, Reason

__all__ = [
    "Ratio",
    "SymbolicBackend",
    "TomlInteger",
    "decimal_text",
    "div_ceil",
    "div_floor",
    "install_symbolic_backend",
    "isqrt_ceil",
    "ite",
    "last_true",
    "last_true_near",
    "parse_decimal",
    "parse_rate",
    "parse_ratio",
    "ratio_from_leverage",
    "ratio_text",
    "smax",
    "smin",
    "to_units",
]


# --- symbolic dispatch -------------------------------------------------------------------------


class SymbolicBackend(Protocol):
    """What the proofs package supplies so that formulas can run on solver terms (CONV-9)."""

    def ite(self, cond: Any, then: Any, other: Any) -> Any:
        """Return a term equal to ``then`` when ``cond`` holds, else ``other``."""

    def div_floor(self, num: Any, den: Any) -> Any:
        """Return a term constrained to the floor of ``num / den`` (``den`` > 0)."""

    def div_ceil(self, num: Any, den: Any) -> Any:
        """Return a term constrained to the ceiling of ``num / den`` (``den`` > 0)."""


_backend: SymbolicBackend | None = None


def install_symbolic_backend(backend: SymbolicBackend | None) -> None:
    """Install (or with ``None`` remove) the backend used for non-integer operands."""
    global _backend  # noqa: PLW0603 - a single process-wide hook, set only by the proofs package
    _backend = backend


def _symbolic() -> SymbolicBackend:
    if _backend is None:
        message = "a non-integer operand reached a rounding helper and no symbolic backend is set"
        raise TypeError(message)
    return _backend


def _concrete(num: object, den: object) -> bool:
    return isinstance(num, int) and isinstance(den, int)


def ite(cond: bool, then: int, other: int) -> int:
    """Return ``then`` if ``cond`` else ``other``; works on solver terms too (CONV-9).

    >>> ite(3 > 2, 10, 20)
    10
    """
    if isinstance(cond, bool):
        return then if cond else other
    return cast("int", _symbolic().ite(cond, then, other))  # pragma: no cover - symbolic path


def smax(a: int, b: int) -> int:
    """Return the larger of ``a`` and ``b`` (CONV-9).

    >>> smax(-3, 2)
    2
    """
    return ite(a >= b, a, b)


def smin(a: int, b: int) -> int:
    """Return the smaller of ``a`` and ``b`` (CONV-9).

    >>> smin(-3, 2)
    -3
    """
    return ite(a <= b, a, b)


# --- rounding ----------------------------------------------------------------------------------


def div_floor(num: int, den: int) -> int:
    """Divide rounding toward minus infinity (CONV-5). ``den`` must be positive.

    pre: den > 0
    post: __return__ * den <= num < (__return__ + 1) * den

    >>> div_floor(7, 2), div_floor(-7, 2), div_floor(6, 3)
    (3, -4, 2)
    """
    if _concrete(num, den):
        return num // den
    return cast("int", _symbolic().div_floor(num, den))  # pragma: no cover - symbolic path


def div_ceil(num: int, den: int) -> int:
    """Divide rounding toward plus infinity (CONV-6). ``den`` must be positive.

    pre: den > 0
    post: (__return__ - 1) * den < num <= __return__ * den

    >>> div_ceil(7, 2), div_ceil(-7, 2), div_ceil(6, 3)
    (4, -3, 2)
    """
    if _concrete(num, den):
        return -((-num) // den)
    return cast("int", _symbolic().div_ceil(num, den))  # pragma: no cover - symbolic path


def isqrt_ceil(value: int) -> int:
    """Return the least r >= 0 with r x r >= value (CONV-13): a root rounded up.

    Its contract (r >= 0, r x r >= value, (r - 1) x (r - 1) < value) is checked by a
    Hypothesis property: CrossHair does not reason about ``math.isqrt``.

    >>> isqrt_ceil(0), isqrt_ceil(16), isqrt_ceil(17)
    (0, 4, 5)
    """
    root = isqrt(value)
    return root if root * root == value else root + 1


# --- search ------------------------------------------------------------------------------------


def last_true(holds: Callable[[int], bool], inside: int, outside: int) -> int:
    """Bisect from ``inside`` (where ``holds``) toward ``outside`` (where it does not), CONV-14.

    Return the last integer, going from ``inside`` toward ``outside``, at which ``holds`` is
    true. ``holds`` must be monotone between the two (true, then false). The one search of the
    engine: prices on the grid (PRICE-3, LIQ-6) and lot counts (LIQ-4).

    >>> last_true(lambda n: n * n <= 50, 0, 100), last_true(lambda n: n >= 7, 100, 0)
    (7, 7)
    """
    while abs(outside - inside) > 1:
        middle = (inside + outside) // 2
        if holds(middle):
            inside = middle
        else:
            outside = middle
    return inside


def last_true_near(holds: Callable[[int], bool], inside: int, outside: int, guess: int) -> int:
    """Return :func:`last_true`'s result for a *monotone* ``holds``, searching from ``guess``.

    Where ``holds`` is true, then false, from ``inside`` to ``outside``, the boundary is unique
    and any search that finds it gives the walk's result (CONV-14). This one gallops from a
    closed-form guess (1, 2, 4, ... steps) to bracket the boundary, then bisects: a few probes
    when the guess is near, never more than about twice the walk's when it is not.

    >>> last_true_near(lambda n: n * n <= 50, 0, 100, 6)
    7
    >>> last_true_near(lambda n: n >= 7, 100, 0, 90)
    7
    """
    toward = 1 if outside > inside else -1
    if (guess - inside) * toward <= 0 or (outside - guess) * toward <= 0:
        return last_true(holds, inside, outside)
    reach = 1
    if holds(guess):
        inside = guess
        while (outside - inside) * toward > 1:
            probe = inside + toward * min(reach, (outside - inside) * toward - 1)
            if not holds(probe):
                outside = probe
                break
            inside, reach = probe, reach * 2
    else:
        outside = guess
        while (outside - inside) * toward > 1:
            probe = outside - toward * min(reach, (outside - inside) * toward - 1)
            if holds(probe):
                inside = probe
                break
            outside, reach = probe, reach * 2
    return last_true(holds, inside, outside)


# --- rates -------------------------------------------------------------------------------------


@frozen
class Ratio:
    """An exact non-negative rational ``num / den`` in lowest terms: rates and unit sizes (CONV-4).

    >>> Ratio.of(65, 10_000)
    Ratio(num=13, den=2000)
    >>> Ratio.of(13, 2000).apply_up(1_000_001)
    6501
    """

    num: int
    den: int

    @classmethod
    def of(cls, num: int, den: int) -> Ratio:
        """Build a rate in lowest terms; ``den`` must be positive and ``num`` non-negative."""
        if den <= 0 or num < 0:
            message = f"a ratio needs num >= 0 and den > 0, got {num}/{den}"
            raise ValueError(message)
        divisor = gcd(num, den)  # >= 1, as den > 0
        return cls(num // divisor, den // divisor)

    def apply_up(self, amount: int) -> int:
        """Return ``amount * rate`` rounded up (requirements; CONV-6)."""
        return div_ceil(amount * self.num, self.den)

    def __lt__(self, other: Ratio) -> bool:
        return self.num * other.den < other.num * self.den

    def __le__(self, other: Ratio) -> bool:
        return self.num * other.den <= other.num * self.den

    def __str__(self) -> str:
        return decimal_text(self.num, self.den)


# --- decimals at the edges ---------------------------------------------------------------------

MAX_DECIMAL_CHARS = 40
"""Longest decimal text accepted from a file (CONV-2): bounds every magnitude we compute with."""

_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")


class TomlInteger(int):
    """An integer literal of a TOML file, refused where a decimal belongs (CONV-1).

    TOML writes ``+10``, ``1_000`` and ``0x10`` as integers; the parsed value cannot tell.
    """

    __slots__ = ()


def parse_decimal(text: object, field: str) -> tuple[int, int]:
    """Parse exact decimal text (or an int) into ``(num, den)`` with ``den`` a power of ten.

    Floats, exponents, NaN, Infinity and anything but plain decimal notation are rejected
    (CONV-1, CONV-2).

    >>> parse_decimal("0.0065", "mmr")
    (65, 10000)
    >>> parse_decimal(-12, "x")
    (-12, 1)
    """
    if isinstance(text, bool) or not isinstance(text, int | str):
        kind = "a float" if isinstance(text, float) else type(text).__name__
        raise InputError(
            Reason.NOT_A_DECIMAL,
            field,
            text,
            f'expected a decimal string such as "0.1", got {kind}',
        )
    if isinstance(text, TomlInteger):
        detail = (
            'write decimals as strings in TOML (e.g. "10000000"): an integer literal may '
            "carry a sign, separators or a base prefix"
        )
        raise InputError(Reason.NOT_A_DECIMAL, field, int(text), detail)
    if isinstance(text, int):
        text = str(text)
    if len(text) > MAX_DECIMAL_CHARS:
        raise InputError(
            Reason.MAGNITUDE,
            field,
            text[:20] + "...",
            f"decimal text longer than {MAX_DECIMAL_CHARS} characters",
        )
    if not _DECIMAL.fullmatch(text):
        raise InputError(
            Reason.NOT_A_DECIMAL,
            field,
            text,
            "expected plain decimal notation: digits, an optional '-' and '.', no exponent",
        )
    whole, _, fraction = text.partition(".")
    den = 10 ** len(fraction)
    return int(whole + fraction), den


def decimal_text(num: int, den: int) -> str:
    """Render ``num / den`` exactly as decimal text; ``den`` must divide a power of ten.

    >>> decimal_text(65, 10_000), decimal_text(-5, 2), decimal_text(120, 1), decimal_text(2, 6)
    ('0.0065', '-2.5', '120', '1/3')
    """
    scale, digits = 1, 0
    while (scale * num) % den and digits < 40:
        scale, digits = scale * 10, digits + 1
    if (scale * num) % den:
        divisor = gcd(num, den)
        return f"{num // divisor}/{den // divisor}"
    value = scale * num // den
    sign, value = ("-" if value < 0 else ""), abs(value)
    if digits == 0:
        return f"{sign}{value}"
    whole, fraction = divmod(value, 10**digits)
    return f"{sign}{whole}.{fraction:0{digits}d}".rstrip("0").rstrip(".")


def ratio_text(value: Fraction) -> str:
    """Render an exact ratio as output text: decimal when it terminates, else ``n/d`` (OUT-14).

    >>> ratio_text(Fraction(1, 10_000)), ratio_text(Fraction(-17, 240)), ratio_text(Fraction(3))
    ('0.0001', '-17/240', '3')
    """
    return decimal_text(value.numerator, value.denominator)


def to_units(text: object, unit: Ratio, field: str, unit_name: str) -> int:
    """Convert decimal text to an exact whole number of ``unit`` (CONV-3).

    A value that is not a whole multiple of the unit is rejected: sizes off the lot and prices
    off the tick never get silently rounded.

    >>> to_units("60000.5", Ratio(1, 10), "entry_price", "price tick")
    600005
    """
    num, den = parse_decimal(text, field)
    unit_num, unit_den = unit.num, unit.den
    scaled_num, scaled_den = num * unit_den, den * unit_num
    if scaled_num % scaled_den:
        raise InputError(
            Reason.OFF_GRID,
            field,
            text,
            f"must be a whole multiple of the {unit_name} {decimal_text(unit_num, unit_den)}",
        )
    return scaled_num // scaled_den


def parse_ratio(text: object, field: str) -> Ratio:
    """Parse a non-negative decimal such as ``"0.005"`` into an exact ratio (CONV-4).

    >>> parse_ratio("0.005", "mmr")
    Ratio(num=1, den=200)
    """
    num, den = parse_decimal(text, field)
    if num < 0:
        raise InputError(Reason.OUT_OF_RANGE, field, text, "must not be negative")
    return Ratio.of(num, den)


_FRACTION = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")


def parse_rate(text: object, field: str) -> Ratio:
    """Parse a rate written as a decimal, or exactly as a fraction ``"n/d"`` (CONV-4).

    A fraction is two positive integers without signs or leading zeros, at most
    :data:`MAX_DECIMAL_CHARS` characters in all: a rate such as 1/6 has no finite decimal.

    >>> parse_rate("1/6", "mmr"), parse_rate("2/8", "mmr"), parse_rate("0.005", "mmr")
    (Ratio(num=1, den=6), Ratio(num=1, den=4), Ratio(num=1, den=200))
    """
    if isinstance(text, str) and "/" in text:
        found = _FRACTION.fullmatch(text)
        if found is None or len(text) > MAX_DECIMAL_CHARS:
            detail = "a fraction is n/d: two positive integers, no sign, no leading zero"
            raise InputError(Reason.NOT_A_DECIMAL, field, text, detail)
        return Ratio.of(int(found[1]), int(found[2]))
    return parse_ratio(text, field)


def ratio_from_leverage(text: object, field: str) -> Ratio:
    """Turn a maximum leverage such as ``"125"`` into its initial margin rate ``1/125``.

    >>> ratio_from_leverage("125", "max_leverage")
    Ratio(num=1, den=125)
    """
    num, den = parse_decimal(text, field)
    if num < den:
        raise InputError(Reason.OUT_OF_RANGE, field, text, "a leverage must be at least 1")
    return Ratio.of(den, num)
