"""Telling realtime nodes that a credential ended (a key revoked, a session logged out).

One ``NOTIFY`` per revocation, sent inside the revoking transaction so it is delivered only
if the revocation commits. Nodes listening on :data:`CHANNEL` then re-check their open
sockets at once instead of at the next periodic check. This is not per event (DESIGN 8):
revocations are rare.
"""

from __future__ import annotations

from leadtrail.storage import Connection

CHANNEL = "leadtrail_revoked"


async def announce(conn: Connection) -> None:
    """Queue the notification in ``conn``'s transaction (sent on commit)."""
    await conn.execute(f"SELECT pg_notify('{CHANNEL}', '')")
