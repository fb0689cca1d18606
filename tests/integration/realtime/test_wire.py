"""The wire protocol with hand-written frames: vsn 2.0.0 arrays and binary broadcasts, the
dashboard cookie, REST broadcast, limits and slow consumers."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from leadtrail.config import Settings
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.realtime.conftest import (
    Tenants,
    insert_call,
    make_settings,
)

MAX_QUEUE = 200


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        realtime_max_channels=3,
        realtime_max_messages_per_second=30,
        realtime_max_queue=MAX_QUEUE,
    )


def ws_base(server: LiveServer) -> str:
    return server.url.replace("http", "ws", 1) + "/realtime/v1/websocket"


@asynccontextmanager
async def raw(server: LiveServer, query: str, **kwargs: Any) -> AsyncIterator[ClientConnection]:
    async with websockets.connect(f"{ws_base(server)}?{query}", **kwargs) as ws:
        yield ws


async def recv_json(ws: ClientConnection, timeout: float = 10) -> Any:
    return orjson.loads(await asyncio.wait_for(ws.recv(), timeout))


async def until(ws: ClientConnection, test: Any, timeout: float = 10) -> Any:
    async def loop() -> Any:
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                if test(message):
                    return message
                continue
            value = orjson.loads(message)
            if test(value):
                return value

    return await asyncio.wait_for(loop(), timeout)


def v1(topic: str, event: str, payload: Any, ref: str | None = "1") -> str:
    return orjson.dumps({"topic": topic, "event": event, "payload": payload, "ref": ref}).decode()


def v2(topic: str, event: str, payload: Any, ref: str | None = "1") -> str:
    return orjson.dumps([ref, ref, topic, event, payload]).decode()


def binary_push(topic: str, event: str, body: bytes, encoding: int, ref: str = "") -> bytes:
    head = struct.pack("!7B", 3, 0, len(ref), len(topic), len(event), 0, encoding)
    return head + (ref + topic + event).encode() + body


async def test_vsn2_arrays_and_binary_broadcasts(server: LiveServer, tenants: Tenants) -> None:
    query = f"apikey={tenants.key_a}&vsn=2.0.0"
    async with raw(server, query) as sender, raw(server, query) as receiver:
        async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as old:
            for ws, make in ((sender, v2), (receiver, v2), (old, v1)):
                await ws.send(
                    make("realtime:bin", "phx_join", {"config": {"broadcast": {"ack": True}}})
                )
            for ws in (sender, receiver):
                _join_ref, ref, topic, event, payload = await recv_json(ws)
                assert (ref, topic, event, payload["status"]) == (
                    "1",
                    "realtime:bin",
                    "phx_reply",
                    "ok",
                )
            assert (await recv_json(old))["payload"]["status"] == "ok"

            await sender.send(binary_push("realtime:bin", "blob", b"\x00\x01\xfe", 0, ref="9"))
            ack = await recv_json(sender)
            assert ack[1] == "9" and ack[4] == {"status": "ok", "response": {}}
            frame = await asyncio.wait_for(receiver.recv(), 10)
            assert isinstance(frame, bytes) and frame[0] == 4
            assert frame.endswith(b"realtime:binblob\x00\x01\xfe")

            await sender.send(binary_push("realtime:bin", "json", b'{"x": 2}', 1))
            got = await until(receiver, lambda m: isinstance(m, list) and m[3] == "broadcast")
            assert got[4] == {"type": "broadcast", "event": "json", "payload": {"x": 2}}
            # vsn 1.0.0 has no binary frames: it gets the JSON broadcast only
            first = await recv_json(old)
            assert first["event"] == "broadcast" and first["payload"]["event"] == "json"


async def test_heartbeat_unmatched_topic_and_join_errors(
    server: LiveServer, tenants: Tenants
) -> None:
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as ws:
        await ws.send(v1("phoenix", "heartbeat", {}, ref="h"))
        assert await recv_json(ws) == {
            "topic": "phoenix",
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
            "ref": "h",
            "join_ref": None,
        }
        await ws.send(v1("realtime:nowhere", "broadcast", {"event": "x"}))
        assert (await recv_json(ws))["payload"]["response"]["reason"] == "unmatched topic"
        await ws.send("{not json")  # ignored, the connection lives on
        await ws.send(
            v1("realtime:x", "phx_join", {"config": {"postgres_changes": [{"event": "MERGE"}]}})
        )
        reply = await recv_json(ws)
        assert reply["payload"]["status"] == "error"
        assert reply["payload"]["response"]["reason"].startswith("InvalidPostgresChanges:")
        await ws.send(v1("realtime:x", "phx_join", {"since": "yesterday", "config": {}}))
        assert "InvalidSince" in (await recv_json(ws))["payload"]["response"]["reason"]


async def test_channel_rate_and_size_limits(server: LiveServer, tenants: Tenants) -> None:
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as ws:
        for i in range(4):
            await ws.send(v1(f"realtime:c{i}", "phx_join", {"config": {}}, ref=str(i)))
        replies = [await recv_json(ws) for _ in range(4)]
        assert [r["payload"]["status"] for r in replies] == ["ok", "ok", "ok", "error"]
        assert replies[3]["payload"]["response"]["reason"].startswith("ChannelRateLimitReached")
        big = {"type": "broadcast", "event": "e", "payload": {"x": "y" * 300_000}}
        await ws.send(v1("realtime:c0", "broadcast", big, ref="big"))
        reply = await recv_json(ws)
        assert reply["ref"] == "big" and reply["payload"]["response"]["reason"].startswith(
            "PayloadTooLarge"
        )
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as ws:
        await ws.send(v1("realtime:r", "phx_join", {"config": {}}, ref="j"))
        assert (await recv_json(ws))["payload"]["status"] == "ok"
        for i in range(40):
            await ws.send(v1("realtime:r", "broadcast", {"event": "e"}, ref=str(i)))
        reasons = [(await recv_json(ws))["payload"]["response"]["reason"] for _ in range(10)]
        assert all(r.startswith("MessagePerSecondRateLimitReached") for r in reasons[:10])


async def test_dashboard_cookie_same_origin_only(server: LiveServer, tenants: Tenants) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        login = await http.post(
            "/api/auth/login", json={"email": tenants.user_email, "password": tenants.user_password}
        )
        cookie = login.cookies["leadtrail_session"]
    host = server.url.removeprefix("http://")
    headers = {"Cookie": f"leadtrail_session={cookie}", "Origin": f"http://{host}"}
    async with raw(server, "apikey=session&vsn=1.0.0", additional_headers=headers) as ws:
        await ws.send(v1("realtime:dash", "phx_join", {"config": {}, "access_token": "session"}))
        assert (await recv_json(ws))["payload"]["status"] == "ok"
    evil = {**headers, "Origin": "https://evil.example"}
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with raw(server, "apikey=session&vsn=1.0.0", additional_headers=evil):
            pass
    # a session token works as the apikey itself, too
    async with raw(server, f"apikey={cookie}&vsn=1.0.0") as ws:
        await ws.send(v1("realtime:dash", "phx_join", {"config": {}}))
        assert (await recv_json(ws))["payload"]["status"] == "ok"


async def test_rest_broadcast_reaches_the_same_tenant_only(
    server: LiveServer, tenants: Tenants
) -> None:
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as mine:
        async with raw(server, f"apikey={tenants.key_b}&vsn=1.0.0") as theirs:
            for ws in (mine, theirs):
                await ws.send(v1("realtime:news", "phx_join", {"config": {}}))
                assert (await recv_json(ws))["payload"]["status"] == "ok"
            async with httpx.AsyncClient(base_url=server.url) as http:
                sent = await http.post(
                    "/realtime/v1/api/broadcast",
                    headers={"apikey": tenants.key_a},
                    json={"messages": [{"topic": "news", "event": "hot", "payload": {"n": 1}}]},
                )
                assert sent.status_code == 202
                one = await http.post(
                    "/realtime/v1/api/broadcast/news/events/hot",
                    headers={"Authorization": f"Bearer {tenants.key_a}"},
                    json={"n": 2},
                )
                assert one.status_code == 202
                bad = await http.post(
                    "/realtime/v1/api/broadcast", headers={"apikey": "lt_x"}, json={}
                )
                assert bad.status_code == 401 and bad.json()["error"] == "invalid_api_key"
                malformed = await http.post(
                    "/realtime/v1/api/broadcast",
                    headers={"apikey": tenants.key_a},
                    json={"messages": [{"event": "x"}]},
                )
                assert malformed.status_code == 400
                assert malformed.json()["error"] == "invalid_broadcast"
            got = [await recv_json(mine), await recv_json(mine)]
            assert [m["payload"]["payload"]["n"] for m in got] == [1, 2]
            with pytest.raises(TimeoutError):
                await recv_json(theirs, timeout=0.3)


async def test_access_token_switches_identity_or_closes_the_channel(
    db: Database, server: LiveServer, tenants: Tenants
) -> None:
    join = {
        "config": {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "calls"}]}
    }
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as ws:
        await ws.send(v1("realtime:t", "phx_join", join))
        assert (await recv_json(ws))["payload"]["status"] == "ok"
        await ws.send(v1("realtime:t", "access_token", {"access_token": "lt_bad00000_" + "x" * 32}))
        error = await until(
            ws, lambda m: m.get("event") == "system" and m["payload"]["status"] == "error"
        )
        assert error["payload"]["status"] == "error"
        assert error["payload"]["message"].startswith("InvalidAccessToken")
        closed = await until(ws, lambda m: m.get("event") == "phx_close")
        assert closed["topic"] == "realtime:t"
        await ws.send(v1("realtime:t", "broadcast", {"event": "x"}, ref="after"))
        assert (await recv_json(ws))["payload"]["response"]["reason"] == "unmatched topic"
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as ws:
        await ws.send(v1("realtime:t", "phx_join", join))
        await until(ws, lambda m: m.get("payload", {}).get("message") == "Subscribed to PostgreSQL")
        await ws.send(v1("realtime:t", "access_token", {"access_token": tenants.key_b}))
        await ws.send(v1("phoenix", "heartbeat", {}, ref="sync"))  # handled in order
        await until(ws, lambda m: m.get("ref") == "sync")
        async with db.system() as conn:
            await insert_call(conn, tenants.site_a, "+15550001")
            await insert_call(conn, tenants.site_b, "+15550002")
        change = await until(ws, lambda m: m.get("event") == "postgres_changes")
        assert change["payload"]["data"]["record"]["phone_number"] == "+15550002"
