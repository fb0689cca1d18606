"""History from other tools: page views and events from a JSON lines or CSV file, written
through the ingest writer's batch code so sessions, scores, people and rollups come out as
for live traffic.

Columns (JSON keys or CSV headers; aliases in brackets):
    timestamp  [time, date, created_at, ts]      ISO 8601 or epoch seconds/ms   required
    session_id [session, visit_id]                any string (or a UUID)         required
    url        [page, page_url, pathname]         full URL, or a path on the site's domain  required
    action     [event, event_name, name]          default "view"
    category   [event_category]                   acquisition|interaction|conversion|system;
                                                  default acquisition for views, else interaction
    label, value, referrer, ip, user_agent
    visitor_id [fingerprint, user_id]             ties sessions to one person
    event_id   [id]                               default: derived from the row, so a re-import adds nothing
    utm_source, utm_medium, utm_campaign, utm_term, utm_content
    country_code, region, city
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from leadtrail.errors import BadRequest
from leadtrail.ingest.events import PreparedEvent, Visit, event_id
from leadtrail.ingest.geo import GeoInfo
from leadtrail.ingest.payload import CATEGORIES
from leadtrail.ingest.sites import SiteConfig
from leadtrail.ingest.useragent import UserAgentInfo, parse_user_agent
from leadtrail.sync.transform import TransformError, to_timestamp

ALIASES: dict[str, tuple[str, ...]] = {
    "timestamp": ("timestamp", "time", "date", "created_at", "ts"),
    "session_id": ("session_id", "session", "visit_id"),
    "url": ("url", "page", "page_url", "pathname"),
    "action": ("action", "event", "event_name", "name"),
    "category": ("category", "event_category"),
    "label": ("label",),
    "value": ("value",),
    "referrer": ("referrer",),
    "ip": ("ip", "ip_address"),
    "user_agent": ("user_agent",),
    "visitor_id": ("visitor_id", "fingerprint", "user_id"),
    "event_id": ("event_id", "id"),
    "country_code": ("country_code",),
    "region": ("region",),
    "city": ("city",),
}
UTM = ("source", "medium", "campaign", "term", "content")
_NAMESPACE = uuid.UUID("0e6f8a9c-5a3b-4f0e-8f39-7d0c1b2a4e11")
_UNKNOWN_AGENT = UserAgentInfo(None, None, None, None, "other", None)


@dataclass(frozen=True)
class Skipped:
    line: int
    reason: str


def rows(text: str, name: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(line, row) from JSON lines (``.jsonl``/``.json``/``.ndjson``) or CSV."""
    if name.endswith((".jsonl", ".json", ".ndjson")):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise BadRequest(f"line {number}: not JSON") from None
            if not isinstance(doc, dict):
                raise BadRequest(f"line {number}: not a JSON object")
            yield number, doc
        return
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        yield reader.line_num, {k.strip().lower(): v for k, v in row.items() if k}


def _get(row: Mapping[str, Any], field: str) -> Any:
    for key in ALIASES[field]:
        value = row.get(key)
        if value not in (None, ""):
            return value
    return None


def _text(row: Mapping[str, Any], field: str, limit: int = 2000) -> str | None:
    value = _get(row, field)
    return str(value)[:limit] if value is not None else None


def session_uuid(site_id: uuid.UUID, session: str) -> uuid.UUID:
    try:
        return uuid.UUID(session)
    except ValueError:
        return uuid.uuid5(_NAMESPACE, f"{site_id}/import/{session}")


def to_event(site: SiteConfig, line: int, row: Mapping[str, Any]) -> PreparedEvent | Skipped:
    """One row as the writer's event, or why it is skipped (a bot's user agent)."""
    where = f"line {line}"
    stamp = _get(row, "timestamp")
    if stamp is None:
        raise BadRequest(f"{where}: timestamp is required")
    try:
        when: datetime = to_timestamp(stamp)
    except TransformError as exc:
        raise BadRequest(f"{where}: timestamp: {exc}") from None
    session = _text(row, "session_id", 200)
    if session is None:
        raise BadRequest(f"{where}: session_id is required")
    url = _text(row, "url")
    if url is None:
        raise BadRequest(f"{where}: url is required")
    if url.startswith("/"):
        url = f"https://{site.domain}{url}"
    action = (_text(row, "action", 64) or "view").strip()
    category = _text(row, "category", 32) or (
        "acquisition" if action in {"view", "page_view", "pageview"} else "interaction"
    )
    if category not in CATEGORIES:
        raise BadRequest(
            f"{where}: category {category!r} is not one of {', '.join(sorted(CATEGORIES))}"
        )
    value = _get(row, "value")
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        raise BadRequest(f"{where}: value {value!r} is not a number") from None
    agent_text = _text(row, "user_agent", 1000)
    agent = parse_user_agent(agent_text) if agent_text else _UNKNOWN_AGENT
    if agent.bot_reason is not None:
        return Skipped(line, agent.bot_reason)
    geo = GeoInfo(
        country_code=(_text(row, "country_code", 2) or "").upper() or None,
        region=_text(row, "region", 100),
        city=_text(row, "city", 100),
    )
    meta: dict[str, Any] = {"source": "import"}
    visitor = _text(row, "visitor_id", 128)
    if visitor:
        meta["fp"] = visitor
    utm = {k: str(row[f"utm_{k}"])[:500] for k in UTM if row.get(f"utm_{k}") not in (None, "")}
    if utm:
        meta["utm"] = utm
    sid = session_uuid(site.id, session)
    client_id = (
        _text(row, "event_id", 200)
        or "imp_"
        + hashlib.blake2b(
            orjson.dumps(row, option=orjson.OPT_SORT_KEYS, default=str), digest_size=12
        ).hexdigest()
    )
    return PreparedEvent(
        site=site, session_id=sid, id=event_id(sid, client_id), client_event_id=client_id,
        created_at=when, url=url, category=category, action=action,
        label=_text(row, "label", 500), value=number, referrer=_text(row, "referrer"),
        meta=meta, visit=Visit(_text(row, "ip", 64), agent, geo, None),
    )  # fmt: skip
