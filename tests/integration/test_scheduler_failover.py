"""Three ``leadtrail serve`` processes on one database: one leads, the canary job runs once
per period under the fence, and after the leader is SIGKILLed another takes over within
the lease TTL, runs the missed periods, and no two runs ever overlapped."""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ModuleDatabase
from tests.integration.serve_process import ServeProcess

TTL = 3.0
PERIOD = 0.5


async def _wait_for(
    owner: asyncpg.Connection, query: str, *args: object, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while not await owner.fetchval(query, *args):
        assert time.monotonic() < deadline, f"timed out waiting for: {query}"
        await asyncio.sleep(0.1)  # rows written by other processes: nothing to await


@pytest.fixture
async def nodes(
    test_database: ModuleDatabase, cli_env: dict[str, str], tmp_path: Path
) -> AsyncIterator[list[ServeProcess]]:
    servers = []
    for n in range(3):
        env = {
            **cli_env,
            "LEADTRAIL_DATABASE_URL": test_database.owner_dsn,
            "LEADTRAIL_DATA_DIR": str(tmp_path / f"node{n}"),
            "LEADTRAIL_NODE_ID": f"node{n}",
            "LEADTRAIL_LEADER_LEASE_TTL": str(TTL),
            "LEADTRAIL_SCHEDULER_PROBE_INTERVAL": str(PERIOD),
            "LEADTRAIL_SCHEDULER_PROBE_HOLD": "0.1",
            "LEADTRAIL_REALTIME_ENABLED": "false",
            "LEADTRAIL_HEARTBEAT_INTERVAL": "1",
            "LEADTRAIL_LOG_LEVEL": "info",
            "LEADTRAIL_SECRET_KEY": "failover-test",
        }
        servers.append(ServeProcess(env, tmp_path / f"node{n}.log"))
    try:
        await asyncio.gather(*(s.start() for s in servers))
        yield servers
    finally:
        for s in servers:
            s.kill(signal.SIGTERM)


async def test_leader_killed_another_takes_over_no_overlap_no_gap(
    nodes: list[ServeProcess], owner: asyncpg.Connection
) -> None:
    await _wait_for(owner, "SELECT count(*) >= 6 FROM leadtrail.scheduler_probe")
    lease = await owner.fetchrow(
        "SELECT holder, token FROM leadtrail.leases WHERE name = 'scheduler'"
    )
    assert lease is not None
    leader = next(s for s in nodes if s.env["LEADTRAIL_NODE_ID"] == lease["holder"])

    leader.kill(signal.SIGKILL)
    killed_at = await owner.fetchval("SELECT clock_timestamp()")

    await _wait_for(
        owner,
        "SELECT count(*) >= 6 FROM leadtrail.scheduler_probe WHERE token > $1",
        lease["token"],
    )
    new = await owner.fetchrow(
        "SELECT holder, token, acquired_at FROM leadtrail.leases WHERE name = 'scheduler'"
    )
    assert new is not None
    assert new["holder"] != lease["holder"] and new["token"] == lease["token"] + 1
    # The dead leader's lease ran out at most TTL after the kill (it renewed before it);
    # a candidate retries every TTL/6, so the takeover lands within TTL + TTL/6 (+ slack
    # for a loaded machine).
    takeover = (new["acquired_at"] - killed_at).total_seconds()
    assert takeover <= TTL + TTL / 6 + 1.0, takeover

    rows = await owner.fetch(
        "SELECT period, token, node, started_at, finished_at FROM leadtrail.scheduler_probe ORDER BY period"
    )
    periods = [r["period"] for r in rows]
    # No period skipped: the new leader ran the ones missed while nobody led.
    assert periods == list(range(periods[0], periods[-1] + 1))
    # Tokens only grow with the periods, and every run holds the token of its node.
    assert [r["token"] for r in rows] == sorted(r["token"] for r in rows)
    assert {r["node"] for r in rows if r["token"] == lease["token"]} == {lease["holder"]}
    assert {r["node"] for r in rows if r["token"] == new["token"]} == {new["holder"]}
    # No two runs overlapped in time (the fence's share lock holds a takeover back until
    # the deposed leader's transaction is over).
    spans = sorted((r["started_at"], r["finished_at"], r["node"]) for r in rows)
    for (_, end, node_a), (start, _, node_b) in itertools.pairwise(spans):
        assert start >= end, (node_a, node_b, start, end)

    # The scheduler's bookkeeping agrees, and the survivors report the new leader.
    job = await owner.fetchrow(
        "SELECT last_period, last_token FROM leadtrail.scheduler_jobs WHERE job = 'probe'"
    )
    assert (
        job is not None and job["last_token"] == new["token"] and job["last_period"] >= periods[-1]
    )
    await _wait_for(
        owner,
        "SELECT count(*) > 0 FROM leadtrail.system_heartbeats "
        "WHERE component_type = 'scheduler' AND component_id = $1 AND is_leader",
        new["holder"],
    )
