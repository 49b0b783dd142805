"""Hypothesis strategies for what a hostile client puts in a URL: periods of every shape (months 00 to 99,
years 0000 to 9999, ranges in any order and of any span) and ids of any size, negative ones included."""

from __future__ import annotations

from hypothesis import strategies as st

MONTHS = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(0, 9999), st.integers(0, 99))
PERIODS = (
    MONTHS
    | st.builds(lambda a, b: f"{a}..{b}", MONTHS, MONTHS)
    | st.builds(
        lambda y, part: f"{y:04d}-{part}",
        st.integers(0, 9999),
        st.sampled_from(["Q0", "Q3", "Q9", "H1", "H3", "q2"]),
    )
    | st.text(alphabet="0123456789-.QHytd ", max_size=20)
)
IDS = st.integers(-(2**70), 2**70) | st.integers(-3, 10)
