"""API keys: ``lt_<prefix>_<secret>``. Only a SHA-256 of the whole key is stored.

The prefix is shown to users to tell keys apart and indexes the lookup; the hash is
compared in constant time. Keys carry 190 bits of randomness, so a fast hash is enough
(a slow one would only make every request slower).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from leadtrail.auth import revocation
from leadtrail.errors import BadRequest, NotFound
from leadtrail.storage import Connection

SCOPES = ("ingest", "read", "admin")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SECRET_ALPHABET = _ALPHABET + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FORMAT = re.compile(r"^(lt_[a-z0-9]{8})_([A-Za-z0-9]{32})$")


@dataclass(frozen=True)
class NewKey:
    """A key as created: the only time its full text exists."""

    id: UUID
    site_id: UUID
    key: str
    prefix: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class KeyInfo:
    id: UUID
    site_id: UUID
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


def generate() -> tuple[str, str]:
    """A fresh (key, prefix) pair."""
    prefix = "lt_" + "".join(secrets.choice(_ALPHABET) for _ in range(8))
    secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(32))
    return f"{prefix}_{secret}", prefix


def parse_prefix(key: str) -> str | None:
    match = _FORMAT.match(key)
    return match[1] if match else None


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def normalize_scopes(scopes: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(sorted({s.strip().lower() for s in scopes if s.strip()}))
    unknown = [s for s in cleaned if s not in SCOPES]
    if unknown or not cleaned:
        raise BadRequest(
            f"scopes must be among {', '.join(SCOPES)}", code="invalid_scope", field="scopes"
        )
    return cleaned


async def create_key(
    conn: Connection,
    site_id: UUID,
    *,
    name: str,
    scopes: list[str] | tuple[str, ...],
    created_by: UUID | None = None,
    expires_at: datetime | None = None,
) -> NewKey:
    scopes = normalize_scopes(scopes)
    key, prefix = generate()
    key_id = await conn.fetchval(
        """
        INSERT INTO api_keys (site_id, name, prefix, key_hash, scopes, created_by, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id
        """,
        site_id,
        name,
        prefix,
        hash_key(key),
        list(scopes),
        created_by,
        expires_at,
    )
    return NewKey(key_id, site_id, key, prefix, scopes)


async def list_keys(conn: Connection, site_id: UUID) -> list[KeyInfo]:
    rows = await conn.fetch(
        """
        SELECT id, site_id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at
        FROM api_keys WHERE site_id = $1 ORDER BY created_at
        """,
        site_id,
    )
    return [KeyInfo(**{**dict(r), "scopes": tuple(r["scopes"])}) for r in rows]


async def revoke_key(conn: Connection, site_id: UUID, key_id_or_prefix: str) -> KeyInfo:
    """Revoke by id or prefix; revoking twice keeps the first time."""
    try:
        key_id: UUID | None = UUID(key_id_or_prefix)
    except ValueError:
        key_id = None
    row = await conn.fetchrow(
        """
        UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
        WHERE site_id = $1 AND (id = $2 OR prefix = $3)
        RETURNING id, site_id, name, prefix, scopes, created_at, last_used_at, expires_at, revoked_at
        """,
        site_id,
        key_id,
        key_id_or_prefix,
    )
    if row is None:
        raise NotFound(f"no API key {key_id_or_prefix!r} on this site", code="key_not_found")
    await revocation.announce(conn)  # open sockets using the key close within a second
    return KeyInfo(**{**dict(row), "scopes": tuple(row["scopes"])})
