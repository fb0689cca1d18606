"""From a validated client event and its request to what the writer stores. Pure.

A request gives the visit's context (IP, user agent, location); each event gets a
deterministic id from its session and client event id, so a retried event maps to the same
primary key and is stored once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from leadtrail.behaviour.privacy import mask_label
from leadtrail.ingest.first_touch import CLICK_ID_KEYS
from leadtrail.ingest.geo import GeoInfo
from leadtrail.ingest.payload import ClientEvent
from leadtrail.ingest.referrer import Source, classify, click_ids_from, query_params, utm_from
from leadtrail.ingest.scrub import mask, scrub_url
from leadtrail.ingest.sites import SiteConfig
from leadtrail.ingest.useragent import UserAgentInfo

#: client clocks are trusted this far back (events queued on an earlier page)
MAX_CLIENT_AGE = timedelta(hours=24)
PAGE_VIEW_ACTIONS = frozenset({"view", "page_view"})
#: longest duration a session may claim (``session_end``'s value): a year of seconds, far
#: below the int4 limit of ``sessions.total_duration_sec``
MAX_SESSION_SECONDS = 366 * 24 * 3600


class Visit:
    """What one request tells about the visitor; the parts every event's metadata repeats
    are built once here."""

    __slots__ = ("device", "geo", "geo_meta", "ip", "language", "user_agent")

    def __init__(
        self, ip: str | None, user_agent: UserAgentInfo, geo: GeoInfo, language: str | None
    ) -> None:
        self.ip = ip
        self.user_agent = user_agent
        self.geo = geo
        self.language = language
        self.geo_meta = geo.as_meta()
        self.device = {
            "browser": user_agent.browser,
            "os": user_agent.os,
            "device_type": user_agent.device_type,
        }


@dataclass(slots=True)
class PreparedEvent:
    site: SiteConfig
    session_id: uuid.UUID
    id: uuid.UUID
    client_event_id: str
    created_at: datetime
    url: str
    category: str
    action: str
    label: str | None
    value: float | None
    referrer: str | None
    meta: dict[str, Any]
    visit: Visit

    @property
    def session_key(self) -> tuple[uuid.UUID, uuid.UUID]:
        return (self.site.id, self.session_id)

    @property
    def is_page_view(self) -> bool:
        return self.action in PAGE_VIEW_ACTIONS

    @property
    def fingerprint(self) -> str | None:
        fp = self.meta.get("fp")
        return fp[:128] if isinstance(fp, str) and fp else None


def event_id(session_id: uuid.UUID, client_event_id: str) -> uuid.UUID:
    """Same session + same client id → same event id (a UUIDv8, RFC 9562 custom layout)."""
    digest = hashlib.blake2b(session_id.bytes + client_event_id.encode(), digest_size=16).digest()
    return uuid.UUID(
        bytes=digest[:6]
        + bytes([0x80 | (digest[6] & 0x0F)])
        + digest[7:8]
        + bytes([0x80 | (digest[8] & 0x3F)])
        + digest[9:]
    )


def event_time(client_ts: float | None, now: datetime) -> datetime:
    """The client's clock when plausible (queued events sent later), else the server's."""
    if client_ts is None:
        return now
    try:
        when = datetime.fromtimestamp(client_ts / 1000.0, UTC)
    except (OverflowError, OSError, ValueError):
        return now
    if now - MAX_CLIENT_AGE <= when <= now:
        return when
    return now


def month_of(when: datetime) -> date:
    return date(when.year, when.month, 1)


def prepare(event: ClientEvent, site: SiteConfig, visit: Visit, now: datetime) -> PreparedEvent:
    client_id = event.client_event_id or "srv_" + secrets.token_hex(12)
    return PreparedEvent(
        site=site,
        session_id=event.session_id,
        id=event_id(event.session_id, client_id),
        client_event_id=client_id,
        created_at=event_time(event.client_ts, now),
        url=scrub_url(event.url, site.url_query_allowlist),
        category=event.category,
        action=event.action,
        label=_stored_label(event),
        value=event.value,
        referrer=mask(event.referrer) if event.referrer else event.referrer,
        meta=event.meta,
        visit=visit,
    )


def _stored_label(event: ClientEvent) -> str | None:
    """Labels quote the page (titles, link and button texts, error messages): e-mails and
    phone numbers are masked (DESIGN decision 12), and in JavaScript errors, which quote
    whatever the page held, digit runs too. A phone-call click's ``tel:`` label is kept: it is
    the business's own number, which call matching needs."""
    label = event.label
    if label is None or (event.action == "phone_call" and label.startswith("tel:")):
        return label
    if event.action == "js_error":
        label = mask_label(label, event.action)
    return mask(label)


def _strings(value: Any, keys: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {k: v[:500] for k in keys if isinstance(v := value.get(k), str) and v}


@dataclass(frozen=True)
class Landing:
    """What the first event of a session says about how the visit began."""

    entry_page: str
    referrer: str | None
    source: Source
    utm: dict[str, str] = field(default_factory=dict)
    click_ids: dict[str, str] = field(default_factory=dict)

    @property
    def has_click_id(self) -> bool:
        return bool(self.click_ids)


def landing(first: PreparedEvent) -> Landing:
    """UTM and click ids from the landing URL, else those the tracker kept for the session."""
    params = query_params(first.url)
    utm = utm_from(params) or _strings(
        first.meta.get("utm"), ("source", "medium", "campaign", "term", "content")
    )
    click_ids = click_ids_from(params) or _strings(first.meta, CLICK_ID_KEYS)
    try:
        page_host = urlsplit(first.url).hostname
    except ValueError:
        page_host = None
    source = classify(
        first.referrer,
        site_domain=first.site.domain,
        page_host=page_host,
        utm=utm,
        click_ids=click_ids,
    )
    return Landing(first.url, first.referrer, source, utm, click_ids)


def device_meta(event: PreparedEvent) -> dict[str, Any]:
    """The client's ``device_info`` with what the user agent told the server."""
    client = event.meta.get("device_info")
    if isinstance(client, dict):
        return {**client, **event.visit.device}
    return event.visit.device
