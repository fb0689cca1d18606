"""Telling every leadtrail process that a site's configuration changed.

Each process caches site configuration for ``/api/sync``. One ``NOTIFY`` per change, sent
inside the changing transaction so it is delivered only if the change commits; every
process LISTENs (``processes/invalidation.py``) and clears its cache. Site changes are
rare: nothing is sent per event.
"""

from __future__ import annotations

from leadtrail.storage import Connection

CHANNEL = "leadtrail_sites_changed"


async def announce(conn: Connection) -> None:
    """Queue the notification in ``conn``'s transaction (sent on commit)."""
    await conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
