"""Behaviour capture's pure parts: the module's size budget, settings, masking, rows."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from leadtrail.behaviour.extension import behaviour_extension
from leadtrail.behaviour.privacy import mask_label, mask_text, mask_url
from leadtrail.behaviour.records import behaviour_record
from leadtrail.behaviour.settings import BehaviourSettings, patch
from leadtrail.errors import BadRequest
from leadtrail.ingest.events import PreparedEvent, Visit
from leadtrail.ingest.geo import GeoInfo
from leadtrail.ingest.sites import SiteConfig
from leadtrail.ingest.useragent import parse_user_agent
from leadtrail.web.site_script import module_source

BUDGET = 6 * 1024
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"


def test_behaviour_module_is_under_6_kb_minified_and_gzipped() -> None:
    size = len(gzip.compress(module_source("behaviour.js").encode(), compresslevel=9))
    assert size < BUDGET, f"behaviour.js is {size} bytes minified+gzipped; the budget is {BUDGET}"


def site(settings: dict[str, Any]) -> SiteConfig:
    return SiteConfig.from_row(
        {
            "id": uuid.uuid4(),
            "public_id": "p",
            "domain": "d.example",
            "allowed_origins": [],
            "settings": settings,
        }
    )


async def test_the_module_is_delivered_only_when_capture_is_on() -> None:
    assert await behaviour_extension(site({}), None) is None  # type: ignore[arg-type]
    on = await behaviour_extension(
        site(
            {"behaviour": {"enabled": True, "sample_rate": 0.3, "thresholds": {"rage_clicks": 5}}}
        ),
        None,  # type: ignore[arg-type]
    )
    assert on is not None and on.module == "behaviour.js"
    assert on.config["rate"] == 0.3 and on.config["t"]["rage_clicks"] == 5
    assert on.config["t"]["dead_click_ms"] == 1000


def test_settings_patch_validates_and_merges() -> None:
    stored = {"behaviour": {"enabled": True, "thresholds": {"rage_clicks": 4}}}
    merged = patch(stored, {"thresholds": {"hesitation_ms": 3000}, "sample_rate": 0.5})
    assert merged == {
        "enabled": True,
        "sample_rate": 0.5,
        "thresholds": {"rage_clicks": 4, "hesitation_ms": 3000},
    }
    for bad, field in [
        ({"enabled": "yes"}, "settings.behaviour.enabled"),
        ({"sample_rate": 0}, "settings.behaviour.sample_rate"),
        ({"thresholds": {"rage_clicks": 1}}, "settings.behaviour.thresholds.rage_clicks"),
        ({"thresholds": {"nope": 1}}, "settings.behaviour.thresholds.nope"),
        ({"colour": "red"}, "settings.behaviour.colour"),
    ]:
        with pytest.raises(BadRequest) as info:
            patch(stored, bad)
        assert info.value.code == "invalid_setting" and info.value.field == field
    # malformed stored values fall back to defaults
    odd = BehaviourSettings.from_site(
        {"behaviour": {"enabled": 1, "sample_rate": 7, "thresholds": {"rage_clicks": 99}}}
    )
    assert (odd.enabled, odd.sample_rate, odd.thresholds.rage_clicks) == (False, 1.0, 3)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Mail jo.doe+x@mail.example.com now", "Mail [email] now"),
        ("Call +44 20 7946 0958", "Call [number]"),
        ("Card 4111-1111-1111-1111 ok", "Card [number] ok"),
        ("Only 3 left, 12 sold", "Only 3 left, 12 sold"),
        ("x" * 150, "x" * 100),
        ("  many \n spaces  ", "many spaces"),
    ],
)
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


def test_mask_url_and_labels() -> None:
    assert mask_url("https://a.example/p/123456?e=jo%40x.com&tel=5551234567") == (
        "https://a.example/p/123456?e=[email]&tel=[number]"
    )
    assert mask_label("tel:+1 555 123 4567", "phone_call") == "tel:+1 555 123 4567"
    assert (
        mask_label("Error at 555-123-4567 for a@b.co", "js_error")
        == "Error at [number] for [email]"
    )


def event(action: str, meta: dict[str, Any]) -> PreparedEvent:
    visit = Visit(None, parse_user_agent(CHROME), GeoInfo(), None)
    return PreparedEvent(
        site=site({}), session_id=uuid.uuid4(), id=uuid.uuid4(), client_event_id="e1",
        created_at=datetime.now(UTC), url="https://d.example/a/b?x=1", category="interaction",
        action=action, label=None, value=None, referrer=None, meta=meta, visit=visit,
    )  # fmt: skip


def test_records_keep_known_fields_only() -> None:
    row = behaviour_record(
        event("bx:hesitation", {"bx": {"p": "main>button", "t": "button", "x": "Pay 4111 1111 1111 1111",
                                       "co": {"x": 1, "y": "2", "px": float("inf")},
                                       "d": {"hesitation_ms": 2500, "value": "secret", "field": "card"}}}),
        date(2026, 1, 1),
    )  # fmt: skip
    assert row is not None
    by = dict(zip(["site", "sid", "id", "month", "at", "type", "url", "path", "device", "el", "et", "text",
                   "comp", "co", "vp", "data", "meta", "eid"], row, strict=True))  # fmt: skip
    assert by["type"] == "hesitation" and by["path"] == "/a/b" and by["device"] == "desktop"
    assert by["text"] == "Pay [number]" and by["co"] == {"x": 1}
    assert by["data"] == {"hesitation_ms": 2500, "field": "card"}
    assert behaviour_record(event("bx:teleport", {}), date(2026, 1, 1)) is None
    exit_row = behaviour_record(
        event("bx:page_exit", {"bx": {"d": {"reason": "vanished"}}}), date(2026, 1, 1)
    )
    assert exit_row is not None and exit_row[15] == {}
