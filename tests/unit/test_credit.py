"""The stored credit (pure): which touch a lead or call is credited to, its label, DNI
eligibility, and why a conversion scored, rule by rule."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from leadtrail.attribution.channels import channel
from leadtrail.attribution.credit import credit_of, label, pick
from leadtrail.dni.eligibility import landing, wants_number
from leadtrail.scoring import explain, score_event

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def touch(days_ago: float, **columns: Any) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "created_month": date(2026, 2, 1),
        "created_at": NOW - timedelta(days=days_ago),
        **columns,
    }


def test_last_non_direct_skips_the_direct_return_visit() -> None:
    ad = touch(2, gclid="Cj0-ad", utm_source="google", utm_medium="cpc", utm_campaign="spring")
    back = touch(0.01)
    credited = credit_of("last_non_direct", pick("last_non_direct", [ad, back], NOW, 7))
    assert credited.session_id == ad["id"] and credited.gclid == "Cj0-ad"
    assert credited.channel == "Paid Search" and credited.campaign == "spring"
    assert label("Organic", False, credited, back["id"]) == "Return Visitor (Ads Assisted)"
    assert label("Organic", True, credited, back["id"]) == "First Click (Paid)"


def test_ties_go_to_the_latest_touch_and_no_touch_gives_no_credit() -> None:
    first, second = touch(3, utm_medium="email"), touch(1, utm_medium="email")
    assert pick("linear", [first, second], NOW, 7) is second
    assert credit_of("linear", None).session_id is None


def test_every_click_id_is_kept() -> None:
    t = touch(1, msclkid="ms-1", ttclid="tt-1", li_fat_id="li-1")
    ids = credit_of("last_touch", t).click_ids
    assert {k: v for k, v in ids.items() if v} == {
        "msclkid": "ms-1",
        "ttclid": "tt-1",
        "li_fat_id": "li-1",
    }


def test_dni_sources() -> None:
    paid = landing("https://shop.example/?gclid=abc", None, "shop.example")
    organic = landing("https://shop.example/", "https://www.google.com/", "shop.example")
    assert channel(paid) == "Paid Search" and channel(organic) == "Organic Search"
    assert wants_number("Paid Search", ("paid",)) and not wants_number("Organic Search", ("paid",))
    assert wants_number("Organic Search", ("all",)) and wants_number("Email", ("Email",))


def test_explain_adds_up_to_the_score() -> None:
    for category, action, value, google, returning in [
        ("conversion", "phone_call", None, True, True),
        ("interaction", "scroll_depth", 95, False, True),
        ("interaction", "hover_intent", None, True, False),
        ("acquisition", "view", None, False, False),
    ]:
        rules = explain(
            category, action, value, google_referrer=google, returning_ad_user=returning
        )
        total = min(sum(p for _, p in rules), 100)
        assert total == score_event(
            category, action, value, google_referrer=google, returning_ad_user=returning
        )
    assert explain("conversion", "call", None, google_referrer=False, returning_ad_user=True) == [
        ("conversion", 50),
        ("returning_ad_user", 25),
    ]
