"""Error lines stay one line under 300 characters, whatever the input (CONV-10)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from liqspec.base.errors import InputError, Reason

text = st.text(max_size=2000) | st.builds(
    lambda n, c: c * n, st.integers(0, 10**6), st.text(min_size=1, max_size=1)
)


@given(
    reason=st.sampled_from(Reason),
    field=text,
    value=st.none() | text | st.integers(),
    detail=text,
    source=st.none() | text,
)
def test_an_error_is_one_short_line(
    reason: Reason, field: str, value: object, detail: str, source: str | None
) -> None:
    line = "error: " + str(InputError(reason, field, value, detail, source))
    assert len(line) < 300
    assert line.isprintable()
    assert line.endswith(f"[{reason.rule} {reason.identifier}]")
