"""The official Python client (``realtime`` from PyPI, vsn 1.0.0) against leadtrail."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.realtime.conftest import (
    Inbox,
    Tenants,
    insert_call,
    insert_event,
    subscribed,
    this_month,
    ws_url,
)

Connect = Callable[..., Any]


async def test_insert_and_update_on_partitioned_events_arrive_as_events(
    db: Database, tenants: Tenants, connect: Connect
) -> None:
    client = await connect(tenants.key_a)
    inserts, updates = Inbox(), Inbox()
    channel = client.channel("events-feed")
    channel.on_postgres_changes("INSERT", inserts, table="events", schema="public")
    channel.on_postgres_changes("UPDATE", updates, table="events", schema="public")
    await subscribed(channel)

    async with db.system() as conn:
        event_id = await insert_event(conn, tenants.site_a, action="form_start", score=10)
        await conn.execute(
            "UPDATE events SET lead_score = 55 WHERE site_id = $1 AND id = $2",
            tenants.site_a,
            event_id,
        )

    [insert] = await inserts.wait_for(1)
    [update] = await updates.wait_for(1)
    data = insert["data"]
    assert data["schema"] == "public" and data["table"] == "events"  # not events_YYYY_MM
    assert data["type"] == "INSERT" and data["errors"] is None
    record = data["record"]
    assert record["id"] == str(event_id) and record["site_id"] == str(tenants.site_a)
    assert record["lead_score"] == 10 and record["event_action"] == "form_start"
    assert record["metadata"] == {"fp": "abc"}
    assert record["session_month"] == this_month().isoformat()
    assert record["created_at"].endswith("+00:00") and "T" in record["created_at"]
    columns = {c["name"]: c["type"] for c in data["columns"]}
    assert columns["lead_score"] == "int2" and columns["metadata"] == "jsonb"
    assert data["commit_timestamp"].endswith("Z")
    assert insert["ids"] == [channel.postgres_changes_callbacks[0].id]

    udata = update["data"]
    assert udata["type"] == "UPDATE" and udata["record"]["lead_score"] == 55
    # default replica identity on the hot partitioned table: the old key
    assert udata["old_record"] == {
        "site_id": str(tenants.site_a),
        "session_id": record["session_id"],
        "id": str(event_id),
        "session_month": this_month().isoformat(),
    }
    assert udata["commit_timestamp"] > data["commit_timestamp"]


async def test_calls_update_carries_old_values(
    db: Database, tenants: Tenants, connect: Connect
) -> None:
    client = await connect(tenants.key_a)
    inbox = Inbox()
    channel = client.channel("calls")
    channel.on_postgres_changes("*", inbox, table="calls")
    await subscribed(channel)
    async with db.system() as conn:
        call_id = await insert_call(conn, tenants.site_a)
        await conn.execute(
            "UPDATE calls SET status = 'qualified' WHERE site_id = $1 AND id = $2",
            tenants.site_a,
            call_id,
        )
        await conn.execute(
            "DELETE FROM calls WHERE site_id = $1 AND id = $2", tenants.site_a, call_id
        )
    insert, update, delete = await inbox.wait_for(3)
    assert [p["data"]["type"] for p in (insert, update, delete)] == ["INSERT", "UPDATE", "DELETE"]
    assert insert["data"]["record"]["phone_number"] == "+15550100"
    assert update["data"]["record"]["status"] == "qualified"
    assert update["data"]["old_record"]["status"] is None  # REPLICA IDENTITY FULL
    assert update["data"]["old_record"]["phone_number"] == "+15550100"
    assert delete["data"]["old_record"]["id"] == str(call_id)
    assert "record" not in delete["data"] or delete["data"].get("record") is None


async def test_filters_select_the_right_rows(
    db: Database, tenants: Tenants, connect: Connect
) -> None:
    client = await connect(tenants.key_a)
    high, listed, pattern = Inbox(), Inbox(), Inbox()
    channel = client.channel("filtered")
    channel.on_postgres_changes("INSERT", high, table="events", filter="lead_score=gte.50")
    channel.on_postgres_changes(
        "INSERT", listed, table="events", filter="event_action=in.(phone_call,whatsapp)"
    )
    channel.on_postgres_changes(
        "INSERT",
        pattern,
        table="events",
        filter="url=ilike.*/PRICING*,event_category=eq.conversion",
    )
    await subscribed(channel)
    async with db.system() as conn:
        await insert_event(conn, tenants.site_a, action="view", score=9)  # none
        await insert_event(conn, tenants.site_a, action="phone_call", score=50)  # high, listed
        await insert_event(conn, tenants.site_a, action="whatsapp", score=49)  # listed
        await insert_event(
            conn,
            tenants.site_a,
            action="form_submit",
            score=100,  # high (numeric, not text: "100" < "50")
            url="https://a.example/pricing?x=1",
            category="conversion",
        )  # high, pattern
        await insert_event(
            conn,
            tenants.site_a,
            action="view",
            url="https://a.example/pricing",
            category="interaction",
        )  # none (AND)
        await insert_event(conn, tenants.site_a, action="sentinel")
    sentinel = Inbox()
    probe = client.channel("probe")
    probe.on_postgres_changes("INSERT", sentinel, table="events", filter="event_action=eq.last")
    await subscribed(probe)
    async with db.system() as conn:
        await insert_event(conn, tenants.site_a, action="last")
    await sentinel.wait_for(1)  # everything committed before it was dispatched before it
    assert sorted(p["data"]["record"]["lead_score"] for p in high.items) == [50, 100]
    assert sorted(p["data"]["record"]["event_action"] for p in listed.items) == [
        "phone_call",
        "whatsapp",
    ]
    assert [p["data"]["record"]["event_action"] for p in pattern.items] == ["form_submit"]


async def test_bad_filter_gets_a_join_error_not_a_crash(tenants: Tenants, connect: Connect) -> None:
    client = await connect(tenants.key_a)
    channel = client.channel("bad")
    channel.on_postgres_changes(
        "INSERT", lambda p: None, table="events", filter="lead_score=gt.lots"
    )
    states: list[tuple[Any, Any]] = []
    await channel.subscribe(lambda state, err: states.append((state, err)))
    assert states and states[0][0].value == "CHANNEL_ERROR"
    assert "lead_score" in str(states[0][1]) and "int2" in str(states[0][1])
    other = client.channel("unknown-table")
    other.on_postgres_changes("INSERT", lambda p: None, table="app_users")
    states.clear()
    await other.subscribe(lambda state, err: states.append((state, err)))
    assert "not published" in str(states[0][1])


async def test_another_tenants_rows_never_arrive(
    db: Database, tenants: Tenants, connect: Connect
) -> None:
    client_b = await connect(tenants.key_b)
    inbox_b = Inbox()
    channel = client_b.channel("all")
    channel.on_postgres_changes("*", inbox_b, schema="public")  # every table
    await subscribed(channel)
    async with db.system() as conn:
        for _ in range(3):
            await insert_event(conn, tenants.site_a, action="secret")
            await insert_call(conn, tenants.site_a, "+15550199")
        await insert_event(conn, tenants.site_b, action="mine")
    [mine] = await inbox_b.wait_for(1)
    assert mine["data"]["record"]["event_action"] == "mine"
    await asyncio.sleep(0)  # nothing else is queued behind it
    assert all(p["data"]["record"]["site_id"] == str(tenants.site_b) for p in inbox_b.items)


async def test_set_auth_back_to_the_connections_own_key_drops_the_other_tenant(
    db: Database, tenants: Tenants, connect: Connect
) -> None:
    """setAuth(B) then setAuth(A) on a socket opened with A: the channel is A's again."""
    client = await connect(tenants.key_a)
    inbox = Inbox()
    channel = client.channel("calls-reauth")
    channel.on_postgres_changes("INSERT", inbox, schema="public", table="calls")
    await subscribed(channel)
    await client.set_auth(tenants.key_b)
    await client.set_auth(tenants.key_a)
    # The server handles frames in order: once a later join is answered, both tokens are in.
    await subscribed(
        client.channel("sync-point").on_postgres_changes("INSERT", Inbox(), table="calls")
    )
    async with db.system() as conn:
        await insert_call(conn, tenants.site_b, "+15550301")
        await insert_call(conn, tenants.site_a, "+15550302")
    await inbox.wait_for(1)
    await asyncio.sleep(0)  # nothing else is queued behind it
    assert [p["data"]["record"]["phone_number"] for p in inbox.items] == ["+15550302"]


