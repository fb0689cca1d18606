"""Changing a site and its members (the dashboard's Settings page). Callers pass a
connection running as the acting user, so RLS keeps every statement inside that user's
sites; the role rules (who may touch owners) are checked here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from leadtrail.errors import BadRequest, Conflict, Forbidden, NotFound
from leadtrail.sites import settings as site_settings
from leadtrail.sites.changes import announce as changes_announce
from leadtrail.sites.domains import normalize_domain
from leadtrail.sites.service import Site, get_site
from leadtrail.storage import Connection

ROLES = ("owner", "admin", "analyst", "viewer")


async def valid_timezone(conn: Connection, name: str) -> str:
    found = await conn.fetchval("SELECT count(*) FROM pg_timezone_names WHERE name = $1", name)
    if not found:
        raise BadRequest(f"unknown time zone {name!r}", code="invalid_timezone", field="timezone")
    return name


async def update_site(conn: Connection, site_id: UUID, changes: Mapping[str, Any]) -> Site:
    """Apply the given fields (name, domain, allowed_origins, timezone, settings)."""
    site = await get_site(conn, site_id)
    name = site.name
    if "name" in changes:
        name = str(changes["name"]).strip()
        if not name:
            raise BadRequest("a site name is required", code="invalid_name", field="name")
    domain = normalize_domain(changes["domain"]) if "domain" in changes else site.domain
    origins = list(site.allowed_origins)
    if "allowed_origins" in changes:
        origins = sorted(
            {normalize_domain(o, field="allowed_origins") for o in changes["allowed_origins"]}
        )
    timezone = site.timezone
    if "timezone" in changes:
        timezone = await valid_timezone(conn, str(changes["timezone"]))
    stored = site.settings
    if "settings" in changes:
        stored = site_settings.apply_patch(site.settings, changes["settings"])
    row = await conn.fetchrow(
        """
        UPDATE sites SET name = $2, domain = $3, allowed_origins = $4, timezone = $5,
                         settings = $6, updated_at = now()
        WHERE id = $1
        RETURNING id, public_id, name, domain, allowed_origins, settings, timezone, created_at
        """,
        site_id,
        name,
        domain,
        origins,
        timezone,
        stored,
    )
    if row is None:
        raise NotFound("no such site", code="site_not_found")
    await changes_announce(conn)  # every process's ingest cache forgets the old settings
    return Site.from_row(row)


@dataclass(frozen=True)
class Member:
    user_id: UUID
    email: str
    name: str
    role: str
    created_at: datetime
    last_login_at: datetime | None


async def list_members(conn: Connection, site_id: UUID) -> list[Member]:
    rows = await conn.fetch("SELECT * FROM leadtrail.site_member_list($1)", site_id)
    return [Member(**dict(r)) for r in rows]


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise BadRequest(
            "role must be owner, admin, analyst or viewer", code="invalid_role", field="role"
        )
    return role


def _owner_only(actor_role: str | None) -> None:
    if actor_role != "owner":
        raise Forbidden("only an owner may grant, change or remove ownership", code="owner_only")


async def _member_role(conn: Connection, site_id: UUID, user_id: UUID) -> str:
    role = await conn.fetchval(
        "SELECT role FROM site_members WHERE site_id = $1 AND user_id = $2", site_id, user_id
    )
    if role is None:
        raise NotFound("no such member of this site", code="member_not_found")
    return str(role)


async def _check_not_last_owner(conn: Connection, site_id: UUID) -> None:
    # Locking the owner rows serialises two concurrent demotions of the last two owners.
    owners = await conn.fetchval(
        """
        SELECT count(*) FROM (SELECT 1 FROM site_members
                              WHERE site_id = $1 AND role = 'owner' FOR UPDATE) AS o
        """,
        site_id,
    )
    if owners <= 1:
        raise Conflict("a site keeps at least one owner", code="last_owner")


async def add_member(
    conn: Connection, site_id: UUID, email: str, role: str, *, actor_role: str | None
) -> Member:
    _check_role(role)
    if role == "owner":
        _owner_only(actor_role)
    user_id = await conn.fetchval("SELECT leadtrail.user_id_by_email($1)", email)
    if user_id is None:
        raise NotFound(
            f"no leadtrail account with email {email.strip().lower()}; create it first "
            "(leadtrail users create)",
            code="user_not_found",
            field="email",
        )
    inserted = await conn.fetchval(
        """
        INSERT INTO site_members (site_id, user_id, role) VALUES ($1, $2, $3)
        ON CONFLICT (site_id, user_id) DO NOTHING RETURNING user_id
        """,
        site_id,
        user_id,
        role,
    )
    if inserted is None:
        raise Conflict("this user is already a member of the site", code="member_exists")
    return next(m for m in await list_members(conn, site_id) if m.user_id == user_id)


async def change_role(
    conn: Connection, site_id: UUID, user_id: UUID, role: str, *, actor_role: str | None
) -> Member:
    _check_role(role)
    current = await _member_role(conn, site_id, user_id)
    if "owner" in (role, current) and role != current:
        _owner_only(actor_role)
    if current == "owner" and role != "owner":
        await _check_not_last_owner(conn, site_id)
    await conn.execute(
        "UPDATE site_members SET role = $3 WHERE site_id = $1 AND user_id = $2",
        site_id,
        user_id,
        role,
    )
    return next(m for m in await list_members(conn, site_id) if m.user_id == user_id)


async def remove_member(
    conn: Connection, site_id: UUID, user_id: UUID, *, actor_role: str | None
) -> None:
    current = await _member_role(conn, site_id, user_id)
    if current == "owner":
        _owner_only(actor_role)
        await _check_not_last_owner(conn, site_id)
    await conn.execute(
        "DELETE FROM site_members WHERE site_id = $1 AND user_id = $2", site_id, user_id
    )
