"""Setting, listing and reading a site's call-provider secrets."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from leadtrail.callproviders import vault
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)
KINDS = ("twilio", "hmac")


async def set_secret(
    conn: Connection, site_id: UUID, kind: str, secret: str, server_key: bytes
) -> dict[str, Any]:
    row = await conn.fetchrow(Q.set_provider, site_id, kind, vault.encrypt(server_key, secret))
    assert row is not None
    return dict(row)


async def secret_of(conn: Connection, site_id: UUID, kind: str, server_key: bytes) -> str | None:
    token = await conn.fetchval(Q.get_provider, site_id, kind)
    return vault.decrypt(server_key, token) if isinstance(token, str) else None


async def list_providers(conn: Connection, site_id: UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(Q.list_providers, site_id)]


async def remove(conn: Connection, site_id: UUID, kind: str) -> bool:
    return await conn.fetchval(Q.remove_provider, site_id, kind) is not None
