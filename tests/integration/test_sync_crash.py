"""Crash test: SIGKILL the server under load, restart it; every event that got a 2xx is
stored exactly once, session counters match their events, and retries change nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.conftest import ModuleDatabase, free_port

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
WORKERS = 24


class Server:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leadtrail", "serve", "--port", str(self.port)],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                try:
                    if (await http.get(f"{self.url}/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                assert self.proc.poll() is None, "server exited during start"
                await asyncio.sleep(0.05)  # a port in another process: nothing to await
        raise AssertionError("server did not become ready")

    def kill(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=30)


@pytest.fixture
def server_env(
    test_database: ModuleDatabase, cli_env: dict[str, str], tmp_path: Any
) -> dict[str, str]:
    return {
        **cli_env,
        "LEADTRAIL_DATABASE_URL": test_database.owner_dsn,
        "LEADTRAIL_DATA_DIR": str(tmp_path),
        "LEADTRAIL_SYNC_IP_RATE_LIMIT": "1000000/minute",
        "LEADTRAIL_SYNC_SITE_RATE_LIMIT": "1000000/minute",
        "LEADTRAIL_LOG_LEVEL": "warning",
    }


@pytest.fixture
async def owner(test_database: ModuleDatabase) -> Iterator[asyncpg.Connection]:
    conn = await asyncpg.connect(test_database.owner_dsn)
    await conn.execute(
        "INSERT INTO sites (public_id, name, domain) VALUES ('crash_site', 'Crash', 'crash.example') "
        "ON CONFLICT DO NOTHING"
    )
    try:
        yield conn
    finally:
        await conn.close()


def make_request(worker: int, n: int) -> tuple[bytes, list[str]]:
    """Alternate single events and batches of 20 in a few sessions per worker."""
    sid = str(uuid.UUID(int=worker * 1000 + n // 10 + 1))
    size = 1 if n % 2 else 20
    events = [
        {"s": "crash_site", "u": f"https://crash.example/{n}", "sid": sid, "ec": "interaction",
         "ea": "page_view", "eid": f"w{worker:03d}n{n:06d}i{i:02d}"}
        for i in range(size)
    ]  # fmt: skip
    body = orjson.dumps(events[0] if size == 1 else {"batch": events})
    return body, [e["eid"] for e in events]  # type: ignore[misc]


async def load(
    url: str, acked: set[str], sent: list[bytes], stop: asyncio.Event, worker: int
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        n = 0
        while not stop.is_set():
            body, eids = make_request(worker, n)
            n += 1
            sent.append(body)
            try:
                response = await http.post(
                    "/api/sync", content=body, headers={"user-agent": CHROME}
                )
            except httpx.TransportError:
                return  # the server is gone
            assert response.status_code == 200, response.text
            acked.update(eids)


async def test_sigkill_under_load_loses_and_duplicates_nothing(
    server_env: dict[str, str], owner: asyncpg.Connection
) -> None:
    server = Server(server_env, free_port())
    await server.start()
    acked: set[str] = set()
    sent: list[bytes] = []
    stop = asyncio.Event()
    workers = [asyncio.create_task(load(server.url, acked, sent, stop, w)) for w in range(WORKERS)]
    while len(acked) < 3000:  # kill mid-stream, with plenty acknowledged and more in flight
        await asyncio.sleep(0.01)
    server.kill(signal.SIGKILL)
    stop.set()
    await asyncio.gather(*workers)

    counts = dict(await owner.fetch("SELECT client_event_id, count(*) FROM events GROUP BY 1"))
    assert acked - counts.keys() == set(), "acknowledged events were lost"
    assert max(counts.values()) == 1, "an event was stored twice"
    await assert_counters_match(owner)

    # Restart and replay everything that was sent, acknowledged or not: nothing doubles.
    server = Server(server_env, free_port())
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            for body in sent:
                response = await http.post(
                    "/api/sync", content=body, headers={"user-agent": CHROME}
                )
                assert response.status_code == 200
    finally:
        server.kill(signal.SIGTERM)
    after = dict(await owner.fetch("SELECT client_event_id, count(*) FROM events GROUP BY 1"))
    assert max(after.values()) == 1
    replayed = {eid for body in sent for eid in _eids(body)}
    assert after.keys() == replayed
    await assert_counters_match(owner)
    assert os.environ.get("LEADTRAIL_DATABASE_URL") is None  # the test did not leak settings


def _eids(body: bytes) -> list[str]:
    data = orjson.loads(body)
    return [e["eid"] for e in data.get("batch", [data])]


async def assert_counters_match(owner: asyncpg.Connection) -> None:
    mismatched = await owner.fetchval(
        """SELECT count(*) FROM sessions s
           WHERE s.event_count <> (SELECT count(*) FROM events e
                                   WHERE e.site_id = s.site_id AND e.session_id = s.id
                                     AND e.session_month = s.created_month)"""
    )
    assert mismatched == 0, "session counters disagree with their events"
