"""``leadtrail backup`` / ``leadtrail restore`` with PostgreSQL's own tools, on the embedded
server from an empty data directory, and refusing to swap while the database is in use."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.conftest import Cluster, create_database
from tests.conftest import run_leadtrail as cli


def site_names(env: dict[str, str]) -> list[str]:
    listed = cli(env, "sites", "list")
    assert listed.returncode == 0, listed.stderr
    return sorted(line.split()[0] for line in listed.stdout.splitlines() if line.strip())


def test_embedded_backup_then_restore_brings_back_that_state(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    env = {
        **cli_env,
        "LEADTRAIL_DATA_DIR": str(tmp_path / "data"),
        "LEADTRAIL_EMBEDDED_SHARED_BUFFERS": "128MB",
    }
    made = cli(
        env, "sites", "create", "before", "--domain", "before.example", "--public-id", "before"
    )
    assert made.returncode == 0, made.stderr
    dump = tmp_path / "leadtrail.dump"

    done = cli(env, "backup", str(dump))
    assert done.returncode == 0, done.stderr
    assert dump.stat().st_size > 0 and not dump.with_name("leadtrail.dump.partial").exists()
    assert cli(env, "sites", "create", "after", "--domain", "after.example").returncode == 0

    refused = cli(env, "restore", str(dump))  # asks first; no answer on a closed stdin
    assert refused.returncode != 0 and "Aborted" in refused.stderr
    assert len(site_names(env)) == 2

    restored = cli(env, "restore", "--yes", str(dump))
    assert restored.returncode == 0, restored.stderr
    assert "leadtrail_before_restore_" in restored.stdout
    listed = cli(env, "sites", "list")
    assert "before" in listed.stdout and "after" not in listed.stdout

    into_dir = cli(env, "backup", str(tmp_path))
    assert into_dir.returncode == 2  # click's usage error, one clear line
    assert "is a directory" in into_dir.stderr and "Traceback" not in into_dir.stderr


async def test_restore_refuses_while_the_database_is_in_use(
    cluster: Cluster, template: str, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    name = await create_database(cluster, template, "t_backup_in_use")
    env = {**cli_env, "LEADTRAIL_DATABASE_URL": cluster.dsn(name)}
    dump = tmp_path / "in_use.dump"
    assert cli(env, "backup", str(dump)).returncode == 0
    conn = await asyncpg.connect(cluster.dsn(name))  # a running leadtrail, say
    try:
        result = cli(env, "restore", "--yes", str(dump))
        assert result.returncode == 1
        assert result.stderr.strip() == (
            "error: 1 connection(s) to t_backup_in_use are open: stop leadtrail, then restore"
        )
        staged = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname LIKE 't_backup_in_use_%'"
        )
        assert staged == 0  # the staging copy was dropped, the database left as it was
    finally:
        await conn.close()
