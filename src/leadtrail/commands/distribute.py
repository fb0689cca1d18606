"""``leadtrail db distribute``: place leadtrail's tables on a Citus cluster (docs/scaling.md)."""

from __future__ import annotations

from typing import Any

import asyncpg
import click

from leadtrail.cli import _setup_logging, _with_db, db, friendly
from leadtrail.errors import ConfigError
from leadtrail.storage import citus


@db.command("distribute")
@click.option(
    "--shard-count",
    type=click.IntRange(1, 1024),
    default=None,
    help="Shards per distributed table (default: the cluster's citus.shard_count, 32).",
)
@friendly
def distribute(shard_count: int | None) -> None:
    """Distribute every per-site table by site_id (colocated) and make the shared tables
    reference tables, on a database with the citus extension. Safe to run again."""
    _setup_logging("warning")

    async def work(database: Any) -> None:
        async with database.system() as conn:
            try:
                placed = await citus.distribute(conn, shard_count=shard_count, echo=click.echo)
            except asyncpg.PostgresError as exc:
                raise ConfigError(f"distributing failed: {exc}") from exc
        click.echo(
            f"{len(placed.distributed)} distributed, {len(placed.reference)} reference, "
            f"{len(placed.local)} left on the coordinator"
        )

    _with_db(work)
