"""Every process forgets cached site configuration when a site changes anywhere.

Each process caches site configuration for ``/api/sync`` (30 s). A change made through any
process (a site deleted, its domain or settings edited) is announced with one ``NOTIFY``
(``sites/changes.py``); every process LISTENs and clears its cache at once instead of
serving the old configuration until the entries expire. The TTL stays as the safety net
(a lost LISTEN connection).
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from leadtrail.ingest.sites import SiteCache
from leadtrail.sites.changes import CHANNEL
from leadtrail.storage import Database

logger = logging.getLogger(__name__)


class SiteInvalidations:
    """A component: LISTEN on :data:`CHANNEL`, clear the site cache on every notice."""

    name = "site-cache-invalidations"

    def __init__(self, db: Database, sites: SiteCache) -> None:
        self._db = db
        self._sites = sites
        self._conn: Any = None

    async def start(self) -> None:
        self._conn = await self._db.app_connection()
        await self._conn.add_listener(CHANNEL, self._notified)

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _notified(self, *_: object) -> None:
        logger.debug("site configuration changed elsewhere: cache cleared")
        self._sites.invalidate()
