"""Attribution models: every conversion's credit sums to 1 (property tests), and each
model puts it where its definition says."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtrail.attribution.models import MODELS, Touch, credits

START = datetime(2026, 1, 1, tzinfo=UTC)
touch_lists = st.lists(
    st.tuples(
        st.integers(0, 90 * 24 * 60),
        st.sampled_from(["direct", "paid_search", "email", "organic_search"]),
    ),
    min_size=1,
    max_size=40,
).map(lambda items: [Touch(START + timedelta(minutes=m), c) for m, c in sorted(items)])


@given(touches=touch_lists, model=st.sampled_from(MODELS), half_life=st.floats(0.01, 365))
def test_credits_sum_to_one_and_are_never_negative(
    touches: list[Touch], model: str, half_life: float
) -> None:
    converted = touches[-1].at + timedelta(hours=1)
    shares = credits(model, touches, converted, half_life)
    assert len(shares) == len(touches)
    assert all(s >= 0 for s in shares)
    assert sum(shares) == pytest.approx(1.0, abs=1e-9)


@given(touches=touch_lists)
def test_time_decay_never_favours_an_older_touch(touches: list[Touch]) -> None:
    shares = credits("time_decay", touches, touches[-1].at, 7)
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(shares))


def t(day: int, channel: str = "direct") -> Touch:
    return Touch(START + timedelta(days=day), channel)


@pytest.mark.parametrize(
    ("model", "touches", "expected"),
    [
        ("first_touch", [t(0), t(1), t(2)], [1, 0, 0]),
        ("last_touch", [t(0), t(1), t(2)], [0, 0, 1]),
        ("last_non_direct", [t(0, "email"), t(1, "paid_search"), t(2)], [0, 1, 0]),
        ("last_non_direct", [t(0), t(1)], [0, 1]),
        ("linear", [t(0), t(1), t(2), t(3)], [0.25] * 4),
        ("position_based", [t(0), t(1)], [0.5, 0.5]),
        ("position_based", [t(0), t(1), t(2), t(3)], [0.4, 0.1, 0.1, 0.4]),
        ("position_based", [t(0)], [1]),
        # Half-life 7 days: a touch 7 days older than the last gets half its weight.
        ("time_decay", [t(0), t(7)], [1 / 3, 2 / 3]),
    ],
)
def test_models_follow_their_definitions(
    model: str, touches: list[Touch], expected: list[float]
) -> None:
    assert credits(model, touches, touches[-1].at, 7) == pytest.approx(expected)


def test_no_touches_no_credit_and_unknown_model_refused() -> None:
    assert credits("linear", [], START) == []
    with pytest.raises(ValueError):
        credits("magic", [t(0)], START)
