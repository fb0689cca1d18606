"""The seeds' lead-score rules and attribution labels, as tables of cases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtrail.ingest.first_touch import attribution_label
from leadtrail.scoring import ScoringWeights, intelligence_summary, score_event

# (category, action, value, google referrer, returning ad user) -> score
CASES = [
    (("acquisition", "view", None, False, False), 0),
    (("interaction", "page_view", None, False, False), 10),
    (("conversion", "phone_call", None, False, False), 50),
    (("conversion", "form_submit", None, True, False), 55),
    (("interaction", "scroll_depth", 25, False, False), 10),
    (("interaction", "scroll_depth", 49, False, False), 10),
    (("interaction", "scroll_depth", 50, False, False), 20),
    (("interaction", "scroll_depth", 75, False, False), 20),
    (("interaction", "scroll_depth", 90, False, False), 30),
    (("interaction", "scroll_depth", 100, False, False), 30),
    (("interaction", "hover_intent", None, False, False), 25),
    (("acquisition", "view", None, True, False), 5),
    (("acquisition", "view", None, False, True), 25),
    (("interaction", "page_view", None, True, True), 40),
    (("conversion", "phone_call", None, True, True), 80),
    (("conversion", "hover_intent", None, True, True), 95),
    (("conversion", "scroll_depth", 95, True, True), 100),  # 50+20+5+25 = 100
    (("system", "heartbeat", None, False, False), 0),
    (("system", "heartbeat", None, True, True), 30),
]


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_score_event(args: tuple[str, str, float | None, bool, bool], expected: int) -> None:
    category, action, value, google, returning = args
    assert (
        score_event(category, action, value, google_referrer=google, returning_ad_user=returning)
        == expected
    )


def test_cap_at_100() -> None:
    heavy = ScoringWeights(conversion=90, hover_intent=90)
    assert (
        score_event(
            "conversion",
            "hover_intent",
            None,
            google_referrer=True,
            returning_ad_user=True,
            weights=heavy,
        )
        == 100
    )


@given(
    st.sampled_from(["acquisition", "interaction", "conversion", "system"]),
    st.sampled_from(["view", "page_view", "scroll_depth", "hover_intent", "phone_call", "custom"]),
    st.one_of(st.none(), st.floats(-1e6, 1e6)),
    st.booleans(),
    st.booleans(),
)
def test_score_is_always_between_0_and_100(
    category: str, action: str, value: float | None, google: bool, returning: bool
) -> None:
    assert (
        0
        <= score_event(category, action, value, google_referrer=google, returning_ad_user=returning)
        <= 100
    )


def test_site_weights_override_defaults_and_ignore_junk() -> None:
    weights = ScoringWeights.from_settings(
        {"conversion": 70, "interaction": "lots", "unknown": 5, "hover_intent": 500}
    )
    assert weights == ScoringWeights(conversion=70)
    assert ScoringWeights.from_settings(None) == ScoringWeights()
    assert (
        score_event(
            "conversion", "x", None, google_referrer=False, returning_ad_user=False, weights=weights
        )
        == 70
    )


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (0, "Standard Traffic"),
        (30, "Standard Traffic"),
        (60, "Standard Traffic"),
        (61, "🔥 Hot Lead"),
        (80, "🔥 Hot Lead"),
        (81, "💎 Premium Opportunity"),
        (100, "💎 Premium Opportunity"),
    ],
)
def test_intelligence_summary(score: int, tier: str) -> None:
    assert intelligence_summary(score) == tier


@pytest.mark.parametrize(
    ("click_id", "returning", "label"),
    [
        (True, False, "First Click (Paid)"),
        (True, True, "First Click (Paid)"),
        (False, True, "Return Visitor (Ads Assisted)"),
        (False, False, "Organic"),
    ],
)
def test_attribution_label(click_id: bool, returning: bool, label: str) -> None:
    assert attribution_label(has_click_id=click_id, returning_ad_user=returning) == label
