"""Dashboard accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from leadtrail.auth.passwords import check_strength, hash_password
from leadtrail.errors import BadRequest, Conflict
from leadtrail.storage import Connection
from leadtrail.storage.database import UniqueViolation

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    name: str
    is_superuser: bool
    created_at: datetime
    last_login_at: datetime | None


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 254:
        raise BadRequest(f"{email!r} is not an email address", code="invalid_email", field="email")
    return cleaned


async def create_user(
    conn: Connection, email: str, password: str, *, name: str = "", is_superuser: bool = False
) -> User:
    email = normalize_email(email)
    check_strength(password, (email, name))
    try:
        row = await conn.fetchrow(
            """
            INSERT INTO app_users (email, name, password_hash, is_superuser)
            VALUES ($1, $2, $3, $4)
            RETURNING id, email, name, is_superuser, created_at, last_login_at
            """,
            email,
            name,
            hash_password(password),
            is_superuser,
        )
    except UniqueViolation:
        raise Conflict(f"a user with email {email} already exists", code="user_exists") from None
    assert row is not None
    return User(**dict(row))


async def list_users(conn: Connection) -> list[User]:
    rows = await conn.fetch(
        "SELECT id, email, name, is_superuser, created_at, last_login_at FROM app_users ORDER BY created_at"
    )
    return [User(**dict(r)) for r in rows]


async def find_user(conn: Connection, email: str) -> User | None:
    row = await conn.fetchrow(
        "SELECT id, email, name, is_superuser, created_at, last_login_at FROM app_users WHERE email = $1",
        normalize_email(email),
    )
    return User(**dict(row)) if row else None


async def count_users(conn: Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM app_users"))
