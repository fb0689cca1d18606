"""SIGKILL the server while rows are written, restart it: a subscriber that rejoins with
``since`` gets every change exactly once, and the slot has moved on.

A real ``leadtrail serve`` process on its own embedded PostgreSQL (which outlives the killed
server, as a separate daemon would in production); rows are written straight into
PostgreSQL by this test, so writes go on while the server is dead. The subscriber is the
official Python client with auto-reconnect, which rejoins with the join payload it keeps
current (``since`` = the commit_timestamp of the last change it received).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from realtime import AsyncRealtimeClient

from leadtrail.auth.api_keys import create_key
from leadtrail.sites.service import create_site
from leadtrail.storage.embedded import EmbeddedPostgres
from tests.conftest import free_port
from tests.integration.realtime.conftest import Inbox, insert_event


class Server:
    def __init__(self, data: Path, env: dict[str, str]) -> None:
        self.data = data
        self.port = free_port()
        self.env = {
            **env,
            "LEADTRAIL_DATA_DIR": str(data),
            "LEADTRAIL_EMBEDDED_SHARED_BUFFERS": "128MB",
            "LEADTRAIL_LOG_LEVEL": "warning",
            "LEADTRAIL_REALTIME_POLL_INTERVAL": "0.01",
        }
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "leadtrail", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read() if self.proc.stderr else ""
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # another process opens the port: nothing to await
        raise AssertionError("leadtrail serve did not become ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def stop(self) -> str:
        if self.proc is None or self.proc.poll() is not None:
            return ""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=60)
        return err


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    yield data
    EmbeddedPostgres(data).stop(force=True)


async def _slot_confirmed(conn: asyncpg.Connection) -> int:
    value = await conn.fetchval(
        "SELECT (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint FROM pg_replication_slots "
        "WHERE slot_name LIKE 'leadtrail_rt_%'"
    )
    return int(value)


# The client reads ConnectionClosed.code/.reason on a dropped connection, which websockets >= 13.1
# deprecates; as an error (our warnings policy) it would kill the client's listener.
@pytest.mark.filterwarnings("ignore:ConnectionClosed.*is deprecated:DeprecationWarning")
async def test_sigkill_then_rejoin_with_since_gets_every_change_once(
    data_dir: Path, cli_env: dict[str, str]
) -> None:
    server = Server(data_dir, cli_env)
    await asyncio.to_thread(server.start)
    try:
        await _scenario(server, data_dir)
    finally:
        err = server.stop()
        assert "Traceback" not in err, err


async def _scenario(server: Server, data_dir: Path) -> None:
    dsn = EmbeddedPostgres(data_dir).dsn()
    conn = await asyncpg.connect(dsn)
    try:
        site = await create_site(conn, name="Kill", domain="kill.example")
        key = (await create_key(conn, site.id, name="sub", scopes=["read"])).key
    finally:
        await conn.close()

    inbox = Inbox()
    client = AsyncRealtimeClient(
        server.url + "/realtime/v1", key, max_retries=12, initial_backoff=0.25
    )
    channel = client.channel("survivor")

    def on_change(payload: Any) -> None:
        # Keep the join payload current: a rejoin (after a reconnect) resumes from here.
        channel.join_push.update_payload({"since": payload["data"]["commit_timestamp"]})
        inbox(payload)

    channel.on_postgres_changes("INSERT", on_change, table="events")
    subscribed = asyncio.Event()
    channel.on_system(lambda p: subscribed.set() if p.message.startswith("Subscribed") else None)
    await client.connect()
    await channel.subscribe()
    await asyncio.wait_for(subscribed.wait(), 15)

    written: list[UUID] = []
    stop_writing = asyncio.Event()

    async def writer() -> None:
        wconn = await asyncpg.connect(dsn)
        try:
            while not stop_writing.is_set():
                written.append(await insert_event(wconn, site.id, action=f"n{len(written)}"))
                await asyncio.sleep(0.003)
        finally:
            await wconn.close()

    writing = asyncio.create_task(writer())
    try:
        await inbox.wait_for(25)
        probe = await asyncpg.connect(dsn)
        before = await _slot_confirmed(probe)
        server.kill()  # mid-stream: some changes are in flight, some not yet read
        killed_at = len(written)
        # Rows keep coming while the server is dead.
        while len(written) < killed_at + 100:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(server.start)  # same port: the client reconnects by itself
        while len(written) < killed_at + 200:
            await asyncio.sleep(0.01)
    finally:
        stop_writing.set()
        await writing
    try:
        end_lsn = int(await probe.fetchval("SELECT (pg_current_wal_lsn() - '0/0')::bigint"))
        try:
            received = await inbox.wait_for(len(written), timeout=60)
        except TimeoutError:
            raise AssertionError(
                f"received {len(inbox.items)} of {len(written)}; killed at {killed_at}; "
                f"state {channel.state}; server log: {server.stop()[-3000:]}"
            ) from None
        ids = [UUID(p["data"]["record"]["id"]) for p in received]
        assert len(ids) == len(set(ids)), "a change arrived twice"
        assert set(ids) == set(written), f"missing {len(set(written) - set(ids))}"
        positions = [p["data"]["commit_timestamp"] for p in received]
        assert positions == sorted(positions)
        # The slot was confirmed past everything written (it only moves after the log).
        deadline = time.monotonic() + 30
        while (after := await _slot_confirmed(probe)) < end_lsn:
            assert time.monotonic() < deadline, (before, after, end_lsn)
            await asyncio.sleep(0.05)  # the feed confirms in another process
        assert after > before
    finally:
        await probe.close()
        await client.close()
