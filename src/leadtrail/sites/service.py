"""Creating and listing sites; every site has an owner membership when a user is given."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from leadtrail.errors import BadRequest, Conflict, NotFound
from leadtrail.sites.domains import normalize_domain
from leadtrail.storage import Connection
from leadtrail.storage.database import UniqueViolation

_PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
_COLUMNS = "id, public_id, name, domain, allowed_origins, settings, timezone, created_at"


@dataclass(frozen=True)
class Site:
    id: UUID
    public_id: str
    name: str
    domain: str
    allowed_origins: tuple[str, ...]
    settings: dict[str, Any] = field(hash=False)
    timezone: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Site:
        data = dict(row)
        data["allowed_origins"] = tuple(data["allowed_origins"])
        return cls(**data)


def snippet(public_id: str, base_url: str) -> str:
    """The one tag a site adds to its pages."""
    return f'<script defer src="{base_url}/assets/core.js" data-site-id="{public_id}"></script>'


def new_public_id() -> str:
    return "site_" + secrets.token_hex(6)


async def create_site(
    conn: Connection,
    *,
    name: str,
    domain: str,
    owner_id: UUID | None = None,
    public_id: str | None = None,
    allowed_origins: list[str] | tuple[str, ...] = (),
    timezone: str = "UTC",
) -> Site:
    domain = normalize_domain(domain)
    origins = sorted({normalize_domain(o, field="allowed_origins") for o in allowed_origins})
    public_id = public_id or new_public_id()
    if not _PUBLIC_ID.match(public_id):
        raise BadRequest(
            "public id must be 4-64 letters, digits, '_' or '-'",
            code="invalid_public_id",
            field="public_id",
        )
    if not name.strip():
        raise BadRequest("a site name is required", code="invalid_name", field="name")
    valid_tz = await conn.fetchval(
        "SELECT count(*) FROM pg_timezone_names WHERE name = $1", timezone
    )
    if not valid_tz:
        raise BadRequest(
            f"unknown time zone {timezone!r}", code="invalid_timezone", field="timezone"
        )
    try:
        row = await conn.fetchrow(
            f"""
            INSERT INTO sites (public_id, name, domain, allowed_origins, timezone, created_by)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}
            """,
            public_id,
            name.strip(),
            domain,
            origins,
            timezone,
            owner_id,
        )
    except UniqueViolation:
        raise Conflict(
            f"a site with public id {public_id!r} already exists", code="site_exists"
        ) from None
    site = Site.from_row(row)
    if owner_id is not None:
        await conn.execute(
            "INSERT INTO site_members (site_id, user_id, role) VALUES ($1, $2, 'owner')",
            site.id,
            owner_id,
        )
    return site


async def list_sites(conn: Connection) -> list[Site]:
    rows = await conn.fetch(f"SELECT {_COLUMNS} FROM sites ORDER BY created_at")
    return [Site.from_row(r) for r in rows]


async def get_site(conn: Connection, ref: str | UUID) -> Site:
    """By id or public id; absent and invisible (RLS) look the same."""
    site_id: UUID | None
    try:
        site_id = ref if isinstance(ref, UUID) else UUID(ref)
    except ValueError:
        site_id = None
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM sites WHERE id = $1 OR public_id = $2", site_id, str(ref)
    )
    if row is None:
        raise NotFound(f"no site {ref!s}", code="site_not_found")
    return Site.from_row(row)


async def add_member(conn: Connection, site_id: UUID, user_id: UUID, role: str) -> None:
    if role not in ("owner", "admin", "analyst", "viewer"):
        raise BadRequest(
            "role must be owner, admin, analyst or viewer", code="invalid_role", field="role"
        )
    await conn.execute(
        """
        INSERT INTO site_members (site_id, user_id, role) VALUES ($1, $2, $3)
        ON CONFLICT (site_id, user_id) DO UPDATE SET role = EXCLUDED.role
        """,
        site_id,
        user_id,
        role,
    )
