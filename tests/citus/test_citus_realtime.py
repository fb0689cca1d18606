"""The realtime feed on Citus: one CDC stream per node, merged, through the official client.

tests/integration/realtime/test_python_client.py runs here as it is; the tests below are
about what only a cluster has: changes decoded on two workers, and a worker restarting.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from leadtrail.auth.api_keys import create_key
from leadtrail.auth.users import create_user
from leadtrail.config import Settings
from leadtrail.realtime.feed import ChangeFeed
from leadtrail.realtime.hub import Hub
from leadtrail.sites.service import create_site
from leadtrail.storage import Connection, Database
from tests.citus.cluster import CitusCluster
from tests.conftest import LiveServer, ModuleDatabase
from tests.integration.realtime.conftest import *  # noqa: F403
from tests.integration.realtime.conftest import Inbox, subscribed
from tests.integration.realtime.test_python_client import *  # noqa: F403

WORKER_OF_SITE = """
SELECT n.nodeport FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
WHERE p.shardid = get_shard_id_for_distribution_column('public.leads', $1::uuid)
"""


async def sites_on_each_worker(db: Database) -> dict[int, tuple[UUID, str]]:
    """worker port -> (a new site whose shards live there, a read key on it)."""
    found: dict[int, tuple[UUID, str]] = {}
    async with db.system() as conn:
        owner = await create_user(conn, f"cdc-{uuid4().hex[:6]}@example.com", "correct horse")
        ports = {r["nodeport"] for r in await conn.fetch(
            "SELECT nodeport FROM pg_dist_node WHERE groupid <> 0")}  # fmt: skip
        for attempt in range(40):
            site = await create_site(
                conn, name=f"cdc {attempt}", domain=f"cdc{attempt}.example", owner_id=owner.id
            )
            port = await conn.fetchval(WORKER_OF_SITE, site.id)
            if port not in found:
                key = await create_key(conn, site.id, name="read", scopes=["read"])
                found[port] = (site.id, key.key)
            if set(found) == ports:
                return found
    raise AssertionError(f"40 sites and still no site on every worker: {found}")


async def insert_lead(conn: Connection, site_id: UUID, n: int) -> None:
    await conn.execute(
        "INSERT INTO leads (site_id, email, name) VALUES ($1, $2, $3)",
        site_id,
        f"lead{n}@example.com",
        f"lead {n}",
    )


async def watch_leads(connect: Any, key: str) -> Inbox:
    client = await connect(key)
    inbox = Inbox()
    channel = client.channel(f"leads-{uuid4().hex[:6]}")
    channel.on_postgres_changes("INSERT", inbox, table="leads", schema="public")
    await subscribed(channel)
    return inbox


def names(inbox: Inbox) -> list[str]:
    return [item["data"]["record"]["name"] for item in inbox.items]


async def test_changes_decoded_on_every_worker_arrive_in_order(
    db: Database, server: LiveServer, connect: Any
) -> None:
    sites = await sites_on_each_worker(db)
    assert len(sites) == 2
    inboxes = {port: await watch_leads(connect, key) for port, (_, key) in sites.items()}
    async with db.system() as conn:
        for n in range(10):
            for site_id, _ in sites.values():
                await insert_lead(conn, site_id, n)
    for port, inbox in inboxes.items():
        await inbox.wait_for(10)
        assert names(inbox) == [f"lead {n}" for n in range(10)], port
        assert {item["data"]["record"]["site_id"] for item in inbox.items} == {str(sites[port][0])}
    positions = [i["data"]["commit_timestamp"] for box in inboxes.values() for i in box.items]
    assert len(set(positions)) == 20, "positions are unique across the workers' streams"
    for inbox in inboxes.values():
        mine = [i["data"]["commit_timestamp"] for i in inbox.items]
        assert mine == sorted(mine)


@pytest.fixture
async def hand_feed(
    db: Database, settings: Settings, citus_cluster: CitusCluster
) -> AsyncIterator[ChangeFeed]:
    """A feed driven by hand (``poll()``) with a node name of its own; its slots go after."""
    node = settings.model_copy(update={"realtime_node": f"cdc{uuid4().hex[:6]}"})
    feed = ChangeFeed(node, db, Hub())
    await feed._open()
    try:
        yield feed
    finally:
        await feed._close()
        for member in citus_cluster.nodes:
            citus_cluster.psql(
                member,
                "leadtrail",
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                f"WHERE slot_name = '{feed.slot}'",
            )
        async with db.system() as conn:
            for table in ("realtime_log", "realtime_nodes"):
                await conn.execute(f"DELETE FROM leadtrail.{table} WHERE slot_name = $1", feed.slot)


async def logged_changes(db: Database, slot: str) -> int:
    async with db.system() as conn:
        total = await conn.fetchval(
            "SELECT coalesce(sum(changes), 0) FROM leadtrail.realtime_log WHERE slot_name = $1",
            slot,
        )
    return int(total)


async def test_one_stream_per_node_and_a_since_read_spans_the_workers(
    db: Database, hand_feed: ChangeFeed
) -> None:
    feed = hand_feed
    assert feed.sources[0].key == ""
    assert len(feed.sources) == 3  # the coordinator and two workers, one slot each
    sites = await sites_on_each_worker(db)
    start = feed.hub.dispatched
    assert start is not None
    async with db.system() as conn:
        for n in range(4):
            for site_id, _ in sites.values():
                await insert_lead(conn, site_id, n)
    assert await feed.poll() == 8
    until = feed.hub.dispatched
    assert until is not None
    every = [
        c
        async for c in feed.replay.read(
            start, until, frozenset(str(s) for s, _ in sites.values()), frozenset({"leads"})
        )
    ]
    assert len(every) == 8
    positions = [c.position for c in every]
    assert positions == sorted(positions) and len(set(positions)) == 8
    for site_id, _ in sites.values():
        mine = [c.record["name"] for c in every if c.site_id == str(site_id) and c.record]
        assert mine == [f"lead {n}" for n in range(4)]
    # since inside the run: exactly what came after, from both workers
    since = positions[3]
    after = [
        c
        async for c in feed.replay.read(
            since, until, frozenset(str(s) for s, _ in sites.values()), frozenset({"leads"})
        )
    ]
    assert [c.position for c in after] == positions[4:]


async def test_a_restarted_feed_logs_nothing_twice_from_any_worker(
    db: Database, hand_feed: ChangeFeed
) -> None:
    feed = hand_feed
    sites = await sites_on_each_worker(db)
    async with db.system() as conn:
        for site_id, _ in sites.values():
            await insert_lead(conn, site_id, 0)
    assert await feed.poll() == 2
    logged = feed.hub.dispatched
    # Closed before any status update confirmed the batch: every worker sends it again,
    # and the LSNs kept per worker (realtime_nodes.stream_lsns) skip it.
    await feed._close()
    await feed._open()
    assert feed.hub.dispatched == logged
    async with db.system() as conn:
        for site_id, _ in sites.values():
            await insert_lead(conn, site_id, 1)
    assert await feed.poll() == 2
    assert await logged_changes(db, feed.slot) == 4


async def test_a_site_moved_to_another_worker_keeps_its_feed(
    db: Database, server: LiveServer, connect: Any
) -> None:
    """citus_move_shard_placement copies the shards under a replication origin, which the
    workers' CDC decoders leave out: subscribers get the new rows, not the copy.

    ``block_writes``: the default (logical replication) cannot apply writes made during the
    move to tables with row-level security ("user citus_shard_move_subscription_role_…
    cannot replicate into relation with row-level security enabled", PostgreSQL 15), and
    retries forever (docs/scaling.md)."""
    sites = await sites_on_each_worker(db)
    (source_port, (site_id, key)), (target_port, _) = sorted(sites.items())
    inbox = await watch_leads(connect, key)
    async with db.system() as conn:
        await insert_lead(conn, site_id, 0)
    await inbox.wait_for(1)
    async with db.system() as conn:
        shard = await conn.fetchval(
            "SELECT get_shard_id_for_distribution_column('public.leads', $1::uuid)", site_id
        )
        await conn.execute(
            "SELECT citus_move_shard_placement($1, '127.0.0.1', $2, '127.0.0.1', $3, "
            "shard_transfer_mode => 'block_writes')",
            shard,
            source_port,
            target_port,
        )
        assert await conn.fetchval(WORKER_OF_SITE, site_id) == target_port
        for n in (1, 2):
            await insert_lead(conn, site_id, n)
    await inbox.wait_for(3, timeout=60)
    async with db.system() as conn:
        await insert_lead(conn, site_id, 3)  # a marker: nothing else is queued before it
    await inbox.wait_for(4, timeout=60)
    assert names(inbox) == [f"lead {n}" for n in range(4)]


async def test_the_feed_comes_back_after_a_worker_restarts(
    db: Database, server: LiveServer, connect: Any, citus_cluster: CitusCluster
) -> None:
    sites = await sites_on_each_worker(db)
    inboxes = {port: await watch_leads(connect, key) for port, (_, key) in sites.items()}
    async with db.system() as conn:
        for site_id, _ in sites.values():
            await insert_lead(conn, site_id, 0)
    for inbox in inboxes.values():
        await inbox.wait_for(1)

    restarted = next(n for n in citus_cluster.nodes[1:] if n.port in sites)
    await asyncio.to_thread(citus_cluster.restart, restarted)
    # the other worker's changes meanwhile, and the restarted one's once it is back
    async with db.system() as conn:
        for n in (1, 2):
            for site_id, _ in sites.values():
                await insert_lead(conn, site_id, n)
    for port, inbox in inboxes.items():
        await inbox.wait_for(3, timeout=60)
        assert names(inbox) == ["lead 0", "lead 1", "lead 2"], port


@pytest.fixture(scope="module")
def test_database(citus_realtime_database: ModuleDatabase) -> ModuleDatabase:
    """The realtime modules' database (tests/citus/conftest.py)."""
    return citus_realtime_database
