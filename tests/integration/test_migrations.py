"""Migrations: applying twice is a no-op; concurrent migrators apply each file once."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg

from leadtrail.storage import migrator
from leadtrail.storage.embedded import EmbeddedPostgres, binaries_dir
from tests.conftest import Cluster, create_database

SCHEMA_SNAPSHOT = """
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT format('%s.%s %s', table_name, column_name, data_type) AS x
  FROM information_schema.columns WHERE table_schema IN ('public', 'leadtrail')
  UNION ALL SELECT format('idx %s', indexname) FROM pg_indexes WHERE schemaname = 'public'
  UNION ALL SELECT format('policy %s.%s', tablename, policyname) FROM pg_policies
  UNION ALL SELECT format('fn %s', proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE nspname = 'leadtrail'
) s
"""


async def test_applying_twice_is_a_noop(cluster: Cluster, template: str) -> None:
    name = await create_database(cluster, "template0", "t_migrate_twice")
    conn = await asyncpg.connect(cluster.dsn(name))
    try:
        first = await migrator.migrate(conn)
        assert [m.version for m in first] == [m.version for m in migrator.available()]
        before = await conn.fetchval(SCHEMA_SNAPSHOT)
        assert await migrator.migrate(conn) == []
        assert await conn.fetchval(SCHEMA_SNAPSHOT) == before
        assert await conn.fetchval("SELECT count(*) FROM leadtrail.schema_migrations") == len(first)
    finally:
        await conn.close()


async def test_concurrent_migrate_processes_on_one_url(
    cluster: Cluster, template: str, cli_env: dict[str, str]
) -> None:
    name = await create_database(cluster, "template0", "t_migrate_race")
    env = {**cli_env, "LEADTRAIL_DATABASE_URL": cluster.dsn(name)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "leadtrail",
            "migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    results = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    conn = await asyncpg.connect(cluster.dsn(name))
    try:
        rows = await conn.fetch(
            "SELECT version, count(*) AS n FROM leadtrail.schema_migrations GROUP BY version"
        )
    finally:
        await conn.close()
    assert {r["version"] for r in rows} == {m.version for m in migrator.available()}
    assert all(r["n"] == 1 for r in rows)


def test_concurrent_migrate_processes_on_a_fresh_embedded_data_dir(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    env = {
        **cli_env,
        "LEADTRAIL_DATA_DIR": str(tmp_path / "data"),
        "LEADTRAIL_EMBEDDED_SHARED_BUFFERS": "128MB",
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "leadtrail", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    # The last process out stopped the embedded server.
    assert not (tmp_path / "data" / "pg" / "postmaster.pid").exists()
    embedded = EmbeddedPostgres(tmp_path / "data", shared_buffers="128MB")
    dsn = embedded.start()
    try:
        counts = subprocess.run(
            [
                str(binaries_dir() / "psql"),
                dsn,
                "-tAc",
                "SELECT version || ':' || count(*) FROM leadtrail.schema_migrations GROUP BY version ORDER BY version",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    finally:
        embedded.stop()
    assert counts == [f"{m.version}:1" for m in migrator.available()]
