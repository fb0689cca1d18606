"""Bulk imports into the mirror tables: DynamoDB export files and a parallel Scan.

Both transform every item as the stream path does and apply with the same keep-latest
rule, each item ordered as of the import's start (``snapshot_ms``), so an import and a
running stream reader can overlap and re-running an import changes nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson

from leadtrail.errors import BadRequest, ConfigError
from leadtrail.storage import Database
from leadtrail.sync.aws import Clients
from leadtrail.sync.changes import Change, Failure, change_from_item, latest
from leadtrail.sync.config import TableSpec
from leadtrail.sync.dlq import import_record
from leadtrail.sync.mirror import Q
from leadtrail.sync.service import BatchResult, apply_in, writer_claims
from leadtrail.sync.transform import TransformError, unmarshal

Progress = Callable[[int], None]


@dataclass
class ImportResult:
    items: int = 0
    rows: int = 0
    failed: int = 0
    keys: list[tuple[str, ...]] = field(default_factory=list)


def export_files(directory: Path) -> list[Path]:
    """Data files of a DynamoDB export (``data/*.json.gz``), anywhere below ``directory``."""
    if not directory.is_dir():
        raise BadRequest(f"{directory} is not a directory")
    files = sorted(p for p in directory.rglob("*") if p.name.endswith((".json.gz", ".json")))
    files = [p for p in files if not p.name.startswith("manifest")]
    if not files:
        raise BadRequest(f"{directory} holds no export data files (*.json.gz)")
    return files


def export_table(directory: Path) -> str | None:
    """The source table named by the export's ``manifest-summary.json``, if exactly one
    table is named below ``directory``."""
    names: set[str] = set()
    for manifest in directory.rglob("manifest-summary.json"):
        try:
            arn = orjson.loads(manifest.read_bytes()).get("tableArn", "")
        except (orjson.JSONDecodeError, OSError, AttributeError):
            continue
        if isinstance(arn, str) and ":table/" in arn:
            names.add(arn.split(":table/", 1)[1].split("/", 1)[0])
    if len(names) > 1:
        raise BadRequest(
            f"{directory} holds exports of {len(names)} tables: import one table's directory"
        )
    return names.pop() if names else None


def read_export(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, DynamoDB-JSON item) of one export file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError:
                    raise BadRequest(f"{path.name} line {number}: not JSON") from None
                item = doc.get("Item") if isinstance(doc, dict) else None
                if not isinstance(item, dict):
                    raise BadRequest(f'{path.name} line {number}: no "Item" object')
                yield number, item
    except (OSError, EOFError) as exc:
        raise BadRequest(f"{path.name}: {exc}") from None


def to_changes(
    spec: TableSpec, items: Iterable[dict[str, Any]], snapshot_ms: int
) -> tuple[list[Change], list[Failure]]:
    changes: list[Change] = []
    failures: list[Failure] = []
    for raw in items:
        try:
            changes.append(change_from_item(spec, unmarshal(raw), snapshot_ms))
        except TransformError as exc:
            failures.append(Failure(None, import_record(raw, snapshot_ms), str(exc)))
    return changes, failures


def file_changes(
    spec: TableSpec, path: Path, snapshot_ms: int
) -> tuple[int, list[Change], list[Failure]]:
    """(items, changes, failures) of one export file; runs in a worker process."""
    items = [item for _, item in read_export(path)]
    changes, failures = to_changes(spec, items, snapshot_ms)
    return len(items), latest(changes), failures


async def import_export(
    db: Database,
    site_id: UUID,
    spec: TableSpec,
    files: list[Path],
    progress: Progress | None = None,
    pool: Executor | None = None,
) -> ImportResult:
    """Every item of the export files, applied in one transaction per import. Files are
    parsed and transformed in ``pool`` (worker processes: the Python side is most of the
    work) or, without one, in a thread."""
    snapshot_ms = int(time.time() * 1000)
    loop = asyncio.get_running_loop()
    jobs = [loop.run_in_executor(pool, file_changes, spec, path, snapshot_ms) for path in files]
    changes: list[Change] = []
    failures: list[Failure] = []
    count = 0
    for job in asyncio.as_completed(jobs):
        items, more, failed = await job
        changes.extend(more)
        failures.extend(failed)
        count += items
        if progress is not None:
            progress(items)
    winners = latest(changes)
    async with db.transaction(writer_claims(site_id)) as conn:
        result = await apply_in(conn, site_id, spec, winners, failures)
    return ImportResult(count, result.applied.upserted, len(failures), [c.key for c in winners])


@dataclass(frozen=True)
class SegmentState:
    last_key: dict[str, Any] | None
    rows: int
    finished: bool


async def scan_progress(
    db: Database, site_id: UUID, source: str, segments: int, restart: bool
) -> tuple[int, dict[int, SegmentState]]:
    """(snapshot ms, state per segment) of a new or resumed Scan import."""
    async with db.transaction(writer_claims(site_id)) as conn:
        if restart:
            await conn.execute(Q.clear_import_progress, site_id, source)
        rows = await conn.fetch(Q.import_progress, site_id, source)
        if rows and all(r["finished"] for r in rows):
            await conn.execute(Q.clear_import_progress, site_id, source)
            rows = []
        if rows and rows[0]["total_segments"] != segments:
            raise ConfigError(
                f"an import of {source} with {rows[0]['total_segments']} segments is unfinished: "
                f"resume it with --segments {rows[0]['total_segments']} or start over with --restart"
            )
        if rows:
            started = int(rows[0]["started_ms"])
            return started, {
                r["segment"]: SegmentState(r["last_key"], r["rows_read"], r["finished"])
                for r in rows
            }
        started = int(time.time() * 1000)
        now = datetime.now(UTC)
        for segment in range(segments):
            await conn.execute(
                Q.save_import_progress,
                site_id,
                source,
                segment,
                segments,
                None,
                0,
                False,
                started,
                now,
            )
        return started, {s: SegmentState(None, 0, False) for s in range(segments)}


async def import_scan(
    db: Database,
    clients: Clients,
    site_id: UUID,
    spec: TableSpec,
    segments: int,
    *,
    restart: bool = False,
    page_size: int = 1000,
    progress: Progress | None = None,
    stop_after_pages: int | None = None,
) -> ImportResult:
    """A parallel Scan (``segments`` workers); each page and its segment's position commit
    together, so an interrupted import resumes where each segment stopped."""
    started, states = await scan_progress(db, site_id, spec.source, segments, restart)
    client = clients.dynamodb(spec.region)
    result = ImportResult()
    pages = 0

    async def segment(number: int, state: SegmentState) -> None:
        nonlocal pages
        last_key, rows = state.last_key, state.rows
        while True:
            kwargs: dict[str, Any] = {
                "TableName": spec.source,
                "Segment": number,
                "TotalSegments": segments,
                "Limit": page_size,
            }
            if last_key:
                kwargs["ExclusiveStartKey"] = last_key
            page = await asyncio.to_thread(client.scan, **kwargs)
            items: list[dict[str, Any]] = page.get("Items", [])
            last_key = page.get("LastEvaluatedKey")
            changes, failures = await asyncio.to_thread(to_changes, spec, items, started)
            rows += len(items)
            async with db.transaction(writer_claims(site_id)) as conn:
                out: BatchResult = await apply_in(conn, site_id, spec, changes, failures)
                await conn.execute(
                    Q.save_import_progress, site_id, spec.source, number, segments,
                    last_key, rows, last_key is None, started, datetime.now(UTC),
                )  # fmt: skip
            result.items += len(items)
            result.rows += out.applied.upserted
            result.failed += len(failures)
            if progress is not None:
                progress(len(items))
            pages += 1
            if last_key is None or (stop_after_pages is not None and pages >= stop_after_pages):
                return

    await asyncio.gather(*(segment(n, s) for n, s in sorted(states.items()) if not s.finished))
    return result


def table_item_count(clients: Clients, spec: TableSpec) -> int:
    """DynamoDB's own (approximate, refreshed about every six hours) item count."""
    desc = clients.dynamodb(spec.region).describe_table(TableName=spec.source)
    return int(desc["Table"].get("ItemCount") or 0)
