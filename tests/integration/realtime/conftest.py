"""Realtime fixtures: the change feed switched on, two tenants, and official-client helpers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from realtime import AsyncRealtimeChannel, AsyncRealtimeClient

from leadtrail.auth.api_keys import create_key
from leadtrail.auth.users import create_user
from leadtrail.config import Settings
from leadtrail.sites.service import add_member, create_site
from leadtrail.storage import Connection, Database
from tests.conftest import LiveServer


def make_settings(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret",
        pool_min_size=1,
        pool_max_size=5,
        log_level="warning",
        realtime_enabled=True,
        realtime_poll_interval=0.01,
        **overrides,
    )


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory)


@dataclass(frozen=True)
class Tenants:
    site_a: UUID
    site_b: UUID
    #: read key on site A, read key on site B, ingest-only key on A
    key_a: str
    key_b: str
    ingest_key_a: str
    #: a user who is a member of both sites
    user_email: str
    user_password: str


@pytest.fixture(scope="module")
async def tenants(db: Database) -> Tenants:
    async with db.system() as conn:
        owner = await create_user(conn, f"owner-{uuid4().hex[:6]}@example.com", "correct horse")
        site_a = await create_site(conn, name="A", domain="a.example", owner_id=owner.id)
        site_b = await create_site(conn, name="B", domain="b.example", owner_id=owner.id)
        key_a = await create_key(conn, site_a.id, name="a", scopes=["read"])
        key_b = await create_key(conn, site_b.id, name="b", scopes=["read"])
        ingest = await create_key(conn, site_a.id, name="i", scopes=["ingest"])
        viewer = await create_user(conn, f"viewer-{uuid4().hex[:6]}@example.com", "battery staple")
        await add_member(conn, site_a.id, viewer.id, "viewer")
        await add_member(conn, site_b.id, viewer.id, "viewer")
    return Tenants(
        site_a.id, site_b.id, key_a.key, key_b.key, ingest.key, viewer.email, "battery staple"
    )


def this_month() -> date:
    return datetime.now(UTC).date().replace(day=1)


async def insert_event(
    conn: Connection, site_id: UUID, *, action: str = "view", score: int = 0, **extra: Any
) -> UUID:
    event_id = uuid4()
    await conn.execute(
        """
        INSERT INTO events (site_id, id, session_id, session_month, url, event_category,
                            event_action, lead_score, metadata)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::jsonb)
        """,
        site_id,
        event_id,
        extra.get("session_id", uuid4()),
        this_month(),
        extra.get("url", "https://a.example/"),
        extra.get("category", "interaction"),
        action,
        score,
        orjson.dumps(extra.get("metadata", {"fp": "abc"})).decode(),
    )
    return event_id


async def insert_call(conn: Connection, site_id: UUID, phone: str = "+15550100") -> UUID:
    call_id = uuid4()
    await conn.execute(
        "INSERT INTO calls (site_id, id, phone_number, lead_score) VALUES ($1, $2, $3, 40)",
        site_id,
        call_id,
        phone,
    )
    return call_id


def ws_url(server: LiveServer) -> str:
    return server.url + "/realtime/v1"


class Inbox:
    """Collects callback payloads so a test can await them."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, payload: Any) -> None:
        self.items.append(payload)
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 15) -> list[Any]:
        async def until() -> None:
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(until(), timeout)
        return self.items


async def subscribed(channel: AsyncRealtimeChannel, timeout: float = 15) -> None:
    """Subscribe and wait for the server's "Subscribed to PostgreSQL"."""
    ready = asyncio.Event()
    errors: list[str] = []

    def on_system(payload: Any) -> None:
        if payload.message == "Subscribed to PostgreSQL":
            ready.set()

    def on_state(state: Any, error: Exception | None) -> None:
        if error is not None:
            errors.append(str(error))
            ready.set()

    channel.on_system(on_system)
    await channel.subscribe(on_state)
    await asyncio.wait_for(ready.wait(), timeout)
    assert not errors, errors


@pytest.fixture
async def connect(server: LiveServer) -> AsyncIterator[Callable[..., Any]]:
    clients: list[AsyncRealtimeClient] = []

    async def make(token: str, **kwargs: Any) -> AsyncRealtimeClient:
        client = AsyncRealtimeClient(ws_url(server), token, auto_reconnect=False, **kwargs)
        await client.connect()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
