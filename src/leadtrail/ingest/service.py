"""``/api/sync`` from body to answer: limit, validate, check the site and origin, drop bots and
opted-out visitors, enrich, hand to the writer, answer with the session's lead score."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from leadtrail.auth import session_tokens
from leadtrail.auth.identity_tokens import server_key
from leadtrail.behaviour.records import is_behaviour
from leadtrail.config import Settings
from leadtrail.errors import BadRequest, Forbidden
from leadtrail.ingest import metrics, payload
from leadtrail.ingest.batch import Written
from leadtrail.ingest.clientip import client_ip, is_trusted, parse_networks, stored_ip
from leadtrail.ingest.events import PreparedEvent, Visit, prepare
from leadtrail.ingest.geo import GeoResolver
from leadtrail.ingest.privacy import asks_not_to_be_tracked
from leadtrail.ingest.rejections import Rejections
from leadtrail.ingest.session_state import SessionKey
from leadtrail.ingest.sites import SiteCache, SiteConfig
from leadtrail.ingest.useragent import parse_user_agent
from leadtrail.ingest.writer import Writer, now_utc
from leadtrail.ratelimit import RateLimiter, parse_limit


@dataclass(frozen=True)
class SyncRequest:
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    peer: str | None


@dataclass
class SyncResult:
    status: int
    body: dict[str, Any]
    #: the origin was checked against the site and may read the answer
    origin_allowed: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def _language(header: str | None) -> str | None:
    if not header:
        return None
    first = header.split(",")[0].split(";")[0].strip()
    return first[:35] or None


class IngestService:
    def __init__(
        self,
        settings: Settings,
        sites: SiteCache,
        writer: Writer,
        geo: GeoResolver,
        limiter: RateLimiter,
        rejections: Rejections | None = None,
    ) -> None:
        self.sites = sites
        #: why traffic was not stored, per site (shown on the dashboard's Settings page)
        self.rejections = rejections
        self.writer = writer
        self.geo = geo
        self._limiter = limiter
        self._ip_limit = parse_limit(settings.sync_ip_rate_limit, "LEADTRAIL_SYNC_IP_RATE_LIMIT")
        self._site_limit = parse_limit(
            settings.sync_site_rate_limit, "LEADTRAIL_SYNC_SITE_RATE_LIMIT"
        )
        trusted = parse_networks(settings.trusted_proxies)
        # Address parsing costs ~10 us a request; visitors repeat, so remember answers.
        self._client_ip = lru_cache(maxsize=65536)(
            lambda peer, forwarded: client_ip(peer, forwarded, trusted)
        )
        self._is_trusted = lru_cache(maxsize=4096)(lambda peer: is_trusted(peer, trusted))
        self._stored_ip = lru_cache(maxsize=65536)(stored_ip)
        self._token_key = session_tokens.token_key(server_key(settings))

    async def sync(self, request: SyncRequest) -> SyncResult:
        headers = request.headers
        ip = self._client_ip(request.peer, headers.get("x-forwarded-for"))
        await self._limiter.hit(self._ip_limit, "sync-ip", ip or "unknown")

        events = payload.parse(request.body)
        sites: dict[str, SiteConfig] = {}
        for index, event in enumerate(events):
            if event.site_public_id not in sites:
                site = await self.sites.get(event.site_public_id)
                if site is None:
                    where = f"batch[{index}].s" if len(events) > 1 else "s"
                    raise BadRequest(
                        f"unknown site {event.site_public_id!r}", code="unknown_site", field=where
                    )
                sites[event.site_public_id] = site

        # No Origin: a server or curl, nothing to check. Any Origin, "null" included (sandboxed
        # iframes, file: pages, which any site can create), must belong to every site named.
        origin = headers.get("origin")
        if origin is not None:
            for site in sites.values():
                if not site.allows_origin(origin):
                    self._note(sites.values(), "origin_not_allowed", origin)
                    raise Forbidden(
                        f"origin {origin} is not allowed for site {site.public_id}",
                        code="origin_not_allowed",
                    )
        for site in sites.values():
            await self._limiter.hit(self._site_limit, "sync-site", site.public_id)

        if any(s.respect_dnt for s in sites.values()) and asks_not_to_be_tracked(headers):
            self._note(sites.values(), "dnt")
            return self._ignored("dnt")
        agent = parse_user_agent(headers.get("user-agent", ""))
        if agent.bot_reason is not None:
            product = " ".join(filter(None, (agent.browser, agent.browser_version)))
            self._note(sites.values(), agent.bot_reason, product)
            return self._ignored(agent.bot_reason)

        trusted_peer = self._is_trusted(request.peer)
        geo = self.geo.lookup(ip, headers, trusted_peer)
        language = _language(headers.get("accept-language"))
        visits = {
            pid: Visit(stored_ip(ip, site.ip_storage), agent, geo, language)
            for pid, site in sites.items()
        }
        now = now_utc()
        prepared: list[PreparedEvent] = [
            prepare(e, sites[e.site_public_id], visits[e.site_public_id], now) for e in events
        ]
        written = await self.writer.submit(prepared)
        metrics.REQUESTS.labels("synced").inc()
        last = prepared[-1]
        body: dict[str, Any] = {"status": "synced", "score": written.get(last.session_key, 0)}
        if self._proves_session(written, prepared, last.session_key):
            body["k"] = session_tokens.issue(self._token_key, *last.session_key)
        return SyncResult(200, body, True)

    @staticmethod
    def _proves_session(written: Written, events: list[PreparedEvent], key: SessionKey) -> bool:
        """Whether this request may have the session's token (auth/session_tokens.py): it
        created the session, or it repeats an event the session already holds (a retry of
        the first events whose answer was lost: a beacon, a closed page). Only the browser
        that made the session knows its event ids; adding new events to someone else's
        session, which anyone knowing a ``sid`` can do, earns nothing."""
        if key in written.created:
            return True
        return any(
            e.session_key == key and not is_behaviour(e) and e.id not in written.inserted
            for e in events
        )

    def _note(self, sites: Iterable[SiteConfig], reason: str, detail: str = "") -> None:
        if self.rejections is not None:
            for site in sites:
                self.rejections.note(site.id, reason, detail)

    @staticmethod
    def _ignored(reason: str) -> SyncResult:
        metrics.DROPPED.labels(reason).inc()
        metrics.REQUESTS.labels("ignored").inc()
        return SyncResult(202, {"status": "ignored", "reason": reason}, True)
