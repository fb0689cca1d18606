"""Leases and fencing tokens against real PostgreSQL: one holder at a time, tokens only
grow, a deposed holder's fenced writes fail, and a takeover waits for a fenced
transaction in progress."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from leadtrail.scheduling import FenceLost, Lease
from leadtrail.storage import Database


async def _expire(owner: asyncpg.Connection, name: str) -> None:
    """The lease runs out now (what the TTL does when the holder stops renewing)."""
    await owner.execute(
        "UPDATE leadtrail.leases SET expires_at = clock_timestamp() WHERE name = $1", name
    )


async def test_one_holder_and_tokens_only_grow(db: Database, owner: asyncpg.Connection) -> None:
    a, b = Lease(db, "t1", "a", 30), Lease(db, "t1", "b", 30)
    first = await a.acquire()
    assert first is not None and first.token == 1
    assert await b.acquire() is None
    renewed = await a.acquire()
    assert renewed is not None and renewed.token == first.token  # renewing keeps the token

    await _expire(owner, "t1")
    taken = await b.acquire()
    assert taken is not None and taken.token == 2
    assert await a.acquire() is None

    async with db.system() as conn, conn.transaction():
        with pytest.raises(FenceLost):
            await first.check(conn)
    async with db.system() as conn, conn.transaction():
        await taken.check(conn)

    await b.release(taken)
    again = await a.acquire()
    assert again is not None and again.token == 3


async def test_a_deposed_leaders_write_never_commits(
    db: Database, owner: asyncpg.Connection
) -> None:
    await owner.execute("CREATE TABLE IF NOT EXISTS fenced_writes (token bigint)")
    a, b = Lease(db, "t2", "a", 1.0), Lease(db, "t2", "b", 30)
    fence_a = await a.acquire()
    assert fence_a is not None

    async with db.system() as conn:
        tx = conn.transaction()
        await tx.start()
        await fence_a.check(conn)  # share-locks the lease row until this transaction ends
        takeover = asyncio.create_task(b.acquire())
        # b's takeover waits on the row lock a's fenced transaction holds.
        for _ in range(200):
            waiting = await owner.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%lease_acquire%'"
            )
            if waiting:
                break
            await asyncio.sleep(0.02)  # another backend's state: nothing to await
        assert waiting == 1 and not takeover.done()
        # a's lease runs out while its fenced transaction is still open ...
        while not await owner.fetchval(
            "SELECT expires_at < clock_timestamp() FROM leadtrail.leases WHERE name = 't2'"
        ):
            await asyncio.sleep(0.05)  # the database's clock: nothing to await
        # ... and still b cannot take over before a's transaction ends.
        assert not takeover.done()
        await conn.execute("INSERT INTO fenced_writes VALUES ($1)", fence_a.token)
        await tx.commit()
    fence_b = await takeover
    assert fence_b is not None and fence_b.token == fence_a.token + 1

    # From now on a's writes fail before they touch anything.
    async with db.system() as conn:
        with pytest.raises(FenceLost):
            async with conn.transaction():
                await fence_a.check(conn)
                await conn.execute("INSERT INTO fenced_writes VALUES ($1)", fence_a.token)
    assert [r[0] for r in await owner.fetch("SELECT token FROM fenced_writes")] == [fence_a.token]
