"""Identity verification for the tracker, the way Intercom and Segment do it.

A browser can claim any e-mail or user id. A site that wants ``leadtrail.identify`` to merge
people signs the user id on its own server with the site's *identity secret*:
``hex(HMAC-SHA256(identity_secret, user_id))``, sent as ``uh`` next to ``id``. A correct hash
makes the call as trusted as a server call with a key; without one, tracker calls never
merge (see docs/security.md).

The identity secret is derived from the server key and the site id, so nothing is stored
and it is the same on every node; rotating ``LEADTRAIL_SECRET_KEY`` rotates it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from uuid import UUID

from leadtrail.auth.signing import signing_key
from leadtrail.config import Settings

_LABEL = b"leadtrail identity secret v1:"


def identity_secret(server_key: bytes, site_id: UUID) -> str:
    """The site's identity secret (64 hex characters)."""
    return hmac.new(server_key, _LABEL + site_id.bytes, hashlib.sha256).hexdigest()


def identity_hash(secret: str, user_id: str) -> str:
    """What the site's server computes and hands to its page for ``user_id``."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verified(secret: str, user_id: str | None, given: str | None) -> bool:
    """Whether ``given`` is the hash of ``user_id`` (constant-time)."""
    if not user_id or not given:
        return False
    return hmac.compare_digest(identity_hash(secret, user_id), given.strip().lower())


@functools.lru_cache(maxsize=8)
def server_key(settings: Settings) -> bytes:
    """The server key, read once per process (it may live in a file)."""
    return signing_key(settings)
