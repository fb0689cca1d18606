"""Connections as ``leadtrail serve`` runs them (web/server_config.py): a client that sends
its headers or its body too slowly is answered 408 and cut off, and one address holds at
most ``LEADTRAIL_REALTIME_MAX_CONNECTIONS_PER_IP`` realtime WebSockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from leadtrail.app import create_app
from leadtrail.config import Settings
from leadtrail.storage import Database
from leadtrail.web.server_config import uvicorn_config
from tests.conftest import LiveServer, free_port, make_settings
from tests.integration.people_support import Tenant, make_tenant


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        http_header_timeout=0.5,
        http_body_timeout=0.5,
        realtime_max_connections_per_ip=2,
    )


@pytest.fixture(scope="module")
async def served(db: Database, settings: Settings) -> AsyncIterator[LiveServer]:
    """The app behind the same uvicorn configuration as ``leadtrail serve``."""
    app = create_app(settings, database=db)
    config = uvicorn_config(
        app, settings, host="127.0.0.1", port=free_port(), loop="asyncio", log_level="critical"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{config.port}", app)
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "conns")


async def exchange(served: LiveServer, data: bytes) -> bytes:
    """Send ``data`` and never more; what the server says before it closes (30 s at most)."""
    port = int(served.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


async def test_headers_that_never_finish_get_408_and_a_closed_connection(
    served: LiveServer,
) -> None:
    answer = await exchange(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1")
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"header_timeout" in answer


async def test_a_silent_connection_is_closed_too(served: LiveServer) -> None:
    answer = await exchange(served, b"")
    assert answer.startswith(b"HTTP/1.1 408"), answer


async def test_a_body_that_stops_arriving_gets_408(served: LiveServer) -> None:
    answer = await exchange(
        served,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\n\r\n{"email": ',
    )
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"body_timeout" in answer


async def test_one_address_holds_a_bounded_number_of_websockets(
    served: LiveServer, tenant: Tenant
) -> None:
    url = (
        served.url.replace("http://", "ws://")
        + f"/realtime/v1/websocket?vsn=1.0.0&apikey={tenant.read_key}"
    )
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(connect(url))
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass
        assert refused.value.response.status_code == 429
        assert b"too_many_connections" in refused.value.response.body
        # Another client (behind the trusted local proxy) is not affected.
        other = {"X-Forwarded-For": "198.51.100.7"}
        async with connect(url, additional_headers=other):
            pass
