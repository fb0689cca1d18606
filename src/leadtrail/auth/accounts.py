"""Account management: change a password, one-time links for invitations and password
resets, delete an account. Runs as the credential role (``leadtrail_auth``); who may do what
is checked by the callers (web routes, CLI) before.

Password hashing runs in a thread (argon2 takes tens of milliseconds of CPU), off the event
loop. A one-time link carries a random token; only its SHA-256 is stored, it expires, and it works
once. An invited account has no usable password until its link is used.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from leadtrail.auth.passwords import check_strength, hash_password, verify_password
from leadtrail.auth.service import AUTH_CLAIMS
from leadtrail.auth.users import normalize_email
from leadtrail.errors import BadRequest, Conflict, NotFound
from leadtrail.storage import Connection, Database
from leadtrail.storage.database import UniqueViolation
from leadtrail.storage.queries import load

Q = load("leadtrail.auth")
#: a password hash no password verifies against (argon2 refuses it): an invited account
NO_PASSWORD = "!invited"
LINK_LIFETIME = {"invite": timedelta(days=7), "reset": timedelta(hours=24)}


@dataclass(frozen=True)
class OneTimeLink:
    user_id: UUID
    email: str
    purpose: str
    token: str
    expires_at: datetime

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/accept#token={self.token}"


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def _issue(
    conn: Connection, user_id: UUID, email: str, purpose: str, by: UUID | None
) -> OneTimeLink:
    token = secrets.token_urlsafe(32)
    # A new link replaces the unused ones of the same purpose.
    await conn.execute(Q.drop_open_tokens, user_id, purpose)
    expires = await conn.fetchval(
        Q.insert_token, _hash(token), user_id, purpose, by, LINK_LIFETIME[purpose]
    )
    return OneTimeLink(user_id, email, purpose, token, expires)


async def change_password(db: Database, user_id: UUID, current: str, new: str) -> None:
    """The caller's own password. Every session of the account ends (a stolen session must
    not outlive the change); the dashboard asks to log in again."""
    check_strength(new)
    async with db.transaction(AUTH_CLAIMS) as conn:
        stored = await conn.fetchval(Q.password_hash, user_id)
        if stored is None or not await asyncio.to_thread(verify_password, stored, current):
            raise BadRequest(
                "the current password is wrong", code="wrong_password", field="current_password"
            )
        await conn.execute(Q.set_password, user_id, await asyncio.to_thread(hash_password, new))
        await conn.execute(Q.end_sessions, user_id)


async def set_password(db: Database, email: str, new: str) -> UUID:
    """An operator's reset (``leadtrail users set-password``): every session is logged out."""
    check_strength(new)
    async with db.transaction(AUTH_CLAIMS) as conn:
        user_id = await conn.fetchval(Q.user_by_email, normalize_email(email))
        if user_id is None:
            raise NotFound(f"no account with email {email}", code="user_not_found")
        await conn.execute(Q.set_password, user_id, await asyncio.to_thread(hash_password, new))
        await conn.execute(Q.end_sessions, user_id)
    return UUID(str(user_id))


async def invite(
    db: Database,
    email: str,
    *,
    by: UUID,
    site_id: UUID | None = None,
    role: str = "viewer",
    name: str = "",
) -> OneTimeLink:
    """Create an account without a password, optionally a member of one site, and its link."""
    email = normalize_email(email)
    async with db.transaction(AUTH_CLAIMS) as conn:
        try:
            user_id = await conn.fetchval(Q.insert_invited_user, email, name, NO_PASSWORD)
        except UniqueViolation:
            raise Conflict(
                f"a user with email {email} already exists", code="user_exists"
            ) from None
        if site_id is not None:
            await conn.execute(Q.add_invited_member, site_id, user_id, role)
        return await _issue(conn, user_id, email, "invite", by)


async def reset_link(db: Database, user_id: UUID, *, by: UUID | None) -> OneTimeLink:
    """A password-reset link for an account (an administrator hands it over)."""
    async with db.transaction(AUTH_CLAIMS) as conn:
        email = await conn.fetchval(Q.user_email, user_id)
        if email is None:
            raise NotFound("no such account", code="user_not_found")
        return await _issue(conn, user_id, email, "reset", by)


async def redeem(db: Database, token: str, password: str) -> str:
    """Set the password through a one-time link; returns the account's e-mail."""
    check_strength(password)
    async with db.transaction(AUTH_CLAIMS) as conn:
        row = await conn.fetchrow(Q.use_token, _hash(token))
        if row is None:
            raise BadRequest(
                "this link is invalid, used or expired", code="invalid_link", field="token"
            )
        await conn.execute(
            Q.set_password, row["user_id"], await asyncio.to_thread(hash_password, password)
        )
        await conn.execute(Q.end_sessions, row["user_id"])
        return str(row["email"])


async def delete_account(db: Database, user_id: UUID, *, by: UUID) -> None:
    """Remove an account (its memberships and sessions go with it)."""
    if user_id == by:
        raise Conflict("you cannot delete your own account", code="cannot_delete_self")
    async with db.transaction(AUTH_CLAIMS) as conn:
        if await conn.fetchval(Q.sole_owner_of, user_id):
            raise Conflict(
                "this account is the only owner of a site: give the site another owner first",
                code="last_owner",
            )
        if await conn.execute(Q.delete_user, user_id) == "DELETE 0":
            raise NotFound("no such account", code="user_not_found")