async def test_broadcast_and_presence(tenants: Tenants, connect: Connect) -> None:
    alice = await connect(tenants.key_a)
    bob = await connect(tenants.key_a)
    other_tenant = await connect(tenants.key_b)
    got_bob, got_other = Inbox(), Inbox()
    ch_a = alice.channel("room", {"config": {"broadcast": {"self": False, "ack": True}}})
    ch_b = bob.channel("room")
    ch_o = other_tenant.channel("room")
    ch_b.on_broadcast("hello", got_bob)
    ch_o.on_broadcast("hello", got_other)
    for ch in (ch_a, ch_b, ch_o):
        await ch.subscribe()
    await ch_a.send_broadcast("hello", {"n": 1})
    [message] = await got_bob.wait_for(1)
    assert message["event"] == "hello" and message["payload"] == {"n": 1}

    synced = Inbox()
    pres_a = alice.channel("lobby", {"config": {"presence": {"key": "alice", "enabled": True}}})
    pres_b = bob.channel("lobby", {"config": {"presence": {"key": "bob", "enabled": True}}})
    pres_o = other_tenant.channel(
        "lobby", {"config": {"presence": {"key": "eve", "enabled": True}}}
    )
    pres_b.on_presence_sync(lambda: synced(dict(pres_b.presence_state())))
    for ch in (pres_a, pres_b, pres_o):
        await ch.subscribe()
    await pres_o.track({"status": "spying"})
    await pres_a.track({"status": "online"})
    await synced.wait_for(2)
    deadline = asyncio.get_running_loop().time() + 10
    while "alice" not in pres_b.presence_state():
        assert asyncio.get_running_loop().time() < deadline
        await synced.wait_for(len(synced.items) + 1)
    state = pres_b.presence_state()
    assert state["alice"][0]["status"] == "online"
    assert "eve" not in state  # another tenant's presence
    assert got_other.items == []  # and its broadcasts


