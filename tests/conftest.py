"""Shared fixtures: one embedded PostgreSQL cluster per test session, a migrated template
database, and a fresh database per test module cloned from it."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from leadtrail.app import create_app
from leadtrail.config import Settings
from leadtrail.storage import Database, migrator
from leadtrail.storage.embedded import SERVICE_ROOT, EmbeddedPostgres, remove_cluster
from leadtrail.web.ws_protocol import CoalescingWebSocketsProtocol

TEMPLATE = "lt_template"


@dataclass(frozen=True)
class Cluster:
    embedded: EmbeddedPostgres

    def dsn(self, database: str, user: str = "postgres") -> str:
        """URL with the role's generated password (the cluster asks for one)."""
        return self.embedded.dsn(user=user, database=database)


@pytest.fixture(scope="session", autouse=True)
def _service_clusters_removed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run as root, embedded clusters live under SERVICE_ROOT, outside pytest's temp dir:
    remove the ones this session's data directories made once everything has stopped."""
    yield
    base = str(tmp_path_factory.getbasetemp().resolve())
    for marker in SERVICE_ROOT.glob("*/data_dir") if SERVICE_ROOT.is_dir() else []:
        if marker.read_text().strip().startswith(base + os.sep):
            shutil.rmtree(marker.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    embedded = EmbeddedPostgres(tmp_path_factory.mktemp("pg"), shared_buffers="256MB")
    embedded.start()
    try:
        yield Cluster(embedded)
    finally:
        embedded.stop(force=True)
        remove_cluster(embedded.data_dir)


@pytest.fixture(scope="session")
async def template(cluster: Cluster) -> str:
    conn = await asyncpg.connect(cluster.dsn("postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(cluster.dsn(TEMPLATE))
    try:
        await migrator.migrate(conn)
        await conn.execute("SELECT leadtrail.ensure_partitions(3)")
    finally:
        await conn.close()
    return TEMPLATE


async def create_database(cluster: Cluster, template: str, name: str) -> str:
    conn = await asyncpg.connect(cluster.dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return name


def _db_name(node: pytest.Item | pytest.Module | pytest.Collector) -> str:
    return "t_" + re.sub(r"[^a-z0-9_]", "_", node.name.lower().removesuffix(".py"))[:50]


@dataclass(frozen=True)
class ModuleDatabase:
    name: str
    owner_dsn: str
    app_dsn: str


@pytest.fixture(scope="module")
async def test_database(
    cluster: Cluster, template: str, request: pytest.FixtureRequest
) -> ModuleDatabase:
    name = await create_database(cluster, template, _db_name(request.node))
    return ModuleDatabase(name, cluster.dsn(name), cluster.dsn(name, user="leadtrail_app"))


def make_settings(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Settings:
    """Settings of a test module's server: small pool, quiet logs, no change feed (each
    feed holds a replication slot, 16 per cluster: realtime tests turn it on)."""
    base: dict[str, Any] = {
        "data_dir": tmp_path_factory.mktemp("data"),
        "secret_key": "test-secret",
        "pool_min_size": 1,
        "pool_max_size": 5,
        "log_level": "warning",
        "realtime_enabled": False,
    }
    return Settings(**(base | overrides))


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory)


@pytest.fixture
async def owner(test_database: ModuleDatabase) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the table owner (bypasses RLS): to arrange and inspect rows."""
    conn = await asyncpg.connect(test_database.owner_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def db(test_database: ModuleDatabase, settings: Settings) -> AsyncIterator[Database]:
    database = await Database.open(
        settings, dsn=test_database.owner_dsn, app_dsn=test_database.app_dsn
    )
    try:
        yield database
    finally:
        await database.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: object


@pytest.fixture(scope="module")
async def server(db: Database, settings: Settings) -> AsyncIterator[LiveServer]:
    """The real app over real HTTP on loopback, in this event loop."""
    app = create_app(settings, database=db)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        proxy_headers=False,
        ws=CoalescingWebSocketsProtocol,  # as `leadtrail serve` runs
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve())
    while not srv.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app)
    finally:
        srv.should_exit = True
        await task


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def cli_env() -> dict[str, str]:
    """Environment for running the ``leadtrail`` CLI in a subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADTRAIL_")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def run_leadtrail(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``leadtrail *args`` in a subprocess with ``env``; no stdin, so prompts abort."""
    return subprocess.run(
        [sys.executable, "-m", "leadtrail", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


async def leadtrail_cli(
    database: ModuleDatabase, env: dict[str, str], *args: str
) -> tuple[int | None, str, str]:
    """Run ``leadtrail *args`` against ``database`` (as its owner); exit code, stdout, stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "leadtrail",
        *args,
        env={**env, "LEADTRAIL_DATABASE_URL": database.owner_dsn},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode, out.decode(), err.decode()


REPO = Path(__file__).resolve().parent.parent
