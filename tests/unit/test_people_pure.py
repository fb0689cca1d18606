"""Pure helpers of the people features: normalisation, site settings, ad spend rows,
the Google Ads file, the lookalike measure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from leadtrail.adspend.google_ads import OfflineConversion, conversion_name, render
from leadtrail.adspend.rows import read_csv
from leadtrail.errors import BadRequest
from leadtrail.identity import normalize
from leadtrail.identity.similarity import score
from leadtrail.sites.people import PeopleSettings


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (419) 555-0134", None, "+14195550134"),
        ("(419) 555-0134", "US", "+14195550134"),
        ("0555 123 45 67", "TR", "+905551234567"),
        ("+44 20 7946 0958", "US", "+442079460958"),
    ],
)
def test_phones_become_e164(raw: str, region: str | None, expected: str) -> None:
    assert normalize.phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["12", "call me", "(419) 555-0134", "+1 000 000 0000", "9" * 41])
def test_bad_phones_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest) as err:
        normalize.phone(raw, None)
    assert err.value.code == "invalid_phone"


def test_emails_and_external_ids() -> None:
    assert normalize.email("  John.Doe+x@Example.COM ") == "john.doe+x@example.com"
    for bad in ("nope", "a@b", "a b@c.com"):
        with pytest.raises(BadRequest):
            normalize.email(bad)
    assert normalize.external_id(" crm:42 ") == "crm:42"
    with pytest.raises(BadRequest):
        normalize.external_id("has space")


def test_site_settings_defaults_and_bad_values() -> None:
    assert PeopleSettings.from_site({}) == PeopleSettings()
    odd = PeopleSettings.from_site(
        {
            "default_region": "us",
            "currency": "eur",
            "lead_lookback_minutes": "x",
            "call_window_minutes": 10**9,
            "attribution_half_life_days": -1,
        }
    )
    assert odd.default_region == "US" and odd.currency == "EUR"
    assert odd.lead_lookback_minutes == 60 and odd.call_window_minutes == 24 * 60
    assert odd.attribution_half_life_days == 7.0


def test_ad_spend_csv_with_google_ads_headers() -> None:
    rows = read_csv(
        '\ufeffCampaign ID,Campaign,Day,Clicks,Impr.,Cost,Currency code\n111,Spring,2026-01-05,"1,204",50000,"1,033.50",USD\n\n',
        "USD",
    )
    assert [
        (r.campaign_id, r.campaign_name, r.date, r.clicks, r.impressions, r.cost) for r in rows
    ] == [("111", "Spring", date(2026, 1, 5), 1204, 50000, Decimal("1033.5000"))]
    with pytest.raises(BadRequest, match="line 2"):
        read_csv("date,cost\n2026-13-01,1\n", "USD")
    with pytest.raises(BadRequest, match="header"):
        read_csv("a,b\n1,2\n", "USD")


def test_google_ads_file() -> None:
    rows = [
        OfflineConversion(
            "Cj0KCQiA-abc123", datetime(2026, 2, 6, 19, 3, 12, tzinfo=UTC), Decimal("120.50"), None
        ),
        OfflineConversion("=cmd|evil", datetime(2026, 2, 6, tzinfo=UTC), None, None),
        OfflineConversion("Cj0KCQiA-def456", datetime(2026, 2, 6, tzinfo=UTC), None, None),
    ]
    text = render(rows, "Calls", "America/New_York", "USD")
    assert text.splitlines() == [
        "Parameters:TimeZone=America/New_York",
        "Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency",
        "Cj0KCQiA-abc123,Calls,2026-02-06 14:03:12-0500,120.5,USD",
        "Cj0KCQiA-def456,Calls,2026-02-05 19:00:00-0500,,",
    ]
    for bad in ("", "=1+1", "two\nlines", "x" * 101):
        with pytest.raises(BadRequest):
            conversion_name(bad)


def test_similarity_measure() -> None:
    a = {
        "preferred_browser": "Chrome",
        "preferred_device": "mobile",
        "preferred_os": "iOS",
        "country_code": None,
        "region": None,
        "city": None,
        "primary_referrer_type": "search",
        "total_sessions": 2,
        "total_actions": 10,
        "total_duration_sec": 100,
    }
    assert score(a, a)[0] == pytest.approx(1.0)
    other = {**a, "preferred_browser": "Safari", "total_sessions": 1}
    value, parts = score(a, other)
    # Location unknown for the reference: weights 0.15+0.15+0.10+0.15 + 0.25 engagement.
    assert parts["preferred_browser"] == 0
    assert value == pytest.approx((0.15 + 0.10 + 0.15 + 0.25 * (0.5 + 1 + 1) / 3) / 0.80)
