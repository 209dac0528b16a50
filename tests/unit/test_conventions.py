"""The number model at the edges (spec/01-conventions.md)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqspec import InputError, Ratio, Reason
from liqspec.base import conventions
from liqspec.base.conventions import (
    TomlInteger,
    decimal_text,
    div_ceil,
    div_floor,
    isqrt_ceil,
    last_true,
    last_true_near,
    parse_decimal,
    to_units,
)


@given(st.integers(-(10**30), 10**30), st.integers(0, 12))
def test_decimal_text_round_trips(mantissa: int, digits: int) -> None:
    """CONV-1: text -> exact ratio -> text is the identity on canonical decimals."""
    text = decimal_text(mantissa, 10**digits)
    num, den = parse_decimal(text, "x")
    assert num * 10**digits == mantissa * den


@pytest.mark.parametrize(
    "text", ["1e3", "+1", "01", ".5", "5.", "NaN", "inf", "0x10", "1_000", " 1", "\uff11", "1.5.2"]
)
def test_only_plain_decimals_are_accepted(text: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_decimal(text, "field")
    assert caught.value.reason is Reason.NOT_A_DECIMAL


def test_floats_are_rejected_by_name() -> None:
    with pytest.raises(InputError, match="a float"):
        parse_decimal(0.1, "field")


def test_off_grid_values_are_never_rounded() -> None:
    assert to_units("0.3", Ratio.of(1, 10), "p", "tick") == 3
    with pytest.raises(InputError) as caught:
        to_units("0.35", Ratio.of(1, 10), "p", "tick")
    assert caught.value.reason is Reason.OFF_GRID


def test_every_reason_names_one_rule() -> None:
    for reason in Reason:
        prefix, _, number = reason.rule.partition("-")
        rules = {
            "CONV",
            "MARKET",
            "ACCOUNT",
            "STATE",
            "MARK",
            "BRK",
            "RISK",
            "VEC",
            "INS",
            "STRESS",
        }
        assert prefix in rules
        assert number.isdigit()


@given(st.integers(0, 10**40))
def test_isqrt_ceil_is_the_least_root_above(value: int) -> None:
    """CONV-13: the least r >= 0 with r x r >= value."""
    root = isqrt_ceil(value)
    assert root >= 0
    assert root * root >= value
    assert root == 0 or (root - 1) * (root - 1) < value


@given(st.integers(-(10**30), 10**30), st.integers(1, 10**12))
def test_rounding_helpers_land_in_their_intervals(a: int, b: int) -> None:
    """CONV-5, CONV-6, INV-ROUNDING."""
    low, high = div_floor(a, b), div_ceil(a, b)
    assert low * b <= a < (low + 1) * b
    assert (high - 1) * b < a <= high * b


def test_toml_integer_literals_are_refused_with_their_value() -> None:
    """CONV-1: in TOML a decimal is a string; ``+10``, ``1_000`` and ``0x10`` look alike."""
    with pytest.raises(InputError) as caught:
        parse_decimal(TomlInteger(10_000_000), "market.max_price")
    assert (caught.value.reason, caught.value.value) == (Reason.NOT_A_DECIMAL, 10_000_000)


def test_an_overlong_decimal_is_shown_by_its_first_twenty_characters() -> None:
    """CONV-2: the error line stays short; it shows 20 characters and an ellipsis."""
    with pytest.raises(InputError) as caught:
        parse_decimal("12345678901234567890" * 3, "x")
    shown = "12345678901234567890..."
    assert (caught.value.reason, caught.value.value) == (Reason.MAGNITUDE, shown)


@pytest.mark.parametrize(("num", "den"), [(-1, 2), (1, 0), (1, -2)])
def test_a_ratio_is_non_negative_with_a_positive_denominator(num: int, den: int) -> None:
    """CONV-4: rates and unit sizes are non-negative; a denominator is positive."""
    with pytest.raises(ValueError, match="a ratio needs"):
        Ratio.of(num, den)


@given(
    st.integers(-1000, 1000),
    st.integers(1, 2000),
    st.data(),
    st.booleans(),
)
def test_a_guessed_search_finds_the_walks_boundary(
    low: int, width: int, data: st.DataObject, upward: bool
) -> None:
    """CONV-14: on a monotone predicate any guess, in range or not, gives the walk's result.

    Like the walk, the search probes only whole prices strictly between its two ends: outside
    them a predicate need not be monotone (another tier range), or even defined. A guess in
    range costs at most 2 x bit_length(distance + 1) + 1 probes: one at the guess, a gallop
    of doubling steps to bracket the boundary, a bisection of the last step.
    """
    high = low + width
    boundary = data.draw(st.integers(low, high - 1))
    guess = data.draw(st.integers(low - 10, high + 10))
    probed: list[int] = []

    def holds(n: int) -> bool:
        probed.append(n)
        return n <= boundary if upward else n > boundary

    inside, outside = (low, high) if upward else (high, low)
    expected = last_true(holds, inside, outside)
    probed.clear()
    assert last_true_near(holds, inside, outside, guess) == expected
    assert all(type(n) is int and low < n < high for n in probed)
    assert len(probed) <= 2 * width.bit_length() + 2
    if low < guess < high:  # the gallop's promise: a near guess costs a few probes
        assert len(probed) <= 2 * (abs(guess - boundary) + 1).bit_length() + 1


@given(st.integers(0, 10**6), st.integers(1, 10**6), st.integers(0, 10**6), st.integers(1, 10**6))
def test_rates_order_as_the_fractions_they_are(a: int, b: int, c: int, d: int) -> None:
    """CONV-4: comparing two rates is comparing their exact values."""
    left, right = Ratio.of(a, b), Ratio.of(c, d)
    assert (left < right, left <= right) == (Fraction(a, b) < Fraction(c, d),
                                             Fraction(a, b) <= Fraction(c, d))  # fmt: skip


def test_a_non_integer_without_a_symbolic_backend_is_a_type_error(monkeypatch: Any) -> None:
    """CONV-9: only the proofs give the rounding helpers anything but integers."""
    monkeypatch.setattr(conventions, "_backend", None)
    with pytest.raises(TypeError, match="no symbolic backend"):
        div_floor(Fraction(1, 2), 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("upward", [True, False])
def test_a_guess_next_to_an_end_still_gallops(upward: bool) -> None:
    """CONV-14: a guess one step inside the range, right at the boundary, costs 3 probes.

    The plain walk over these 2,000 prices would take 11.
    """
    probed: list[int] = []

    def holds(n: int) -> bool:
        probed.append(n)
        return n <= 1 if upward else n > 1998

    inside, outside, guess = (0, 2000, 1) if upward else (2000, 0, 1999)
    assert last_true_near(holds, inside, outside, guess) == guess
    assert len(probed) <= 3
