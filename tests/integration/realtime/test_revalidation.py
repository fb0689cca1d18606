"""Open connections do not outlive their credentials: a revoked key or a logged-out session
closes the socket at the next check, and a user's lost membership stops that site's rows."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from leadtrail.auth.api_keys import create_key, revoke_key
from leadtrail.config import Settings
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.realtime.conftest import Tenants, insert_call, make_settings
from tests.integration.realtime.test_wire import raw, recv_json, until, v1

#: short, so that the test does not wait long; the wait itself is event-driven
INTERVAL = 0.2
CALLS = {
    "config": {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "calls"}]}
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory, realtime_revalidate_interval=INTERVAL)


async def _subscribe(ws: ClientConnection, topic: str = "realtime:calls") -> None:
    await ws.send(v1(topic, "phx_join", CALLS, ref="join"))
    await until(ws, lambda m: m.get("payload", {}).get("message") == "Subscribed to PostgreSQL")


async def _rest_until_closed(ws: ClientConnection) -> list[Any]:
    """Every frame up to the server's close (which must come within 10 s)."""
    frames: list[Any] = []
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        while True:
            frames.append(await recv_json(ws, timeout=10))
    return frames


def _assert_revoked(ws: ClientConnection, frames: list[Any]) -> None:
    assert ws.close_code == 1008
    errors = [i for i, f in enumerate(frames) if f["event"] == "system"]
    assert errors, frames
    first = frames[errors[0]]
    assert first["topic"] == "realtime:calls" and first["payload"]["status"] == "error"
    assert first["payload"]["message"].startswith("InvalidAccessToken")
    after = frames[errors[0] + 1 :]
    assert [f["event"] for f in after] == ["phx_close"]  # and no row after the error


async def test_a_revoked_key_is_disconnected_and_gets_no_more_rows(
    db: Database, server: LiveServer, tenants: Tenants
) -> None:
    async with db.system() as conn:
        key = await create_key(conn, tenants.site_a, name="short-lived", scopes=["read"])
    async with raw(server, f"apikey={key.key}&vsn=1.0.0") as ws:
        await _subscribe(ws)
        async with db.system() as conn:
            await insert_call(conn, tenants.site_a, "+15550501")
        change = await until(ws, lambda m: m.get("event") == "postgres_changes")
        assert change["payload"]["data"]["record"]["phone_number"] == "+15550501"
        async with db.system() as conn:
            await revoke_key(conn, tenants.site_a, key.prefix)
            await insert_call(conn, tenants.site_a, "+15550502")
        frames = await _rest_until_closed(ws)
        _assert_revoked(ws, frames)
    # and it cannot come back
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with raw(server, f"apikey={key.key}&vsn=1.0.0"):
            pass


async def _login(server: LiveServer, tenants: Tenants) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = await http.post(
            "/api/auth/login", json={"email": tenants.user_email, "password": tenants.user_password}
        )
        assert login.status_code == 200
        return login.cookies["leadtrail_session"]


async def test_a_logged_out_session_is_disconnected(server: LiveServer, tenants: Tenants) -> None:
    cookie = await _login(server, tenants)
    async with raw(server, f"apikey={cookie}&vsn=1.0.0") as ws:
        await _subscribe(ws)
        async with httpx.AsyncClient(
            base_url=server.url, cookies={"leadtrail_session": cookie}
        ) as http:
            assert (await http.post("/api/auth/logout")).status_code == 200
        _assert_revoked(ws, await _rest_until_closed(ws))


async def test_a_lost_membership_stops_that_sites_rows(
    db: Database, server: LiveServer, tenants: Tenants
) -> None:
    cookie = await _login(server, tenants)
    async with db.system() as conn:
        user_id: UUID = await conn.fetchval(
            "SELECT id FROM app_users WHERE email = $1", tenants.user_email
        )
    async with raw(server, f"apikey={cookie}&vsn=1.0.0") as ws:
        await _subscribe(ws)
        async with db.system() as conn:
            await conn.execute(
                "DELETE FROM site_members WHERE site_id = $1 AND user_id = $2",
                tenants.site_b,
                user_id,
            )
        try:
            # Rounds of (B, then A): until the next check, B's rows still arrive; from then
            # on, A's row comes alone.
            async def round_(n: int) -> list[str]:
                async with db.system() as conn:
                    await insert_call(conn, tenants.site_b, f"+1555070{n:02d}")
                    await insert_call(conn, tenants.site_a, f"+1555080{n:02d}")
                got: list[str] = []
                while not got or not got[-1].startswith("+1555080"):
                    change = await until(ws, lambda m: m.get("event") == "postgres_changes")
                    got.append(change["payload"]["data"]["record"]["phone_number"])
                return got

            async def until_narrowed() -> int:
                n = 0
                while len(await round_(n)) > 1:
                    n += 1
                return n

            n = await asyncio.wait_for(until_narrowed(), 15)
            for later in range(n + 1, n + 4):
                assert await round_(later) == [f"+1555080{later:02d}"]
        finally:
            async with db.system() as conn:
                await conn.execute(
                    "INSERT INTO site_members (site_id, user_id, role) VALUES ($1, $2, 'viewer')",
                    tenants.site_b,
                    user_id,
                )
