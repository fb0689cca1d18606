"""Pure helpers of the people features: normalisation, site settings, ad spend rows,
the Google Ads file, the lookalike measure."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from leadtrail.adspend.google_ads import HEADER, OfflineConversion, conversion_name, render
from leadtrail.adspend.rows import MAX_COST, MAX_COUNT, parse_row, read_csv
from leadtrail.errors import BadRequest
from leadtrail.identity import normalize
from leadtrail.identity.similarity import score
from leadtrail.sites.people import PeopleSettings
from leadtrail.web.people_common import period


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


SPEND = {"campaign_id": "111", "date": "2026-01-05", "cost": "10"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clicks": "²"}, "clicks"),  # str.isdigit() says yes, int() says no
        ({"impressions": "٣"}, "impressions"),  # a digit, but not ASCII
        ({"clicks": str(MAX_COUNT + 1)}, "clicks"),
        ({"impressions": "9999999999"}, "impressions"),  # ten digits, over the integer column
        ({"clicks": "1" * 5000}, "clicks"),
        ({"clicks": "-1"}, "clicks"),
        ({"clicks": "2.5"}, "clicks"),
        ({"clicks": 3.0}, "clicks"),
        ({"cost": "9999999999.99995"}, "cost"),  # rounds up past numeric(14, 4)
        ({"cost": "10000000000"}, "cost"),
        ({"cost": "1e400"}, "cost"),
        ({"cost": "٣"}, "cost"),
        ({"cost": "NaN"}, "cost"),
        ({"cost": "-0.01"}, "cost"),
        ({"cost": ""}, "cost"),
        ({"date": "9999-12-31"}, "date"),
        ({"date": "1999-12-31"}, "date"),
        ({"campaign_name": "Spring\x00Sale"}, "campaign_name"),
        ({"campaign_id": "1\x001"}, "campaign_id"),
    ],
)
def test_ad_spend_values_must_fit_their_columns(change: dict[str, object], field: str) -> None:
    with pytest.raises(BadRequest) as bad:
        parse_row({**SPEND, **change}, "rows[4]", "USD")
    assert (bad.value.code, bad.value.field) == ("invalid_ad_spend", field)
    assert bad.value.detail.startswith("rows[4]: ")


def test_ad_spend_values_at_the_column_limits_are_kept() -> None:
    row = parse_row(
        {
            **SPEND,
            "clicks": f"{MAX_COUNT:,}",
            "impressions": "000000000000012",
            "cost": "9999999999.99994",
            "date": "2100-12-31",
        },
        "rows[0]",
        "USD",
    )
    assert (row.clicks, row.impressions, row.cost) == (MAX_COUNT, 12, MAX_COST)
    assert parse_row({**SPEND, "clicks": 7, "cost": 0}, "rows[0]", "USD").clicks == 7


def test_ad_spend_csv_errors_name_the_line() -> None:
    with pytest.raises(BadRequest, match=r"^line 3: clicks"):
        read_csv("date,cost,clicks,campaign\n2026-01-01,1,2,a\n2026-01-02,1,²,a\n", "USD")
    with pytest.raises(BadRequest, match=r"^line 2: campaign_name contains a NUL"):
        read_csv("date,cost,campaign\n2026-01-01,1,a\x00b\n", "USD")


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01", "0001-01-01", "to"),
        ("2026-01-01", "9999-12-31", "to"),
        ("9999-12-31", None, "from"),
        (None, "0001-01-01", "to"),
        ("0001-01-01T00:00:00+14:00", "2026-01-01", "from"),
        ("2026-01-01", "9999-12-31T23:59:59-12:00", "to"),
        ("2026-01-01", "2101-01-01T00:00:00Z", "to"),
        ("1999-12-31", "2000-01-02", "from"),
        ("2026-01-02", "2026-01-01", "from"),
        ("yesterday", None, "from"),
        ("2026-01-01", "2026-02-30", "to"),
    ],
)
def test_periods_outside_the_supported_years_are_refused(
    start: str | None, end: str | None, field: str
) -> None:
    with pytest.raises(BadRequest) as bad:
        period(start, end, "Pacific/Kiritimati")
    assert (bad.value.code, bad.value.field) == ("invalid_period", field)


def test_periods_at_the_supported_edges() -> None:
    first = period("2000-01-01", "2000-01-01", "Pacific/Kiritimati")
    assert first.days == (date(2000, 1, 1), date(2000, 1, 1))
    last = period("2100-12-01", "2100-12-31", "Etc/GMT+12")
    assert last.days == (date(2100, 12, 1), date(2100, 12, 31))
    assert period(None, "2000-01-01", "UTC").start.year == 1999  # the default 30 days before


def test_google_ads_file() -> None:
    rows = [
        OfflineConversion(
            "Cj0KCQiA-abc123", datetime(2026, 2, 6, 19, 3, 12, tzinfo=UTC), Decimal("120.50"), None
        ),
        OfflineConversion("=cmd|evil", datetime(2026, 2, 6, tzinfo=UTC), None, None),
        OfflineConversion("Cj0KCQiA-def456", datetime(2026, 2, 6, tzinfo=UTC), None, None),
    ]
    text = render(rows, "Calls", "America/New_York", "USD")
    first, rest = text.split("\n", 1)
    assert first == "Parameters:TimeZone=America/New_York"
    assert list(csv.reader(io.StringIO(rest))) == [
        list(HEADER),
        ["Cj0KCQiA-abc123", "Calls", "2026-02-06 14:03:12-0500", "120.5", "USD"],
        ["Cj0KCQiA-def456", "Calls", "2026-02-05 19:00:00-0500", "", ""],
    ]
    for bad in ("", "=1+1", "two\nlines", "x" * 101):
        with pytest.raises(BadRequest):
            conversion_name(bad)


def test_google_ads_click_ids_cannot_run_as_formulas() -> None:
    """A click id is any ``[A-Za-z0-9_-]`` run from a landing URL: ``-2-3…`` passes that."""
    at = datetime(2026, 2, 6, tzinfo=UTC)
    text = render([OfflineConversion("-2-3-cmd-abcdef", at, None, None)], "Calls", "UTC", "USD")
    rows = list(csv.reader(io.StringIO(text.split("\n", 1)[1])))
    assert rows[1][0] == "'-2-3-cmd-abcdef"


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
