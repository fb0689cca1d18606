"""The ingest writer when things go wrong: a request the database refuses in the middle of a
group-commit batch, a worker that dies, a batch that gets stuck."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from leadtrail.config import Settings
from leadtrail.ingest import records
from leadtrail.ingest.events import MAX_SESSION_SECONDS
from leadtrail.ingest.writer import Writer
from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer, make_settings

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        ingest_writers=1,  # one batch in flight: what queues behind it is the next batch
    )


@pytest.fixture(scope="module")
async def site(db: Database) -> Site:
    async with db.system() as conn:
        return await create_site(conn, name="Faults", domain="faults.example", public_id="faults")


@pytest.fixture
def writer(server: LiveServer) -> Writer:
    found: Writer = server.app.state.services.ingest.writer  # type: ignore[attr-defined]
    return found


def event(sid: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return {
        "s": "faults",
        "u": "https://faults.example/",
        "sid": str(sid),
        "ec": "acquisition",
        "ea": "view",
        "eid": uuid.uuid4().hex,
        **fields,
    }


async def post(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post(
        "/api/sync",
        content=orjson.dumps(body),
        headers={"user-agent": CHROME, "x-forwarded-for": "198.51.100.1"},
    )


async def stored_events(owner: asyncpg.Connection, *sids: uuid.UUID) -> int:
    return int(
        await owner.fetchval("SELECT count(*) FROM events WHERE session_id = ANY($1)", list(sids))
    )


async def wait_until_blocked(owner: asyncpg.Connection) -> None:
    """The writer waits on our lock (polled: PostgreSQL has no notification for it)."""
    async with asyncio.timeout(10):
        while not await owner.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):
            await asyncio.sleep(0.01)


async def test_a_huge_session_end_value_is_clamped_not_a_failure(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    sid = uuid.uuid4()
    end = event(sid, ec="system", ea="session_end", ev=3e9)
    response = await post(client, {"batch": [event(sid), end]})
    assert response.status_code == 200, response.text
    row = await owner.fetchrow("SELECT total_duration_sec FROM sessions WHERE id = $1", sid)
    assert row is not None and row["total_duration_sec"] == MAX_SESSION_SECONDS
    # The event keeps the value the client sent (a numeric column has room for it).
    value = await owner.fetchval(
        "SELECT event_value FROM events WHERE session_id = $1 AND event_action = 'session_end'",
        sid,
    )
    assert value == 3_000_000_000


async def test_a_bad_request_fails_alone_and_its_batch_is_stored(
    client: httpx.AsyncClient,
    site: Site,
    owner: asyncpg.Connection,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Without the clamp, a session_end of 3e9 seconds overflows the int4 column while the
    # batch is COPYed: the database driver refuses the whole transaction.
    monkeypatch.setattr(records, "MAX_SESSION_SECONDS", 10**12)
    blocker, good1, bad, good2 = (uuid.uuid4() for _ in range(4))
    await owner.execute("BEGIN")
    await owner.execute("LOCK TABLE sessions IN EXCLUSIVE MODE")
    try:
        first = asyncio.create_task(post(client, event(blocker)))
        await wait_until_blocked(owner)
        # These three queue behind the blocked batch and form the next batch together.
        answers = [
            asyncio.create_task(post(client, body))
            for body in (
                event(good1),
                event(bad, ec="system", ea="session_end", ev=3e9),
                event(good2, ec="conversion", ea="phone_call"),
            )
        ]
        async with asyncio.timeout(10):
            while writer.pending_events < 3:
                await asyncio.sleep(0.005)
    finally:
        await owner.execute("COMMIT")
    assert (await first).status_code == 200
    ok1, refused, ok2 = [await a for a in answers]
    assert ok1.status_code == 200 and ok2.status_code == 200, (ok1.text, ok2.text)
    assert {k: v for k, v in ok2.json().items() if k != "k"} == {"status": "synced", "score": 50}
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "events_not_storable"
    assert await stored_events(owner, good1, good2) == 2
    assert await stored_events(owner, bad) == 0
    assert await owner.fetchval("SELECT count(*) FROM sessions WHERE id = $1", bad) == 0


async def test_a_worker_that_dies_is_logged_and_restarted(
    client: httpx.AsyncClient,
    site: Site,
    owner: asyncpg.Connection,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real_take = writer._take_batch
    real_write = writer._write_with_retries
    faults = {"take": 1, "write": 1}

    def take_batch() -> Any:
        if faults["take"]:  # dies before taking anything: the request stays queued
            faults["take"] -= 1
            raise RuntimeError("injected fault in the worker loop")
        return real_take()

    async def write_with_retries(conn: Any, batch: Any) -> Any:
        if faults["write"]:  # dies holding a batch: its request must still get an answer
            faults["write"] -= 1
            raise RuntimeError("injected fault while writing")
        return await real_write(conn, batch)

    monkeypatch.setattr(writer, "_take_batch", take_batch)
    crashes = await crash_count(client)
    sid = uuid.uuid4()
    with caplog.at_level(logging.ERROR, logger="leadtrail.ingest.writer"):
        first = await post(client, event(sid))
        assert first.status_code == 200, first.text
        assert faults["take"] == 0 and writer.live_workers == 1

        monkeypatch.setattr(writer, "_write_with_retries", write_with_retries)
        lost = await post(client, event(sid, ea="page_view"))
        assert lost.status_code == 503 and lost.json()["error"] == "write_failed"
        again = await post(client, event(sid, ea="page_view"))
        assert again.status_code == 200, again.text
    assert faults["write"] == 0 and writer.live_workers == 1
    died = [r for r in caplog.records if "died; restarting" in r.getMessage()]
    assert len(died) == 2 and all(r.exc_info for r in died)
    assert await stored_events(owner, sid) == 2
    assert await crash_count(client) == crashes + 2


async def crash_count(client: httpx.AsyncClient) -> float:
    metrics = (await client.get("/metrics")).text
    name = "leadtrail_ingest_writer_crashes_total "
    return next(float(line[len(name) :]) for line in metrics.splitlines() if line.startswith(name))


async def test_a_stuck_batch_is_answered_503_and_the_writer_recovers(
    client: httpx.AsyncClient,
    site: Site,
    owner: asyncpg.Connection,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(writer, "_write_timeout", 0.4)  # lock waits: 0.2 s
    sid = uuid.uuid4()
    await owner.execute("BEGIN")
    await owner.execute("LOCK TABLE sessions IN EXCLUSIVE MODE")
    try:
        async with asyncio.timeout(10):
            stuck = await post(client, event(sid))
    finally:
        await owner.execute("ROLLBACK")
    assert stuck.status_code == 503 and stuck.json()["error"] == "write_failed"
    assert "retry-after" in stuck.headers and await stored_events(owner, sid) == 0
    assert (await post(client, event(sid))).status_code == 200
    assert await stored_events(owner, sid) == 1


async def test_a_connection_that_stops_answering_is_closed_by_the_watchdog(
    client: httpx.AsyncClient,
    site: Site,
    owner: asyncpg.Connection,
    writer: Writer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A statement that never answers and that PostgreSQL's timeouts do not cover (they are
    not set here): the watchdog closes the connection and the requests get 503."""
    monkeypatch.setattr(writer, "_write_timeout", 0.25)  # watchdog: 1 s

    async def hang(conn: Any, events: Any, settings: str = "") -> Any:
        await conn.execute("SELECT pg_sleep(5)")

    monkeypatch.setattr(writer.batches, "write", hang)
    sid = uuid.uuid4()
    async with asyncio.timeout(10):
        stuck = await post(client, event(sid))
    assert stuck.status_code == 503 and stuck.json()["error"] == "write_failed"
    monkeypatch.undo()
    assert (await post(client, event(sid))).status_code == 200
    assert await stored_events(owner, sid) == 1
