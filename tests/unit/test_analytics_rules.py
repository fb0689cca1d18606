"""Pure analytics rules: derived figures, funnel, dimensions, CSV, site settings."""

from __future__ import annotations

import csv
import io

import pytest

from leadtrail.analytics import metrics
from leadtrail.analytics.csvout import to_csv
from leadtrail.analytics.dimensions import SEP, drill_prefix, get_dimension, split_value
from leadtrail.errors import BadRequest
from leadtrail.sites import settings


def test_session_figures() -> None:
    figures = metrics.session_figures(
        {
            "sessions": 4,
            "bounces": 1,
            "duration_sec": 300,
            "events": 10,
            "page_views": 8,
            "conversions": 1,
            "lead_score_sum": 130,
        }
    )
    assert figures["bounce_rate"] == 25.0 and figures["avg_duration_sec"] == 75.0
    assert figures["avg_actions"] == 2.5 and figures["pages_per_session"] == 2.0
    assert figures["conversion_rate"] == 25.0 and figures["avg_lead_score"] == 32.5
    assert metrics.session_figures({})["bounce_rate"] == 0.0


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [(110, 100, 10.0), (50, 100, -50.0), (5, 0, None), (0, 0, None)],
)
def test_change(current: int, previous: int, expected: float | None) -> None:
    assert metrics.change(current, previous) == expected


def test_funnel_rates_are_shares_of_visitors() -> None:
    stages = metrics.funnel(459, 37, 0)
    assert [(s["stage"], s["count"], s["conversion_rate"]) for s in stages] == [
        ("Visitors", 459, 100.0),
        ("Returning", 37, 8.1),
        ("Converted", 0, 0.0),
    ]
    assert [s["conversion_rate"] for s in metrics.funnel(0, 0, 0)] == [0.0, 0.0, 0.0]


def test_geo_values_and_drill_down() -> None:
    city = get_dimension("city")
    assert split_value(city, f"US{SEP}Texas{SEP}Austin") == {
        "country": "US",
        "region": "Texas",
        "city": "Austin",
    }
    assert split_value(city, "") == {"country": None, "region": None, "city": None}
    assert split_value(get_dimension("browser"), "") == {"value": None}
    assert drill_prefix(city, "us", None) == "US" + SEP
    assert drill_prefix(city, "US", "Ohio") == f"US{SEP}Ohio{SEP}"
    assert drill_prefix(get_dimension("region"), None, None) is None
    for dim, country, region in (
        ("browser", "US", None),
        ("region", "US", "Ohio"),
        ("city", None, "Ohio"),
        ("city", "USA", None),
    ):
        with pytest.raises(BadRequest):
            drill_prefix(get_dimension(dim), country, region)
    with pytest.raises(BadRequest):
        get_dimension("nope")


def test_csv_neutralises_formulas() -> None:
    text = to_csv(["a", "b"], [{"a": "=1+2", "b": -3}, {"a": "@x", "b": None}, {"a": "plain"}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["a", "b"], ["'=1+2", "-3"], ["'@x", ""], ["plain", ""]]


def test_csv_neutralises_formulas_after_a_separator() -> None:
    """``;=`` splits into a formula cell where ``;`` is the list separator: quoted and prefixed."""
    cases = [";=1+1", "a;=HYPERLINK(1)", "x,@SUM(A1)", "\tcmd", "\r=1", "-1+1", "+1", "ok; fine"]
    text = to_csv(["a"], [{"a": c} for c in cases])
    lines = text.split("\r\n")[1:-1]
    assert all(line.startswith('"') and line.endswith('"') for line in lines)
    cells = [row[0] for row in csv.reader(io.StringIO(text))][1:]
    assert cells == ["'" + c for c in cases[:-1]] + ["ok; fine"]


def test_settings_defaults_and_patches() -> None:
    assert settings.effective({})["scoring"] == settings.DEFAULT_SCORING
    weird = settings.effective({"scoring": {"conversion": "lots"}, "ip_storage": "weird"})
    assert (weird["scoring"], weird["respect_dnt"], weird["ip_storage"]) == (
        settings.DEFAULT_SCORING,
        False,
        "full",
    )
    assert (weird["currency"], weird["call_window_minutes"], weird["default_region"]) == (
        "USD",
        30,
        None,
    )
    stored = {"scoring": {"conversion": 60}, "other_feature": {"keep": True}}
    patched = settings.apply_patch(
        stored,
        {
            "scoring": {"interaction": 0},
            "respect_dnt": True,
            "currency": "eur",
            "default_region": "tr",
        },
    )
    assert patched == {
        "scoring": {"conversion": 60, "interaction": 0},
        "respect_dnt": True,
        "other_feature": {"keep": True},
        "currency": "EUR",
        "default_region": "TR",
    }
    assert settings.apply_patch(patched, {"default_region": None})["default_region"] is None


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"scoring": {"conversion": True}}, "settings.scoring.conversion"),
        ({"scoring": {"conversion": -1}}, "settings.scoring.conversion"),
        ({"scoring": []}, "settings.scoring"),
        ({"respect_dnt": "yes"}, "settings.respect_dnt"),
        ({"ip_storage": "half"}, "settings.ip_storage"),
        ({"colour": "red"}, "settings.colour"),
        ({"currency": "dollars"}, "settings.currency"),
        ({"default_region": "USA"}, "settings.default_region"),
        ({"call_window_minutes": 0}, "settings.call_window_minutes"),
        ({"lead_lookback_minutes": 1.5}, "settings.lead_lookback_minutes"),
        ({"attribution_half_life_days": 0}, "settings.attribution_half_life_days"),
    ],
)
def test_bad_settings(patch: dict[str, object], field: str) -> None:
    with pytest.raises(BadRequest) as bad:
        settings.apply_patch({}, patch)
    assert (bad.value.code, bad.value.field) == ("invalid_setting", field)
