"""Endpoint management and the delivery log (runs under the caller's claims)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from leadtrail.errors import BadRequest
from leadtrail.storage import Connection
from leadtrail.webhooks.events import EVENT_TYPES
from leadtrail.webhooks.outbox import Q
from leadtrail.webhooks.secrets import SecretBox, new_secret

FORMATS = ("standard", "slack")


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise BadRequest("url must be an http(s) URL", code="invalid_webhook")
    return url


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if not events or unknown:
        raise BadRequest(
            f"events must be a non-empty list of: {', '.join(EVENT_TYPES)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
            code="invalid_webhook",
        )
    return sorted(set(events))


async def create_endpoint(
    conn: Connection,
    box: SecretBox,
    site_id: UUID,
    *,
    url: str,
    events: list[str],
    format: str,
    description: str | None,
    max_concurrency: int,
) -> dict[str, Any]:
    """A new endpoint and its signing secret (returned once, stored encrypted)."""
    secret = new_secret()
    row = await conn.fetchrow(
        Q.create_endpoint,
        site_id,
        check_url(url),
        description,
        check_events(events),
        format,
        box.seal(secret),
        max_concurrency,
    )
    assert row is not None
    return dict(row) | {"secret": secret}


async def list_endpoints(conn: Connection, site_id: UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await conn.fetch(Q.list_endpoints, site_id)]


async def update_endpoint(
    conn: Connection, site_id: UUID, endpoint_id: UUID, changes: dict[str, Any]
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        Q.update_endpoint,
        site_id,
        endpoint_id,
        check_url(changes["url"]) if changes.get("url") else None,
        changes.get("description"),
        check_events(changes["events"]) if changes.get("events") is not None else None,
        changes.get("format"),
        changes.get("max_concurrency"),
        changes.get("enabled"),
    )
    return dict(row) if row else None


async def delete_endpoint(conn: Connection, site_id: UUID, endpoint_id: UUID) -> bool:
    return await conn.fetchval(Q.delete_endpoint, site_id, endpoint_id) is not None


async def deliveries(
    conn: Connection, site_id: UUID, endpoint_id: UUID, status: str | None, limit: int
) -> list[dict[str, Any]]:
    """The endpoint's delivery log, newest first, each with its attempts."""
    rows = [dict(r) for r in await conn.fetch(Q.deliveries, site_id, endpoint_id, status, limit)]
    attempts: dict[UUID, list[dict[str, Any]]] = {}
    for a in await conn.fetch(Q.attempts, site_id, [r["id"] for r in rows]):
        item = dict(a)
        attempts.setdefault(item.pop("delivery_id"), []).append(item)
    for r in rows:
        r["webhook_id"] = f"msg_{r['id'].hex}"
        r["attempt_log"] = attempts.get(r["id"], [])
    return rows


async def replay(
    conn: Connection, site_id: UUID, endpoint_id: UUID, delivery_id: UUID
) -> dict[str, Any] | None:
    row = await conn.fetchrow(Q.replay, site_id, endpoint_id, delivery_id)
    return dict(row) if row else None
