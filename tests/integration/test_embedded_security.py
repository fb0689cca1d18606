"""The embedded cluster belongs to the account running leadtrail: other local users can
neither log in nor read its files, and the owner logs in with a generated password."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from leadtrail.storage.embedded import binaries_dir
from tests.conftest import Cluster

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="acting as another OS user needs root")


def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/usr/sbin/runuser", "-u", "nobody", "--", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
        cwd="/",
        check=False,
    )


def psql(url: str, *, user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(binaries_dir() / "psql"), "-X", "-w", "-d", url, "-tAc", "SELECT 42"]
    if user is not None:
        return as_nobody(*command)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def socket_url(cluster: Cluster, password: str | None) -> str:
    secret = f":{password}" if password is not None else ""
    return f"postgresql://postgres{secret}@/leadtrail?host={cluster.embedded.socket_dir}"


@needs_root
def test_another_local_user_can_neither_connect_nor_read(cluster: Cluster) -> None:
    embedded = cluster.embedded
    for password in (None, "wrong"):
        result = psql(socket_url(cluster, password), user="nobody")
        assert result.returncode != 0 and "42" not in result.stdout, result
    for path in (embedded.data_dir, embedded.secrets_dir, embedded.pgdata, embedded.socket_dir):
        assert as_nobody("ls", str(path)).returncode != 0, path
    secret = embedded.secrets_dir / "postgres.password"
    assert as_nobody("cat", str(secret)).returncode != 0


def test_the_socket_asks_even_its_owner_for_the_password(cluster: Cluster) -> None:
    assert psql(socket_url(cluster, None)).returncode != 0
    assert psql(socket_url(cluster, "wrong")).returncode != 0
    assert psql(cluster.dsn("leadtrail")).stdout.strip() == "42"


def test_files_and_folders_are_private(cluster: Cluster) -> None:
    embedded = cluster.embedded
    for folder in (embedded.data_dir, embedded.secrets_dir, embedded.pgdata, embedded.socket_dir):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    for secret in embedded.secrets_dir.iterdir():
        assert secret.stat().st_mode & 0o777 == 0o600, secret
    # Nothing above the data directory was opened up (pytest makes its temp dirs 0700).
    assert embedded.data_dir.parent.stat().st_mode & 0o077 == 0


async def test_db_url_prints_a_url_that_logs_in(cluster: Cluster, cli_env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "leadtrail", "db", "url"],
        env={**cli_env, "LEADTRAIL_DATA_DIR": str(cluster.embedded.data_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    conn = await asyncpg.connect(result.stdout.strip())
    try:
        assert await conn.fetchval("SELECT current_user") == "postgres"
    finally:
        await conn.close()


async def test_app_role_logs_in_with_its_own_password(cluster: Cluster) -> None:
    conn = await asyncpg.connect(cluster.dsn("leadtrail", user="leadtrail_app"))
    try:
        assert await conn.fetchval("SELECT current_user") == "leadtrail_app"
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            f"postgresql://leadtrail_app:x@/leadtrail?host={Path(cluster.embedded.socket_dir)}"
        )
