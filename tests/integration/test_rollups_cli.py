"""``leadtrail rollups rebuild``: old sessions written behind the job's back get counted."""

from __future__ import annotations

import subprocess
import sys

import asyncpg

from tests.conftest import ModuleDatabase


def leadtrail(
    test_database: ModuleDatabase, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadtrail", *args],
        env={**env, "LEADTRAIL_DATABASE_URL": test_database.owner_dsn},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_rebuild_counts_an_imported_history(
    test_database: ModuleDatabase, cli_env: dict[str, str]
) -> None:
    conn = await asyncpg.connect(test_database.owner_dsn)
    try:
        site = await conn.fetchval(
            "INSERT INTO sites (public_id, name, domain) VALUES ('hist_1', 'H', 'h.example') RETURNING id"
        )
        # a year-old import: last_seen_at is old, so the running job would never notice it
        await conn.execute(
            """
            INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at, page_views)
            SELECT $1, gen_random_uuid(), date_trunc('month', t)::date, t, t, 3
            FROM generate_series(now() - interval '400 days', now() - interval '300 days', interval '1 day') AS t
            """,
            site,
        )
        await conn.execute(
            "INSERT INTO leadtrail.rollup_progress (site_id, backfilled_at, scanned_to, settled_at) "
            "VALUES ($1, now(), now(), now())",
            site,
        )
        result = leadtrail(test_database, cli_env, "rollups", "rebuild", "--site", "hist_1")
        assert result.returncode == 0, result.stderr
        assert "hist_1: 101 hours re-aggregated" in result.stdout
        assert (
            await conn.fetchval("SELECT sum(sessions) FROM rollup_hourly WHERE site_id = $1", site)
            == 101
        )
        missing = leadtrail(test_database, cli_env, "rollups", "rebuild", "--site", "nope_1")
        assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    finally:
        await conn.close()
