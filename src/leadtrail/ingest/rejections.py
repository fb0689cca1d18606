"""Counts of tracker traffic that was not stored, and why, per site.

``/api/sync`` must not write a row per refused request (a crawler would cost as much as a
visitor), so counts gather in memory and a background component adds them to
``ingest_rejections`` every few seconds, one upsert per (site, reason, detail).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from datetime import UTC, datetime
from uuid import UUID

from leadtrail.components import PeriodicTask
from leadtrail.storage import Claims, Database, DbRole
from leadtrail.storage.queries import load

Q = load("leadtrail.ingest")
logger = logging.getLogger(__name__)
#: distinct (site, reason, detail) keys kept between flushes; more are counted as one
MAX_KEYS = 10_000
Key = tuple[UUID, str, str]


class Rejections:
    """Gathers counts; ``flush`` writes them. Also a component that flushes periodically."""

    name = "ingest-rejections"

    def __init__(self, db: Database, interval: float = 10.0) -> None:
        self._db = db
        self._interval = interval
        self._counts: Counter[Key] = Counter()
        self._seen: dict[Key, tuple[datetime, datetime]] = {}
        self._periodic = PeriodicTask(self.name, interval, self.flush)
        self._logged: set[Key] = set()

    def note(self, site_id: UUID, reason: str, detail: str = "") -> None:
        key = (site_id, reason, detail[:120])
        if key not in self._counts and len(self._counts) >= MAX_KEYS:
            key = (site_id, reason, "")
        now = datetime.now(UTC)
        first, _ = self._seen.get(key, (now, now))
        self._seen[key] = (first, now)
        self._counts[key] += 1
        if (
            reason == "origin_not_allowed"
            and key not in self._logged
            and len(self._logged) < MAX_KEYS
        ):
            # Once per origin and process: the likeliest cause is a domain typed wrong.
            self._logged.add(key)
            logger.warning(
                "site %s refused events from origin %s: add it as the site's domain or an "
                "allowed origin (dashboard Settings, or PATCH /api/sites/{site})",
                site_id,
                detail,
            )

    async def flush(self) -> int:
        counts, seen = self._counts, self._seen
        self._counts, self._seen = Counter(), {}
        by_site: dict[UUID, list[Key]] = {}
        for key in counts:
            by_site.setdefault(key[0], []).append(key)
        try:
            for site_id, keys in by_site.items():
                claims = Claims(role=DbRole.WRITER, sub="ingest", site_ids=(site_id,))
                async with self._db.transaction(claims) as conn:
                    await conn.executemany(
                        Q.add_rejections,
                        [(k[0], k[1], k[2], counts[k], seen[k][0], seen[k][1]) for k in keys],
                    )
                for key in keys:  # committed: not to be added back below
                    del counts[key]
        finally:
            for key, n in counts.items():  # what could not be written waits for the next flush
                self._counts[key] += n
                first, last = seen[key]
                self._seen[key] = (min(first, self._seen.get(key, (first, last))[0]), last)
        return len(by_site)

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        with contextlib.suppress(Exception):  # what is left goes out with the process
            await self.flush()
