"""The retention job: archive what sites ask to keep, then drop expired monthly partitions
whole (or delete one site's rows of a month other sites still keep). Runs as the owner, from
the periodic job and from ``leadtrail retention run``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from leadtrail.lifecycle import archive
from leadtrail.lifecycle.rules import Partition, Plan, SiteRetention, plan
from leadtrail.storage import Connection, Database
from leadtrail.storage.queries import load

Q = load("leadtrail.lifecycle")
logger = logging.getLogger(__name__)


@dataclass
class RetentionResult:
    dropped: list[str] = field(default_factory=list)
    #: partition -> rows deleted, for sites expiring before the others
    deleted: dict[str, int] = field(default_factory=dict)
    archived: list[Path] = field(default_factory=list)


async def current_plan(conn: Connection, today: date) -> tuple[Plan, list[SiteRetention]]:
    sites = [
        SiteRetention.from_settings(r["id"], r["public_id"], r["settings"] or {})
        for r in await conn.fetch(Q.site_retention)
    ]
    partitions = [
        Partition(r["parent"], r["partition"], r["month"])
        for r in await conn.fetch(Q.monthly_partitions)
    ]
    return plan(sites, partitions, today), sites


async def run(
    db: Database, archive_root: Path, today: date | None = None, *, dry_run: bool = False
) -> RetentionResult:
    today = today or datetime.now(UTC).date()
    result = RetentionResult()
    async with db.system() as conn:
        todo, sites = await current_plan(conn, today)
        if dry_run:
            result.dropped = [p.name for p in todo.drop]
            result.deleted = {f"{p.name} ({s.public_id})": 0 for p, s in todo.delete}
            return result
        for part in todo.drop:
            for site in sites:
                if site.archive:
                    await _archive(conn, archive_root, site, part, result)
            async with conn.transaction():
                await conn.execute(
                    f'ALTER TABLE public."{part.parent}" DETACH PARTITION public."{part.name}"'
                )
                await conn.execute(f'DROP TABLE public."{part.name}"')
            result.dropped.append(part.name)
            logger.info("retention: dropped partition %s", part.name)
        for part, site in todo.delete:
            if site.archive:
                await _archive(conn, archive_root, site, part, result)
            status = await conn.execute(
                f'DELETE FROM public."{part.name}" WHERE site_id = $1', site.site_id
            )
            count = int(status.split()[-1])
            if count:
                result.deleted[f"{part.name} ({site.public_id})"] = count
    return result


async def _archive(
    conn: Connection, root: Path, site: SiteRetention, part: Partition, result: RetentionResult
) -> None:
    path, count = await archive.write_month(
        conn, root, site.public_id, site.site_id, part.name, part.parent, part.month
    )
    if count:
        result.archived.append(path)
