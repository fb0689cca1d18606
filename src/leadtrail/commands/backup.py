"""``leadtrail backup`` and ``leadtrail restore``: the database with PostgreSQL's own tools
(docs/operations.md). Works on the embedded server and on an external ``LEADTRAIL_DATABASE_URL``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from leadtrail.cli import _settings, friendly

T = TypeVar("T")


def _run_with_dsn(work: Callable[[str], Awaitable[T]]) -> T:
    """Run ``work`` with the owner URL, starting the embedded server for it if needed."""
    from leadtrail.storage import Database

    settings = _settings()

    async def run() -> T:
        dsn, embedded = await Database.resolve_dsn(settings)
        try:
            return await work(dsn)
        finally:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)

    return asyncio.run(run())


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def backup(file: Path) -> None:
    """Write a consistent backup of the database to FILE (pg_dump custom format).

    Safe while leadtrail is serving: pg_dump reads one snapshot.
    """
    from leadtrail.storage.backup import backup as dump

    size = _run_with_dsn(lambda dsn: dump(dsn, file))
    click.echo(f"backup written to {file} ({size:,} bytes)")


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def restore(file: Path, yes: bool) -> None:
    """Replace the database with the backup in FILE. Stop leadtrail first.

    The backup is restored into a new database and swapped in only when it restored
    completely; the previous database is kept under another name (printed).
    """
    from leadtrail.storage.backup import restore as load

    if not yes:
        click.confirm(f"Replace the database with {file}?", abort=True)
    kept = _run_with_dsn(lambda dsn: load(dsn, file))
    click.echo(f"restored {file}; the previous database is kept as {kept} (drop it when done)")
