"""Session tokens: the server's signature binding a tracker session id to the browser.

A session id (``sid``) is made by the browser and travels in every event, so knowing one
proves nothing. The server signs ``(site, sid, expiry)`` when it first stores a session from
the tracker, and answers the token to the request that did it (``/api/sync``'s ``k``).
Tracker-mode calls that attach data to a session (``/api/identify``, ``/api/leads``) must
present it. Like the identity secret, the key is derived from the server key, so nothing is
stored and every node agrees; rotating ``LEADTRAIL_SECRET_KEY`` voids every token.

Format: ``<sid>.<expiry, unix seconds in hex>.<base64url of 16 MAC bytes>``. The sid comes
first so the tracker can tell which session a token is for without parsing it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from uuid import UUID

_LABEL = b"leadtrail session token v1"
#: a session ends after 30 idle minutes; a week covers any real one and the outbox's day
LIFETIME_SECONDS = 7 * 24 * 3600
_MAC_BYTES = 16


def token_key(server_key: bytes) -> bytes:
    """The key tokens are signed with, derived from the server key."""
    return hmac.new(server_key, _LABEL, hashlib.sha256).digest()


def _mac(key: bytes, site_id: UUID, sid: UUID, expires: int) -> bytes:
    message = site_id.bytes + sid.bytes + expires.to_bytes(8, "big")
    return hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES]


def issue(key: bytes, site_id: UUID, sid: UUID, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + LIFETIME_SECONDS
    mac = base64.urlsafe_b64encode(_mac(key, site_id, sid, expires)).rstrip(b"=").decode()
    return f"{sid}.{expires:x}.{mac}"


def valid(
    key: bytes, site_id: UUID, sid: UUID, token: str | None, now: float | None = None
) -> bool:
    """Whether ``token`` was issued by this server for ``sid`` of ``site_id`` and is unexpired."""
    if not token:
        return False
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != str(sid) or not 1 <= len(parts[1]) <= 12:
        return False
    try:
        expires = int(parts[1], 16)
        given = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (ValueError, binascii.Error):
        return False
    if expires < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(_mac(key, site_id, sid, expires), given)
