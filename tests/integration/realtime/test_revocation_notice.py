"""Revoking a key or logging out reaches open sockets within a second, not at the next
periodic check: here that check is an hour away, so only the revocation notice can close."""

from __future__ import annotations

import time

import httpx
import pytest

from leadtrail.auth.api_keys import create_key, revoke_key
from leadtrail.config import Settings
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.realtime.conftest import Tenants, insert_call, make_settings
from tests.integration.realtime.test_revalidation import (
    _assert_revoked,
    _login,
    _rest_until_closed,
    _subscribe,
)
from tests.integration.realtime.test_wire import raw, until

#: the issue's bound from revocation to the open socket
WITHIN = 1.0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory, realtime_revalidate_interval=3600)


async def test_a_revoked_key_closes_its_socket_within_a_second(
    db: Database, server: LiveServer, tenants: Tenants
) -> None:
    async with db.system() as conn:
        key = await create_key(conn, tenants.site_a, name="to-revoke", scopes=["read"])
    async with raw(server, f"apikey={key.key}&vsn=1.0.0") as ws:
        await _subscribe(ws)
        async with db.system() as conn:
            await insert_call(conn, tenants.site_a, "+15550601")
        await until(ws, lambda m: m.get("event") == "postgres_changes")
        async with db.system() as conn, conn.transaction():
            await revoke_key(conn, tenants.site_a, key.prefix)
        revoked = time.monotonic()
        frames = await _rest_until_closed(ws)
        assert time.monotonic() - revoked < WITHIN
        _assert_revoked(ws, frames)


async def test_logout_closes_the_sessions_socket_within_a_second(
    server: LiveServer, tenants: Tenants
) -> None:
    cookie = await _login(server, tenants)
    async with raw(server, f"apikey={cookie}&vsn=1.0.0") as ws:
        await _subscribe(ws)
        async with httpx.AsyncClient(
            base_url=server.url, cookies={"leadtrail_session": cookie}
        ) as http:
            assert (await http.post("/api/auth/logout")).status_code == 200
        logged_out = time.monotonic()
        frames = await _rest_until_closed(ws)
        assert time.monotonic() - logged_out < WITHIN
        _assert_revoked(ws, frames)
