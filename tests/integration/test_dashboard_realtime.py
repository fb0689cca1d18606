"""The dashboard's realtime use: with its session cookie (no API key) a user of site A
receives A's new events over /realtime/v1/websocket, and never a message about site B, even
when asking for B's rows by filter or asking for everything."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from leadtrail.auth.users import create_user
from leadtrail.config import Settings
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """With the realtime change feed on (the shared fixture leaves it off)."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret",
        pool_min_size=1,
        pool_max_size=5,
        log_level="warning",
        realtime_enabled=True,
        realtime_poll_interval=0.01,
    )


@pytest.fixture(scope="module")
async def sites(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        alice = await create_user(conn, "alice@rt.example", "correct horse")
        bob = await create_user(conn, "bob@rt.example", "correct horse")
        a = await create_site(conn, name="A", domain="a.example", owner_id=alice.id)
        b = await create_site(conn, name="B", domain="b.example", owner_id=bob.id)
    return {"a": a, "b": b}


@pytest.fixture
async def socket(server: LiveServer, sites: dict[str, Any]) -> AsyncIterator[ClientConnection]:
    async with httpx.AsyncClient(base_url=server.url) as http:
        if not (await http.get("/api/dashboard/session")).json()["features"]["realtime"]:
            pytest.skip("the realtime WebSocket is not on this server yet")
        await http.post(
            "/api/auth/login", json={"email": "alice@rt.example", "password": "correct horse"}
        )
        cookie = http.cookies["leadtrail_session"]
    url = server.url.replace("http://", "ws://") + "/realtime/v1/websocket?vsn=1.0.0"
    async with connect(url, additional_headers={"Cookie": f"leadtrail_session={cookie}"}) as ws:
        yield ws


async def join(
    ws: ClientConnection, topic: str, ref: str, change: dict[str, Any]
) -> dict[str, Any]:
    await ws.send(
        json.dumps(
            {
                "topic": topic,
                "event": "phx_join",
                "ref": ref,
                "join_ref": ref,
                "payload": {
                    "config": {
                        "broadcast": {"self": False},
                        "presence": {"key": ""},
                        "postgres_changes": [change],
                    }
                },
            }
        )
    )
    while True:
        message = json.loads(await ws.recv())
        if message["topic"] == topic and message["event"] == "phx_reply" and message["ref"] == ref:
            return message


async def insert_event(db: Database, site_id: uuid.UUID, url: str) -> None:
    async with db.system() as conn:
        session = uuid.uuid4()
        await conn.execute(
            "INSERT INTO sessions (site_id, id, created_month) VALUES ($1, $2, date_trunc('month', now() AT TIME ZONE 'UTC'))",
            site_id,
            session,
        )
        await conn.execute(
            "INSERT INTO events (site_id, session_id, session_month, url, event_category, event_action) "
            "VALUES ($1, $2, date_trunc('month', now() AT TIME ZONE 'UTC'), $3, 'interaction', 'page_view')",
            site_id,
            session,
            url,
        )


async def test_cookie_socket_sees_own_site_only(
    socket: ClientConnection, sites: dict[str, Any], db: Database
) -> None:
    a, b = str(sites["a"].id), str(sites["b"].id)
    own = await join(
        socket,
        "realtime:own",
        "1",
        {"event": "INSERT", "schema": "public", "table": "events", "filter": f"site_id=eq.{a}"},
    )
    assert own["payload"]["status"] == "ok"
    # asking for B's rows by filter, or for every row, must not reveal B
    await join(
        socket,
        "realtime:other",
        "2",
        {"event": "INSERT", "schema": "public", "table": "events", "filter": f"site_id=eq.{b}"},
    )
    await join(socket, "realtime:all", "3", {"event": "*", "schema": "public", "table": "events"})

    marker_b = f"https://b.example/{uuid.uuid4().hex}"
    marker_a = f"https://a.example/{uuid.uuid4().hex}"
    await insert_event(db, sites["b"].id, marker_b)
    await insert_event(db, sites["a"].id, marker_a)  # committed after B's: arrives after it

    seen: list[str] = []

    async def until_own_event() -> None:
        while True:
            message = json.loads(await socket.recv())
            if message["event"] == "postgres_changes":
                seen.append(json.dumps(message))
            if message["event"] == "postgres_changes" and message["topic"] == "realtime:own":
                record = message["payload"]["data"]["record"]
                if record["url"] == marker_a:
                    return

    await asyncio.wait_for(until_own_event(), timeout=10)
    assert not any(marker_b in text or b in text for text in seen)
