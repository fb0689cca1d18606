"""Two ``leadtrail serve`` processes on one database are two realtime nodes: each has its
own slot (no "already active" retries), a change reaches the subscribers of both, and
broadcast and presence cross from one node to the other (relay.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from realtime import AsyncRealtimeClient

from leadtrail.auth.api_keys import create_key
from leadtrail.sites.service import create_site
from leadtrail.storage.embedded import EmbeddedPostgres
from tests.integration.realtime.conftest import Inbox, insert_event, subscribed
from tests.integration.realtime.test_sigkill_resume import Server


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    EmbeddedPostgres(data).stop(force=True)


async def test_two_servers_each_stream_and_relay(data_dir: Path, cli_env: dict[str, str]) -> None:
    first, second = Server(data_dir, cli_env), Server(data_dir, cli_env)
    await asyncio.to_thread(first.start)
    await asyncio.to_thread(second.start)  # the same data directory: the same database
    clients: list[AsyncRealtimeClient] = []
    logs = ""
    try:
        dsn = EmbeddedPostgres(data_dir).dsn()
        conn = await asyncpg.connect(dsn)
        try:
            site = await create_site(conn, name="Nodes", domain="nodes.example")
            key = (await create_key(conn, site.id, name="sub", scopes=["read"])).key
            slots = {
                r["slot_name"]: r["active"]
                for r in await conn.fetch(
                    "SELECT slot_name, active FROM pg_replication_slots "
                    "WHERE slot_name LIKE 'leadtrail_rt_%'"
                )
            }
            assert len(slots) == 2 and all(slots.values()), slots

            async def connect(server: Server) -> AsyncRealtimeClient:
                client = AsyncRealtimeClient(server.url + "/realtime/v1", key)
                await client.connect()
                clients.append(client)
                return client

            on_a, on_b = await connect(first), await connect(second)
            # A row written once reaches the subscribers of both nodes.
            inbox_a, inbox_b = Inbox(), Inbox()
            for client, inbox in ((on_a, inbox_a), (on_b, inbox_b)):
                await subscribed(
                    client.channel("rows").on_postgres_changes("INSERT", inbox, table="events")
                )
            event = await insert_event(conn, site.id, action="both")
            for inbox in (inbox_a, inbox_b):
                [got] = await inbox.wait_for(1)
                assert got["data"]["record"]["id"] == str(event)
        finally:
            await conn.close()

        # A broadcast sent on node B reaches a subscriber on node A.
        heard = Inbox()
        room_a = on_a.channel("room")
        room_a.on_broadcast("hello", heard)
        room_b = on_b.channel("room")
        await room_a.subscribe()
        await room_b.subscribe()
        await room_b.send_broadcast("hello", {"from": "b"})
        [message] = await heard.wait_for(1)
        assert message["payload"] == {"from": "b"}

        # Presence tracked on A is in B's state.
        synced = Inbox()
        lobby_a = on_a.channel("lobby", {"config": {"presence": {"key": "ann", "enabled": True}}})
        lobby_b = on_b.channel("lobby", {"config": {"presence": {"key": "ben", "enabled": True}}})
        lobby_b.on_presence_sync(lambda: synced(dict(lobby_b.presence_state())))
        await lobby_a.subscribe()
        await lobby_b.subscribe()
        await lobby_a.track({"status": "online"})
        deadline = asyncio.get_running_loop().time() + 15
        while "ann" not in lobby_b.presence_state():
            assert asyncio.get_running_loop().time() < deadline, lobby_b.presence_state()
            await synced.wait_for(len(synced.items) + 1, timeout=15)
        state: Any = lobby_b.presence_state()
        assert state["ann"][0]["status"] == "online"
    finally:
        for client in clients:
            await client.close()
        logs = first.stop() + second.stop()
    assert "already active" not in logs, logs
    assert "Traceback" not in logs, logs
