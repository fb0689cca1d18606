"""``leadtrail retention run``: the retention job by hand (it also runs periodically)."""

from __future__ import annotations

from typing import Any

import click

from leadtrail.cli import _settings, _with_db, friendly


@click.group()
def retention() -> None:
    """Drop data older than each site's retention (whole monthly partitions)."""


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Only list what would be dropped or deleted.")
@friendly
def run(dry_run: bool) -> None:
    """Archive (for sites that ask) and drop the months every site is done with."""
    from leadtrail.lifecycle import retention as job

    settings = _settings()
    root = settings.archive_dir or settings.data_dir / "archive"

    async def work(database: Any) -> None:
        result = await job.run(database, root, dry_run=dry_run)
        verb = "would drop" if dry_run else "dropped"
        for name in result.dropped:
            click.echo(f"{verb} partition {name}")
        for name, count in result.deleted.items():
            click.echo(f"{'would delete' if dry_run else f'deleted {count} rows of'} {name}")
        for path in result.archived:
            click.echo(f"archived {path}")
        if not (result.dropped or result.deleted):
            click.echo("nothing has expired")

    _with_db(work)
