"""Turning credentials into a ``Principal``: passwords, dashboard cookies, API keys.

Every lookup runs as ``leadtrail_auth``, a role that can read credentials but no
visitor data. Failures share one error per kind so a caller learns nothing about
which part was wrong (unknown, revoked and expired keys look the same).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from uuid import UUID

from itsdangerous import BadSignature, TimestampSigner

from leadtrail.auth import api_keys, revocation
from leadtrail.auth.passwords import burn_verification_time, verify_password
from leadtrail.auth.principal import Principal, SiteRole
from leadtrail.auth.throttle import LoginThrottle
from leadtrail.auth.users import normalize_email
from leadtrail.errors import BadRequest, Unauthorized
from leadtrail.storage import Claims, Connection, Database, DbRole

AUTH_CLAIMS = Claims(role=DbRole.AUTH, sub="auth")
COOKIE_NAME = "leadtrail_session"


def _invalid_key() -> Unauthorized:
    return Unauthorized("the API key is invalid, revoked or expired", code="invalid_api_key")


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class Login:
    principal: Principal
    cookie_value: str


class Authenticator:
    def __init__(
        self,
        db: Database,
        signing_key: bytes,
        session_max_age: int,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._db = db
        self._signer = TimestampSigner(signing_key, salt="leadtrail.dashboard-session")
        self._max_age = session_max_age
        self._throttle = throttle
        # argon2 takes ~50 ms of CPU and 64 MiB each: hashes run in threads, off the event
        # loop, and no more at once than there are cores.
        self._hash_slots = asyncio.Semaphore(os.cpu_count() or 1)

    # -- dashboard users -------------------------------------------------------------

    async def _verify(self, password_hash: str | None, password: str) -> bool:
        async with self._hash_slots:
            if password_hash is None:
                await asyncio.to_thread(burn_verification_time, password)
                return False
            return await asyncio.to_thread(verify_password, password_hash, password)

    async def login(
        self, email: str, password: str, user_agent: str = "", ip: str | None = None
    ) -> Login:
        try:
            email = normalize_email(email)
        except BadRequest:
            email = ""
        account = email or "invalid"
        if self._throttle is not None:
            await self._throttle.admit(ip, account)
        # The credential is read, then checked with no transaction open (the check takes
        # tens of milliseconds and must not hold a pooled connection).
        async with self._db.transaction(AUTH_CLAIMS) as conn:
            row = await conn.fetchrow(
                "SELECT id, password_hash, disabled_at FROM app_users WHERE email = $1", email
            )
        matches = await self._verify(row["password_hash"] if row else None, password)
        if row is None or not matches or row["disabled_at"]:
            if self._throttle is not None:
                await self._throttle.failed(account)
            raise Unauthorized("wrong email or password", code="invalid_credentials")
        async with self._db.transaction(AUTH_CLAIMS) as conn:
            return await self.start_session(conn, row["id"], user_agent)

    async def start_session(self, conn: Connection, user_id: UUID, user_agent: str = "") -> Login:
        """A new dashboard session for an authenticated user (password or single sign-on),
        in the caller's credential-role transaction."""
        token = secrets.token_urlsafe(32)
        await conn.execute(
            """
            INSERT INTO dashboard_sessions (token_hash, user_id, expires_at, user_agent)
            VALUES ($1, $2, now() + make_interval(secs => $3), $4)
            """,
            _token_hash(token),
            user_id,
            self._max_age,
            user_agent[:300],
        )
        await conn.execute("UPDATE app_users SET last_login_at = now() WHERE id = $1", user_id)
        principal = await self._user_principal(conn, user_id)
        assert principal is not None
        return Login(principal, self._signer.sign(token).decode())

    async def logout(self, cookie_value: str) -> None:
        token = self._unsign(cookie_value)
        if token is None:
            return
        async with self._db.transaction(AUTH_CLAIMS) as conn:
            await conn.execute(
                "DELETE FROM dashboard_sessions WHERE token_hash = $1", _token_hash(token)
            )
            await revocation.announce(conn)

    async def from_session_token(self, cookie_value: str) -> Principal | None:
        """The user behind a dashboard cookie (also accepted as a realtime ``apikey``)."""
        token = self._unsign(cookie_value)
        if token is None:
            return None
        async with self._db.transaction(AUTH_CLAIMS) as conn:
            user_id = await conn.fetchval(
                """
                UPDATE dashboard_sessions SET last_seen_at = now()
                WHERE token_hash = $1 AND expires_at > now()
                RETURNING user_id
                """,
                _token_hash(token),
            )
            if user_id is None:
                return None
            return await self._user_principal(conn, user_id)

    def _unsign(self, cookie_value: str) -> str | None:
        try:
            return self._signer.unsign(cookie_value, max_age=self._max_age).decode()
        except (BadSignature, UnicodeDecodeError):
            return None

    async def _user_principal(self, conn: Connection, user_id: UUID) -> Principal | None:
        user = await conn.fetchrow(
            "SELECT id, email, is_superuser, disabled_at FROM app_users WHERE id = $1", user_id
        )
        if user is None or user["disabled_at"] is not None:
            return None
        rows = await conn.fetch(
            "SELECT site_id, role FROM site_members WHERE user_id = $1", user_id
        )
        return Principal(
            kind="user",
            id=user["id"],
            name=user["email"],
            memberships={r["site_id"]: SiteRole(r["role"]) for r in rows},
            is_superuser=user["is_superuser"],
        )

    # -- API keys --------------------------------------------------------------------

    async def from_api_key(self, key: str) -> Principal:
        prefix = api_keys.parse_prefix(key.strip())
        presented = api_keys.hash_key(key.strip())
        async with self._db.transaction(AUTH_CLAIMS) as conn:
            rows = (
                await conn.fetch(
                    """
                    SELECT site_id, id, key_hash, scopes,
                           revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) AS usable
                    FROM api_keys WHERE prefix = $1
                    """,
                    prefix,
                )
                if prefix
                else []
            )
            match = None
            for row in rows:
                if hmac.compare_digest(bytes(row["key_hash"]), presented) and row["usable"]:
                    match = row
            if not rows:
                hmac.compare_digest(presented, presented)  # same work as a miss on a known prefix
            if match is None:
                raise _invalid_key()
            await conn.execute(
                """
                UPDATE api_keys SET last_used_at = now()
                WHERE site_id = $1 AND id = $2
                  AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
                """,
                match["site_id"],
                match["id"],
            )
        return Principal(
            kind="api_key",
            id=match["id"],
            name=prefix or "",
            memberships={match["site_id"]: SiteRole.VIEWER},
            scopes=frozenset(match["scopes"]),
        )

    async def from_bearer(self, authorization: str) -> Principal:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            raise Unauthorized("use 'Authorization: Bearer <api key>'", code="invalid_api_key")
        return await self.from_api_key(credentials)