async def test_bad_credentials_are_refused_at_the_handshake(
    server: LiveServer, tenants: Tenants
) -> None:
    for key in ("lt_aaaaaaaa_" + "b" * 32, tenants.ingest_key_a, "nonsense"):
        with pytest.raises(websockets.exceptions.InvalidStatus) as info:
            async with websockets.connect(
                f"{ws_url(server).replace('http', 'ws', 1)}/websocket?apikey={key}&vsn=1.0.0"
            ):
                pass
        assert info.value.response.status_code == 403


async def test_rejoin_with_since_replays_then_goes_live_without_gap_or_duplicate(
    db: Database, tenants: Tenants, connect: Connect
) -> None:
    first = await connect(tenants.key_a)
    seen = Inbox()
    channel = first.channel("since-1")
    channel.on_postgres_changes("INSERT", seen, table="events", filter="event_action=like.since-%")
    await subscribed(channel)
    async with db.system() as conn:
        for i in range(5):
            await insert_event(conn, tenants.site_a, action=f"since-{i}")
            await insert_event(conn, tenants.site_b, action=f"since-{i}")  # other tenant
    items = await seen.wait_for(5)
    since = items[1]["data"]["commit_timestamp"]
    await first.close()

    second = await connect(tenants.key_a)
    again = Inbox()
    resumed = second.channel("since-2", {"config": {}, "since": since})  # type: ignore[typeddict-unknown-key]
    resumed.on_postgres_changes("INSERT", again, table="events", filter="event_action=like.since-%")
    await subscribed(resumed)
    async with db.system() as conn:
        await insert_event(conn, tenants.site_a, action="since-5")
    got = await again.wait_for(4)
    assert [p["data"]["record"]["event_action"] for p in got] == [
        "since-2",
        "since-3",
        "since-4",
        "since-5",
    ]
    assert all(p["data"]["record"]["site_id"] == str(tenants.site_a) for p in got)
