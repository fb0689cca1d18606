"""``leadtrail sync ...`` (DynamoDB stream reader, dead letters, checksums, correlation)
and the DynamoDB commands of ``leadtrail import``."""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import click
import orjson

from leadtrail.cli import _settings, _with_db, friendly


def _site_id(database: Any, ref: str) -> Any:
    from leadtrail.sites.service import get_site

    async def find() -> UUID:
        async with database.system() as conn:
            return (await get_site(conn, ref)).id

    return find()


def _context(settings: Any) -> tuple[Any, Any]:
    from leadtrail.sync import config as sync_config
    from leadtrail.sync.aws import Clients

    return sync_config.load(settings.sync_config), Clients(
        settings.dynamodb_endpoint_url, settings.aws_region
    )


async def _checked(database: Any, config: Any) -> None:
    from leadtrail.sync.mirror import check_tables

    async with database.system() as conn:
        await check_tables(conn, config)


@click.group()
def sync() -> None:
    """Sync from DynamoDB: stream reader, dead letters, checksums (docs/sync.md)."""


@sync.command("check")
@friendly
def sync_check() -> None:
    """Validate the sync configuration against the database."""
    settings = _settings()
    config, _ = _context(settings)

    async def work(database: Any) -> None:
        await _checked(database, config)
        click.echo(f"{config.source}: {len(config.tables)} tables, configuration is valid")

    _with_db(work)


@sync.command("run")
@click.option("--site", "site_ref", help="Site public id or id (default LEADTRAIL_SYNC_SITE).")
@click.option("--table", "tables", multiple=True, help="Source table (repeatable; default all).")
@click.option("--once", is_flag=True, help="Read what is there now, then exit.")
@friendly
def sync_run(site_ref: str | None, tables: tuple[str, ...], once: bool) -> None:
    """Follow the DynamoDB streams in the foreground (checkpoints in PostgreSQL)."""
    from leadtrail.errors import ConfigError
    from leadtrail.sync.streams import StreamReader

    settings = _settings()
    config, clients = _context(settings)
    ref = site_ref or settings.sync_site
    if not ref:
        raise ConfigError("no site: pass --site or set LEADTRAIL_SYNC_SITE")
    chosen = list(tables) or [t for t in settings.sync_tables.split(",") if t.strip()] or None

    async def work(database: Any) -> None:
        await _checked(database, config)
        site_id = await _site_id(database, ref)
        reader = StreamReader(
            database, config, site_id, clients, chosen, settings.sync_poll_interval
        )
        if once:
            while await reader.run_once():
                pass
            click.echo(f"applied {reader.records} records ({reader.dead_letters} to the DLQ)")
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"following {len(reader._specs)} streams (Ctrl-C stops)", err=True)
        await reader.start()
        await stop.wait()
        await reader.stop()
        click.echo(f"applied {reader.records} records ({reader.dead_letters} to the DLQ)")

    _with_db(work)


@sync.group("dlq")
def dlq() -> None:
    """Records that failed to transform."""


@dlq.command("list")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--table", help="Only this source table.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Whole records as JSON lines.")
@friendly
def dlq_list(site_ref: str, table: str | None, limit: int, as_json: bool) -> None:
    """List dead letters, oldest first."""
    from leadtrail.sync import dlq as queue

    async def work(database: Any) -> None:
        site_id = await _site_id(database, site_ref)
        for letter in await queue.list_letters(database, site_id, table, limit):
            if as_json:
                click.echo(orjson.dumps(letter.__dict__, default=str).decode())
            else:
                click.echo(
                    f"{letter.id}\t{letter.source_table}\t{letter.attempts}\t{letter.reason}"
                )

    _with_db(work)


def _ids(ids: tuple[int, ...], everything: bool) -> list[int] | None:
    from leadtrail.errors import ConfigError

    if not ids and not everything:
        raise ConfigError("name dead-letter ids or pass --all")
    return None if everything else list(ids)


