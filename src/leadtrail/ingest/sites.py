"""Site configuration the ingest path needs, cached in memory.

``/api/sync`` must not query ``sites`` per request. Entries live ``ttl`` seconds, so a change
made in the dashboard (domain, origins, scoring weights, privacy options) applies within that
time; unknown public ids are cached too (bounded), so junk ``s`` values cost one query.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from leadtrail.auth.service import AUTH_CLAIMS
from leadtrail.ingest.privacy import respects_dnt
from leadtrail.scoring import ScoringWeights
from leadtrail.sites.domains import origin_allowed
from leadtrail.sites.settings import url_query_allowlist
from leadtrail.storage import Database
from leadtrail.storage.queries import load

QUERIES = load("leadtrail.ingest")
IP_STORAGE_MODES = ("full", "truncated", "none")


@dataclass(frozen=True)
class SiteConfig:
    id: UUID
    public_id: str
    domain: str
    allowed_origins: tuple[str, ...]
    weights: ScoringWeights
    respect_dnt: bool
    ip_storage: str
    #: query parameters kept in stored URLs besides utm_* and click ids (lower case)
    url_query_allowlist: frozenset[str]
    #: the site's stored settings as they are (read by tracker extensions and other options)
    settings: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> SiteConfig:
        settings = row["settings"] if isinstance(row["settings"], dict) else {}
        ip_storage = settings.get("ip_storage", "full")
        return cls(
            id=row["id"],
            public_id=row["public_id"],
            domain=row["domain"],
            allowed_origins=tuple(row["allowed_origins"]),
            weights=ScoringWeights.from_settings(settings.get("scoring")),
            respect_dnt=respects_dnt(settings),
            ip_storage=ip_storage if ip_storage in IP_STORAGE_MODES else "full",
            url_query_allowlist=frozenset(url_query_allowlist(settings)),
            settings=settings,
        )

    def allows_origin(self, origin: str) -> bool:
        return origin_allowed(origin, self.domain, self.allowed_origins)


class SiteCache:
    def __init__(self, db: Database, ttl: float = 30.0, max_entries: int = 10_000) -> None:
        self._db = db
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, SiteConfig | None]] = OrderedDict()
        self._origins: tuple[float, list[tuple[str, tuple[str, ...]]]] = (0.0, [])

    async def get(self, public_id: str) -> SiteConfig | None:
        now = time.monotonic()
        hit = self._entries.get(public_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._db.transaction(AUTH_CLAIMS) as conn:
            row = await conn.fetchrow(QUERIES.site_by_public_id, public_id)
        config = SiteConfig.from_row(row) if row else None
        self._entries[public_id] = (now + self._ttl, config)
        self._entries.move_to_end(public_id)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return config

    async def any_site_allows(self, origin: str) -> bool:
        """For CORS preflights, which carry no body and so no site id."""
        now = time.monotonic()
        expires, origins = self._origins
        if expires <= now:
            async with self._db.transaction(AUTH_CLAIMS) as conn:
                rows = await conn.fetch(QUERIES.all_site_origins)
            origins = [(r["domain"], tuple(r["allowed_origins"])) for r in rows]
            self._origins = (now + self._ttl, origins)
        return any(origin_allowed(origin, domain, allowed) for domain, allowed in origins)

    def cached_allows(self, origin: str) -> bool:
        """Whether a cached site (or the cached origin list) allows ``origin``, without a
        query: for answers given while the database cannot be reached."""
        if any(c is not None and c.allows_origin(origin) for _, c in self._entries.values()):
            return True
        return any(origin_allowed(origin, d, allowed) for d, allowed in self._origins[1])

    def invalidate(self) -> None:
        self._entries.clear()
        self._origins = (0.0, [])
