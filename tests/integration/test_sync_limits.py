"""/api/sync under pressure: rate limits, a full writer buffer, a database that refuses."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import orjson
import pytest

from leadtrail.config import Settings
from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer, make_settings

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        sync_ip_rate_limit="5/minute",
        sync_site_rate_limit="1000/minute",
        ingest_max_pending_events=5,
        ingest_writers=1,  # one batch in flight: the buffer fills deterministically
    )


@pytest.fixture(scope="module")
async def site(db: Database) -> Site:
    async with db.system() as conn:
        return await create_site(conn, name="Busy", domain="busy.example", public_id="busy_site")


def body(site: Site, events: int = 1) -> bytes:
    sid = str(uuid.uuid4())
    one = {
        "s": site.public_id,
        "u": "https://busy.example/",
        "sid": sid,
        "ec": "acquisition",
        "ea": "view",
    }
    items = [{**one, "eid": uuid.uuid4().hex} for _ in range(events)]
    return orjson.dumps(items[0] if events == 1 else {"batch": items})


async def post(client: httpx.AsyncClient, content: bytes, ip: str) -> httpx.Response:
    return await client.post(
        "/api/sync", content=content, headers={"user-agent": CHROME, "x-forwarded-for": ip}
    )


async def test_per_ip_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, site: Site
) -> None:
    answers = [await post(client, body(site), "198.51.100.7") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].json()["error"] == "rate_limited"
    assert 1 <= int(answers[-1].headers["retry-after"]) <= 60
    # Another visitor is not affected.
    assert (await post(client, body(site), "198.51.100.8")).status_code == 200


async def test_full_buffer_answers_503_then_recovers(
    client: httpx.AsyncClient, server: LiveServer, site: Site, owner: asyncpg.Connection
) -> None:
    writer = server.app.state.services.ingest.writer  # type: ignore[attr-defined]
    # Block the writer inside its transaction: the first batch waits on the lock while
    # the next requests pile up in the (5-event) buffer.
    await owner.execute("BEGIN")
    await owner.execute("LOCK TABLE sessions IN EXCLUSIVE MODE")
    first = asyncio.create_task(post(client, body(site, 3), "198.51.100.20"))
    await wait_until_blocked(owner)
    queued = asyncio.create_task(post(client, body(site, 3), "198.51.100.21"))
    async with asyncio.timeout(10):
        while writer.pending_events < 3:  # the second request is in the buffer
            await asyncio.sleep(0.001)
    overflow = await post(client, body(site, 3), "198.51.100.22")
    assert overflow.status_code == 503
    assert overflow.json()["error"] == "overloaded" and overflow.headers["retry-after"] == "1"
    await owner.execute("COMMIT")
    assert (await first).status_code == 200
    assert (await queued).status_code == 200
    assert (await post(client, body(site, 3), "198.51.100.23")).status_code == 200


async def wait_until_blocked(owner: asyncpg.Connection) -> None:
    """Wait for the writer to be waiting on our lock (polling pg_locks: PostgreSQL has no
    notification for it)."""
    for _ in range(500):
        waiting = await owner.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted")
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer never blocked on the lock")


async def test_refused_writes_get_an_error_and_the_writer_survives(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    await owner.execute("REVOKE INSERT ON events FROM leadtrail_writer")
    try:
        refused = await post(client, body(site), "198.51.100.30")
    finally:
        await owner.execute("GRANT INSERT ON events TO leadtrail_writer")
    assert refused.status_code == 503 and refused.json()["error"] == "write_failed"
    assert "retry-after" in refused.headers
    accepted = await post(client, body(site), "198.51.100.31")
    assert accepted.status_code == 200
    metrics = (await client.get("/metrics")).text
    assert "leadtrail_ingest_batch_failures_total" in metrics