@dlq.command("retry")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--all", "everything", is_flag=True, help="Every dead letter of the site.")
@click.argument("ids", nargs=-1, type=int)
@friendly
def dlq_retry(site_ref: str, everything: bool, ids: tuple[int, ...]) -> None:
    """Transform dead letters again with the current configuration."""
    from leadtrail.sync import dlq as queue

    chosen = _ids(ids, everything)
    config, _ = _context(_settings())

    async def work(database: Any) -> None:
        site_id = await _site_id(database, site_ref)
        ok, failing = await queue.retry(database, config, site_id, chosen)
        click.echo(f"applied {ok}; {failing} still failing")

    _with_db(work)


@dlq.command("drop")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--all", "everything", is_flag=True, help="Every dead letter of the site.")
@click.argument("ids", nargs=-1, type=int)
@friendly
def dlq_drop(site_ref: str, everything: bool, ids: tuple[int, ...]) -> None:
    """Delete dead letters."""
    from leadtrail.sync import dlq as queue

    chosen = _ids(ids, everything)

    async def work(database: Any) -> None:
        site_id = await _site_id(database, site_ref)
        click.echo(f"dropped {await queue.drop(database, site_id, chosen)}")

    _with_db(work)


@sync.command("checksum")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--table", "table", required=True, help="Source table.")
@click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
@friendly
def sync_checksum(site_ref: str, table: str, as_json: bool) -> None:
    """Compare a DynamoDB table with its mirror (exit 2 when they differ)."""
    from leadtrail.sync.checksum import checksum

    settings = _settings()
    config, clients = _context(settings)
    spec = config.table(table)

    async def work(database: Any) -> bool:
        site_id = await _site_id(database, site_ref)
        report = await checksum(database, clients, site_id, spec)
        if as_json:
            click.echo(orjson.dumps(report.as_dict()).decode())
        else:
            s, m = report.source, report.mirror
            click.echo(f"{spec.source} -> {spec.target}")
            click.echo(f"  source: {s.items} items, {s.rows} keys, digest {s.digest:032x}")
            click.echo(f"  mirror: {m.rows} rows, digest {m.digest:032x}")
            for kind in ("missing", "extra", "different"):
                keys = getattr(report, kind)
                click.echo(f"  {kind}: {report.counts[kind]}" + (f" {keys[:20]}" if keys else ""))
            click.echo("  match" if report.matches else "  MISMATCH")
        return report.matches

    if not _with_db(work):
        raise SystemExit(2)


@sync.command("correlate")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@friendly
def sync_correlate(site_ref: str) -> None:
    """Turn mirrored Firespring visitors and MMP leads into sessions, events, people and
    leads (batch_populate_from_firespring, no cap)."""
    from leadtrail.sync.correlate import batch_populate_from_firespring

    async def work(database: Any) -> None:
        site_id = await _site_id(database, site_ref)
        out = await batch_populate_from_firespring(database, site_id)
        click.echo(
            f"{out['sessions']} sessions, {out['events']} events, {out['leads']} new leads, "
            f"{out['linked']} sessions linked to people"
        )

    _with_db(work)


# -- import ---------------------------------------------------------------------------


def _progress(total: int | None, label: str) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RowsPerSecond(ProgressColumn):
        def render(self, task: Any) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} rows/s" if speed else "- rows/s")

    progress = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        RowsPerSecond(),
        TimeRemainingColumn(),
        transient=False,
    )
    return progress, progress.add_task(label, total=total or None)


@click.command("dynamodb")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--table", "table", required=True, help="Source DynamoDB table.")
@click.option("--segments", default=4, show_default=True, type=click.IntRange(1, 1000),
              help="Parallel Scan segments.")  # fmt: skip
