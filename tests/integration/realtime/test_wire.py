"""The wire protocol with hand-written frames: vsn 2.0.0 arrays and binary broadcasts, the
dashboard cookie, REST broadcast, limits and slow consumers, leave and channel errors."""

from __future__ import annotations

import asyncio
import socket
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
from leadtrail.realtime.service import Realtime
from leadtrail.realtime.session import Session
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.realtime.conftest import (
    Tenants,
    insert_call,
    make_settings,
)

MAX_QUEUE = 200
MAX_QUEUE_BYTES = 1024 * 1024


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        realtime_max_channels=3,
        realtime_max_messages_per_second=30,
        realtime_max_queue=MAX_QUEUE,
        realtime_max_queue_bytes=MAX_QUEUE_BYTES,
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
        for text, reason in (
            ("url=match.^(a+)+$", "filter operator 'match' is not supported"),
            ("url=like." + "%" * 5000, "a filter may be at most 4096 characters"),
        ):
            binding = {"event": "*", "schema": "public", "table": "events", "filter": text}
            await ws.send(v1("realtime:x", "phx_join", {"config": {"postgres_changes": [binding]}}))
            reply = await recv_json(ws)
            assert reply["payload"]["status"] == "error"
            assert reply["payload"]["response"]["reason"].startswith(
                f"InvalidPostgresChanges: {reason}"
            )


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


CALLS = {
    "config": {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "calls"}]}
}


def _is_system(topic: str) -> Any:
    return lambda m: isinstance(m, dict) and m.get("event") == "system" and m["topic"] == topic


async def test_subscribed_message_leave_and_no_more_changes(
    db: Database, server: LiveServer, tenants: Tenants
) -> None:
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as ws:
        for topic in ("realtime:stay", "realtime:go"):
            await ws.send(v1(topic, "phx_join", CALLS, ref=topic))
            reply = await until(ws, lambda m, t=topic: m.get("ref") == t)
            assert reply["event"] == "phx_reply" and reply["payload"]["status"] == "ok"
            system = await until(ws, _is_system(topic))
            # a server push, not a reply: Supabase sends it with ref null
            assert system["ref"] is None
            assert system["payload"] == {
                "channel": topic.removeprefix("realtime:"),
                "extension": "postgres_changes",
                "message": "Subscribed to PostgreSQL",
                "status": "ok",
            }

        await ws.send(v1("realtime:go", "phx_leave", {}, ref="bye"))
        left = await recv_json(ws)
        assert left == {
            "topic": "realtime:go",
            "event": "phx_reply",
            "payload": {"status": "ok", "response": {}},
            "ref": "bye",
            "join_ref": None,
        }
        closed = await recv_json(ws)
        assert closed["event"] == "phx_close" and closed["topic"] == "realtime:go"
        assert closed["join_ref"] == closed["ref"] == "realtime:go"  # the join's ref

        async with db.system() as conn:
            await insert_call(conn, tenants.site_a, "+15550303")
        seen = [await until(ws, lambda m: m.get("event") == "postgres_changes")]
        await ws.send(v1("phoenix", "heartbeat", {}, ref="sync"))  # after anything queued
        while seen[-1].get("ref") != "sync":
            seen.append(await recv_json(ws))
        assert seen[0]["topic"] == "realtime:stay"
        assert seen[0]["payload"]["data"]["record"]["phone_number"] == "+15550303"
        assert all(m["topic"] != "realtime:go" for m in seen), seen
        await ws.send(v1("realtime:go", "broadcast", {"event": "x"}, ref="after"))
        assert (await recv_json(ws))["payload"]["response"]["reason"] == "unmatched topic"


async def test_subscribed_message_has_null_refs_in_vsn2(
    server: LiveServer, tenants: Tenants
) -> None:
    async with raw(server, f"apikey={tenants.key_a}&vsn=2.0.0") as ws:
        await ws.send(v2("realtime:two", "phx_join", CALLS, ref="7"))
        system = await until(ws, lambda m: isinstance(m, list) and m[3] == "system")
        assert system[1] is None and system[2] == "realtime:two"
        assert system[4]["message"] == "Subscribed to PostgreSQL"


