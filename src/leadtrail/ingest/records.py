"""Rows the writer COPYs into its staging tables: scored events and per-batch session
aggregates. Pure."""

from __future__ import annotations

from typing import Any

from leadtrail.ingest.events import MAX_SESSION_SECONDS, Landing, PreparedEvent, device_meta
from leadtrail.ingest.session_state import SessionState
from leadtrail.scoring import intelligence_summary, score_event

EVENT_COLUMNS = (
    "site_id", "id", "session_id", "session_month", "created_at", "url", "event_category",
    "event_action", "event_label", "event_value", "lead_score", "client_event_id", "metadata",
)  # fmt: skip
SESSION_COLUMNS = (
    "site_id", "id", "created_month", "created_at", "last_seen_at", "fingerprint", "ip_address",
    "entry_page", "exit_page", "referrer", "referrer_type", "referrer_domain", "search_query",
    "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content", "gclid", "wbraid",
    "gbraid", "fbclid", "msclkid", "ttclid", "li_fat_id", "browser", "browser_version", "os", "os_version", "device_type",
    "language", "screen", "timezone", "country_code", "region", "city", "latitude", "longitude",
    "page_views", "event_count", "total_duration_sec", "is_bounce", "lead_score",
    "attribution_source", "converted",
)  # fmt: skip


def event_record(
    event: PreparedEvent, state: SessionState, fingerprint: str | None
) -> tuple[Any, ...]:
    """Score the event and build its row (metadata as the seeds describe it)."""
    score = score_event(
        event.category,
        event.action,
        event.value,
        google_referrer=state.google_referrer,
        returning_ad_user=state.returning_ad_user,
        weights=event.site.weights,
    )
    event.meta = {
        **event.meta,
        "fp": fingerprint,
        "lead_score": score,
        "attribution_source": state.attribution,
        "intelligence_summary": intelligence_summary(score),
        "device_info": device_meta(event),
        "geo_info": event.visit.geo_meta,
    }
    return (
        event.site.id, event.id, event.session_id, state.created_month, event.created_at,
        event.url, event.category, event.action, event.label, event.value, score,
        event.client_event_id, event.meta,
    )  # fmt: skip


def _short(value: object) -> str | None:
    return value[:64] if isinstance(value, str) and value else None


_NO_LANDING: dict[str, str] = {}


def session_record(
    new: list[PreparedEvent], state: SessionState, land: Landing | None, fingerprint: str | None
) -> tuple[Any, ...]:
    """This batch's contribution to a session: its facts if new (``land`` given), counters to
    add if it exists (the upsert keeps what is stored and only fills empty columns).

    ``new`` holds only the events the INSERT really added, oldest first, so a retried event
    never counts twice.
    """
    first, last = new[0], new[-1]
    visit, agent, geo = first.visit, first.visit.user_agent, first.visit.geo
    if land is not None:
        source, utm, clicks = land.source, land.utm, land.click_ids
        entry_page, referrer = land.entry_page, land.referrer
        referrer_type, referrer_domain, search_query = (
            source.referrer_type,
            source.referrer_domain,
            source.search_query,
        )
    else:
        utm = clicks = _NO_LANDING
        entry_page, referrer, referrer_type, referrer_domain, search_query = (
            first.url,
            None,
            None,
            None,
            None,
        )
    raw_device = first.meta.get("device_info")
    device: dict[str, Any] = raw_device if isinstance(raw_device, dict) else {}
    # A client's session_end value is its claimed duration: clamped, it fits the int4 column
    # (a valid ``ev`` goes up to 1e12, and one value out of range would fail the whole batch).
    ended = [
        min(int(e.value), MAX_SESSION_SECONDS)
        for e in new
        if e.action == "session_end" and e.value is not None and e.value >= 0
    ]
    duration = max([*ended, int((last.created_at - first.created_at).total_seconds())])
    engaged = any(e.category in ("interaction", "conversion") for e in new)
    return (
        first.site.id, first.session_id, state.created_month, first.created_at, last.created_at,
        fingerprint, visit.ip, entry_page, last.url, referrer, referrer_type, referrer_domain, search_query,
        utm.get("source"), utm.get("medium"), utm.get("campaign"), utm.get("term"), utm.get("content"),
        clicks.get("gclid"), clicks.get("wbraid"), clicks.get("gbraid"), clicks.get("fbclid"),
        clicks.get("msclkid"), clicks.get("ttclid"), clicks.get("li_fat_id"),
        agent.browser, agent.browser_version, agent.os, agent.os_version, agent.device_type,
        _short(device.get("lang")) or visit.language, _short(device.get("screen")), _short(device.get("tz")),
        geo.country_code, geo.region, geo.city, geo.latitude, geo.longitude,
        sum(1 for e in new if e.is_page_view), len(new), duration, not engaged,
        max(int(e.meta.get("lead_score", 0)) for e in new), state.attribution,
        any(e.category == "conversion" for e in new),
    )  # fmt: skip