@click.option("--restart", is_flag=True, help="Forget an unfinished import and start over.")
@friendly
def import_dynamodb(site_ref: str, table: str, segments: int, restart: bool) -> None:
    """Import a DynamoDB table with a parallel Scan (resumable)."""
    from leadtrail.sync.imports import import_scan, table_item_count

    settings = _settings()
    config, clients = _context(settings)
    spec = config.table(table)

    async def work(database: Any) -> None:
        await _checked(database, config)
        site_id = await _site_id(database, site_ref)
        total = await asyncio.to_thread(table_item_count, clients, spec)
        progress, task = _progress(total, spec.source)
        with progress:
            out = await import_scan(
                database, clients, site_id, spec, segments, restart=restart,
                progress=lambda n: progress.advance(task, n),
            )  # fmt: skip
        click.echo(f"{out.items} items read, {out.rows} rows written, {out.failed} to the DLQ")

    _with_db(work)


@click.command("dynamodb-export")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--table", "table", help="Source table (default: from manifest-summary.json).")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@friendly
def import_dynamodb_export(site_ref: str, table: str | None, directory: Path) -> None:
    """Import a DynamoDB export to S3 (DynamoDB JSON lines, gzip), downloaded to DIRECTORY."""
    from leadtrail.errors import ConfigError
    from leadtrail.sync.imports import export_files, export_table, import_export

    settings = _settings()
    config, _ = _context(settings)
    name = table or export_table(directory)
    if not name:
        raise ConfigError("no manifest-summary.json names the table: pass --table")
    spec = config.table(name)
    files = export_files(directory)

    async def work(database: Any) -> None:
        await _checked(database, config)
        site_id = await _site_id(database, site_ref)
        progress, task = _progress(None, spec.source)
        workers = min(len(files), os.cpu_count() or 1)
        with progress, ProcessPoolExecutor(workers) as pool:
            out = await import_export(
                database, site_id, spec, files, lambda n: progress.advance(task, n), pool
            )
        click.echo(f"{out.items} items read, {out.rows} rows written, {out.failed} to the DLQ")

    _with_db(work)


@click.command("events")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly
def import_events(site_ref: str, file: Path) -> None:
    """Import page views and events from another tool (JSON lines or CSV).

    Columns: timestamp, session_id, url (required); action, category, label, value,
    referrer, ip, user_agent, visitor_id, event_id, utm_*, country_code, region, city.
    docs/sync.md lists the aliases. Safe to re-run: rows map to the same event ids.
    """
    from leadtrail.analytics.rollups import Rollups
    from leadtrail.errors import BadRequest
    from leadtrail.ingest.sites import SiteConfig
    from leadtrail.sync.correlate import write_history
    from leadtrail.sync.history import Skipped, rows, to_event

    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{file} is not UTF-8 text (byte {exc.start})") from None

    async def work(database: Any) -> None:
        from leadtrail.sites.service import get_site

        async with database.system() as conn:
            site = await get_site(conn, site_ref)
            row = await conn.fetchrow(
                "SELECT id, public_id, domain, allowed_origins, settings FROM sites WHERE id = $1",
                site.id,
            )
        config = SiteConfig.from_row(row)
        events, skipped = [], 0
        for line, data in rows(text, file.name):
            out = to_event(config, line, data)
            if isinstance(out, Skipped):
                skipped += 1
            else:
                events.append(out)
        if not events:
            raise BadRequest(f"{file} holds no events")
        first = min(e.created_at for e in events)
        linked = await write_history(database, site.id, events)
        hours = await Rollups(database).rebuild_sites([site.id], first)
        sessions = len({e.session_id for e in events})
        click.echo(
            f"{len(events)} events in {sessions} sessions imported ({skipped} bot rows skipped); "
            f"{linked} sessions linked to people; {hours} report hours re-aggregated"
        )

    _with_db(work)


def register(main: click.Group, import_group: click.Group) -> None:
    """Add ``sync`` to the CLI and the DynamoDB commands to ``import``."""
    main.add_command(sync)
    import_group.add_command(import_dynamodb)
    import_group.add_command(import_dynamodb_export)
    import_group.add_command(import_events)
