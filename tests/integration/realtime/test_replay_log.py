"""The replay log written by a real feed: one row per (batch, site), read back with `since`
anywhere (inside a batch too), merged across sites in position order, filtered by RLS.

The feed is driven by hand (``poll()``), so the test decides what each batch holds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from uuid import UUID

import pytest

from leadtrail.config import Settings
from leadtrail.realtime.changes import Change
from leadtrail.realtime.feed import ChangeFeed, slot_name
from leadtrail.realtime.hub import Hub
from leadtrail.storage import Database
from tests.integration.realtime.conftest import Tenants, insert_call, insert_event


@pytest.fixture
async def feed(db: Database, settings: Settings) -> AsyncIterator[ChangeFeed]:
    node = settings.model_copy(update={"realtime_node": "replaytest"})
    feed = ChangeFeed(node, db, Hub())
    await feed._open()
    try:
        yield feed
    finally:
        await feed._close()
        async with db.system() as conn:
            await conn.execute("SELECT pg_drop_replication_slot($1)", feed.slot)
            for table in ("realtime_log", "realtime_nodes"):
                await conn.execute(f"DELETE FROM leadtrail.{table} WHERE slot_name = $1", feed.slot)
            await conn.execute("SELECT pg_replication_origin_drop($1)", feed.slot)


async def read(
    feed: ChangeFeed, since: datetime, until: datetime, sites: set[UUID], tables: set[str]
) -> list[Change]:
    return [
        c
        async for c in feed.replay.read(
            since, until, frozenset(str(s) for s in sites), frozenset(tables)
        )
    ]


async def test_replay_across_batches_and_sites_from_inside_a_batch(
    db: Database, tenants: Tenants, feed: ChangeFeed
) -> None:
    a, b = tenants.site_a, tenants.site_b
    start = feed.hub.dispatched
    assert start is not None
    written: list[UUID] = []
    batches = []
    for batch in range(4):
        async with db.system() as conn:
            for i in range(6):  # one transaction each, the sites interleaved
                site = a if i % 2 == 0 else b
                written.append(await insert_event(conn, site, action=f"b{batch}e{i}"))
            if batch == 2:
                written.append(await insert_call(conn, a))  # another table in the batch
        assert await feed.poll() >= 7 if batch == 2 else await feed.poll() >= 6
        batches.append(feed.hub.dispatched)
    async with db.system() as conn:
        rows = await conn.fetch(
            "SELECT site_id, batch_end, changes FROM leadtrail.realtime_log "
            "WHERE slot_name = $1 ORDER BY batch_end, site_id",
            feed.slot,
        )
    # one row per (batch, site), not per change
    assert len(rows) == 8
    assert {r["batch_end"] for r in rows} == set(batches)
    assert sum(r["changes"] for r in rows) == len(written)

    until = batches[-1]
    assert until is not None
    everything = await read(feed, start, until, {a, b}, {"events", "calls"})
    ids = [UUID(c.record["id"]) for c in everything if c.record]
    assert ids == written  # commit order across sites and batches
    positions = [c.position for c in everything]
    assert positions == sorted(set(positions))

    # `since` in the middle of the second batch: exactly what follows it
    middle = 6 + 3
    since = everything[middle].position
    after = await read(feed, since, until, {a, b}, {"events", "calls"})
    assert [c.position for c in after] == positions[middle + 1 :]
    assert after[0].data_json == everything[middle + 1].data_json

    # `until` in the middle of a batch cuts there (live changes after it are held apart)
    cut = everything[20].position
    assert [c.position for c in await read(feed, since, cut, {a, b}, {"events", "calls"})] == (
        positions[middle + 1 : 21]
    )

    # only the tables asked for
    calls = await read(feed, start, until, {a, b}, {"calls"})
    assert [c.table for c in calls] == ["calls"]

    # the subscriber's own claims: RLS keeps site B's rows out of site A's read
    only_a = await read(feed, since, until, {a}, {"events", "calls"})
    assert only_a and {c.site_id for c in only_a} == {str(a)}
    assert [c.position for c in only_a] == [c.position for c in after if c.site_id == str(a)]


async def test_restarted_feed_logs_nothing_twice(
    db: Database, tenants: Tenants, feed: ChangeFeed
) -> None:
    async with db.system() as conn:
        await insert_event(conn, tenants.site_a)
    await feed.poll()
    logged = feed.hub.dispatched
    # The feed is killed before it confirmed: a new one re-reads the batch and skips it.
    await feed._close()
    await feed._open()
    assert feed.hub.dispatched == logged
    async with db.system() as conn:
        await insert_event(conn, tenants.site_b)
    assert await feed.poll() == 1
    async with db.system() as conn:
        total = await conn.fetchval(
            "SELECT sum(changes) FROM leadtrail.realtime_log WHERE slot_name = $1", feed.slot
        )
    assert total == 2


async def test_feed_starts_once_its_origin_is_released(
    db: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """After a SIGKILL the old backend may still hold the node's replication origin for a
    moment: the feed reports the problem, retries, and runs once it is free."""
    node = settings.model_copy(update={"realtime_node": "origintest"})
    hub = Hub()
    feed = ChangeFeed(node, db, hub)
    async with db.owner_connection() as holder:
        name = slot_name(await holder.fetchval("SELECT current_database()"), "origintest")
        await holder.execute("SELECT pg_replication_origin_create($1)", name)
        await holder.execute("SELECT pg_replication_origin_session_setup($1)", name)
        with caplog.at_level(logging.ERROR, logger="leadtrail.realtime.feed"):
            await feed.start()
        assert hub.feed_problem is not None and "could not start" in hub.feed_problem
        await holder.execute("SELECT pg_replication_origin_session_reset()")
    try:
        await asyncio.wait_for(feed.polled.wait(), 15)
        assert hub.feed_problem is None
    finally:
        await feed.stop()
        async with db.system() as conn:
            await conn.execute("SELECT pg_drop_replication_slot($1)", name)
            await conn.execute("DELETE FROM leadtrail.realtime_nodes WHERE slot_name = $1", name)
            await conn.execute("SELECT pg_replication_origin_drop($1)", name)


async def test_rows_applied_under_another_origin_are_still_delivered(
    db: Database, tenants: Tenants, feed: ChangeFeed, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscription or an ETL tool applies rows under its own origin: the poll that
    follows the origin's creation already peeks every origin, so those rows are not lost
    (the feed's own writes are skipped only while its origins are the only ones)."""
    async with db.owner_connection() as applier:
        await applier.execute("SELECT pg_replication_origin_create('etl_tool')")
        try:
            await applier.execute("SELECT pg_replication_origin_session_setup('etl_tool')")
            event = await insert_event(applier, tenants.site_a, action="replicated")
            await applier.execute("SELECT pg_replication_origin_session_reset()")
            assert await feed.poll() == 1
            until, since = feed.hub.dispatched, feed.replay.floor
            assert until is not None and since is not None
            got = await read(feed, since, until, {tenants.site_a}, {"events"})
            assert [UUID(c.record["id"]) for c in got if c.record] == [event]
            with caplog.at_level(logging.WARNING, logger="leadtrail.realtime.feed"):
                await feed._check_origins()
            assert "replication origins of its own" in caplog.text
        finally:
            await applier.execute("SELECT pg_replication_origin_drop('etl_tool')")
