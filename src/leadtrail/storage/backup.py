"""Backups with PostgreSQL's own tools: ``pg_dump`` (a consistent snapshot taken while
leadtrail keeps running) and ``pg_restore``.

The embedded server's binaries ship with pgserver (PostgreSQL 16), so they are used for it
and for any external server up to version 16; a newer external server needs its own client
tools on ``PATH`` (a pg_dump older than the server refuses to dump it).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

from leadtrail.errors import ConfigError
from leadtrail.storage.embedded import binaries_dir

EMBEDDED_MAJOR = 16
#: database names the restore quotes into DDL (they come from settings, never a request)
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


async def _server_major(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()


def _tool(name: str, server_major: int) -> str:
    if server_major <= EMBEDDED_MAJOR:
        return str(binaries_dir() / name)
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            f"PostgreSQL {server_major} needs {name} {server_major} or newer on PATH "
            f"(the bundled one is {EMBEDDED_MAJOR})"
        )
    return found


async def _run(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        lines = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
        raise ConfigError(f"{Path(args[0]).name} failed: {lines[-1] if lines else 'no output'}")


async def backup(dsn: str, target: Path) -> int:
    """Dump the database to ``target`` (pg_dump's custom format); returns its size."""
    if target.exists() and target.is_dir():
        raise ConfigError(f"{target} is a directory; name the backup file")
    tool = _tool("pg_dump", await _server_major(dsn))
    partial = target.with_name(target.name + ".partial")
    # Written beside the target and renamed, so a failed run never leaves half a backup
    # under the name a restore would use.
    await _run(tool, "--format=custom", "--compress=6", f"--file={partial}", f"--dbname={dsn}")
    partial.replace(target)
    return target.stat().st_size


def _with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + quote(database, safe="")))


async def restore(dsn: str, source: Path) -> str:
    """Replace the database with the backup; returns the name the old database is kept under.

    The backup is restored into a new database first, so a failed restore changes nothing;
    only then the two swap names (which needs every other connection closed: stop leadtrail
    first). The old database's replication slots are dropped, or they would hold WAL forever.
    """
    if not source.is_file():
        raise ConfigError(f"no backup file at {source}")
    database = unquote(urlsplit(dsn).path.lstrip("/")) or "postgres"
    if not _PLAIN_NAME.fullmatch(database):
        raise ConfigError(f"restore needs a plain database name, not {database!r}")
    staging, kept = (
        f"{database}_restoring",
        f"{database}_before_restore_{time.strftime('%Y%m%d%H%M%S')}",
    )
    admin = await asyncpg.connect(_with_database(dsn, "postgres"))
    try:
        tool = _tool("pg_restore", int(await admin.fetchval("SHOW server_version_num")) // 10000)
        await admin.execute(f'DROP DATABASE IF EXISTS "{staging}"')
        await admin.execute(f'CREATE DATABASE "{staging}" TEMPLATE template0')
        try:
            await _run(
                tool,
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={_with_database(dsn, staging)}",
                str(source),
            )
            others = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", database
            )
            if others:
                raise ConfigError(
                    f"{others} connection(s) to {database} are open: stop leadtrail, then restore"
                )
        except BaseException:
            await admin.execute(f'DROP DATABASE IF EXISTS "{staging}"')
            raise
        await admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
            " WHERE database = $1 AND NOT active",
            database,
        )
        await admin.execute(f'ALTER DATABASE "{database}" RENAME TO "{kept}"')
        await admin.execute(f'ALTER DATABASE "{staging}" RENAME TO "{database}"')
    finally:
        await admin.close()
    return kept