async def test_a_failed_replay_ends_in_phx_error_and_a_rejoin_works(
    db: Database, server: LiveServer, tenants: Tenants
) -> None:
    async with raw(server, f"apikey={tenants.key_a}&vsn=1.0.0") as ws:
        await ws.send(v1("realtime:live", "phx_join", CALLS, ref="live"))
        await until(ws, _is_system("realtime:live"))
        async with db.system() as conn:
            await insert_call(conn, tenants.site_a, "+15550401")
            await insert_call(conn, tenants.site_a, "+15550402")
        first = await until(ws, lambda m: m.get("event") == "postgres_changes")
        await until(ws, lambda m: m.get("event") == "postgres_changes")
        since = first["payload"]["data"]["commit_timestamp"]
        resume = {**CALLS, "since": since}
        # A real failure inside the replay: the subscriber's role may not read the log.
        async with db.system() as conn:
            await conn.execute("REVOKE SELECT ON leadtrail.realtime_log FROM leadtrail_analyst")
        try:
            await ws.send(v1("realtime:resume", "phx_join", resume, ref="r1"))
            reply = await until(ws, lambda m: m.get("ref") == "r1")
            assert reply["payload"]["status"] == "ok"
            error = await until(ws, lambda m: m["topic"] == "realtime:resume")
            assert error == {
                "topic": "realtime:resume",
                "event": "phx_error",
                "payload": {},
                "ref": "r1",
                "join_ref": "r1",
            }
            await ws.send(v1("realtime:resume", "broadcast", {"event": "x"}, ref="gone"))
            gone = await until(ws, lambda m: m.get("ref") == "gone")
            assert gone["payload"]["response"]["reason"] == "unmatched topic"
        finally:
            async with db.system() as conn:
                await conn.execute("GRANT SELECT ON leadtrail.realtime_log TO leadtrail_analyst")
        # the client rejoins with the since it kept: the change after it, then subscribed
        await ws.send(v1("realtime:resume", "phx_join", resume, ref="r2"))
        replayed = await until(
            ws, lambda m: m["topic"] == "realtime:resume" and m["event"] == "postgres_changes"
        )
        assert replayed["payload"]["data"]["record"]["phone_number"] == "+15550402"
        await until(ws, _is_system("realtime:resume"))


async def test_a_client_that_stops_reading_is_cut_off_by_queued_bytes(
    server: LiveServer, tenants: Tenants
) -> None:
    realtime = server.app.state.services.realtime  # type: ignore[attr-defined]
    assert isinstance(realtime, Realtime)
    before = set(realtime.sessions)
    host, port = server.url.removeprefix("http://").split(":")
    # A small receive buffer, a client library that stops reading the socket as soon as one
    # message waits, and no compression (the blobs would shrink to nothing): the server's
    # writes back up into the session's queue.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect((host, int(port)))
    query = f"apikey={tenants.key_a}&vsn=1.0.0"
    async with raw(server, query, sock=sock, max_queue=1, compression=None) as stuck:
        await stuck.send(v1("realtime:firehose", "phx_join", {"config": {}}))
        assert (await recv_json(stuck))["payload"]["status"] == "ok"
        (session,) = realtime.sessions - before
        async with raw(server, query) as quick:
            await quick.send(v1("realtime:firehose", "phx_join", {"config": {}}))
            assert (await recv_json(quick))["payload"]["status"] == "ok"
            await _flood(server, tenants, session, quick, stuck)


async def _flood(
    server: LiveServer,
    tenants: Tenants,
    session: Session,
    quick: ClientConnection,
    stuck: ClientConnection,
) -> None:
    """Broadcast 200 KB messages until the stuck client is cut off, then read what it got."""
    blob = {"blob": "x" * 200_000}
    sent = 0
    async with httpx.AsyncClient(base_url=server.url) as http:
        # 150 messages of 200 KB stay far below the 200-message bound
        while not session.closing and sent < 150:
            answer = await http.post(
                "/realtime/v1/api/broadcast/firehose/events/blob",
                headers={"apikey": tenants.key_a},
                json=blob,
            )
            assert answer.status_code == 202
            sent += 1
            # the other subscriber is not slowed down
            got = await until(quick, lambda m: m.get("event") == "broadcast")
            assert got["payload"]["payload"] == blob
            assert session.queued() < MAX_QUEUE
    assert session.closing, f"still connected after {sent} messages"
    received = 0
    with pytest.raises(websockets.exceptions.ConnectionClosed):
        while True:
            await asyncio.wait_for(stuck.recv(), 10)
            received += 1
    assert stuck.close_code == 1013
    assert received < sent  # what was queued was dropped
