"""The retention job on real partitions: expired months dropped whole when every site is
done with them, one site's rows deleted when another still keeps the month, Parquet archives
readable back with pyarrow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pyarrow.parquet as pq

from leadtrail.lifecycle import retention
from leadtrail.lifecycle.rules import first_kept_month
from leadtrail.storage import Database
from tests.conftest import ModuleDatabase, leadtrail_cli
from tests.integration.people_support import add_session, make_tenant


def months_ago(n: int) -> datetime:
    start = first_kept_month(datetime.now(UTC).date(), n)
    return datetime(start.year, start.month, 10, 12, tzinfo=UTC)


async def partitions(owner: asyncpg.Connection) -> set[str]:
    rows = await owner.fetch(
        "SELECT relname FROM pg_class WHERE relname ~ '^(sessions|events)_\\d{4}_\\d{2}$'"
    )
    return {r["relname"] for r in rows}


async def test_expired_months_go_whole_or_per_site_with_archives(
    db: Database,
    owner: asyncpg.Connection,
    tmp_path: Path,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
) -> None:
    await owner.execute("SELECT leadtrail.ensure_partitions(0, 8)")
    short = await make_tenant(db, "short", {"retention_months": 2, "retention_archive": True})
    long = await make_tenant(db, "long", {"retention_months": 4})
    for tenant in (short, long):
        for n in (6, 3, 1):
            await add_session(
                db,
                tenant.site_id,
                start=months_ago(n),
                events=2,
                fingerprint=f"{tenant.public_id}-{n}",
            )
    old, middle = months_ago(6).date().replace(day=1), months_ago(3).date().replace(day=1)
    before = await partitions(owner)
    assert {f"sessions_{old:%Y_%m}", f"events_{old:%Y_%m}"} <= before
    # every month before the longer retention goes, empty ones included
    long_kept_from = first_kept_month(datetime.now(UTC).date(), 4)
    expired = {p for p in before if datetime.strptime(p[-7:], "%Y_%m").date() < long_kept_from}

    code, out, err = await leadtrail_cli(test_database, cli_env, "retention", "run", "--dry-run")
    assert code == 0, err
    assert f"would drop partition events_{old:%Y_%m}" in out
    assert f"would delete sessions_{middle:%Y_%m} ({short.public_id})" in out

    result = await retention.run(db, tmp_path)
    assert set(result.dropped) == expired and f"events_{old:%Y_%m}" in expired
    assert await partitions(owner) == before - expired
    assert result.deleted == {
        f"events_{middle:%Y_%m} ({short.public_id})": 2,
        f"sessions_{middle:%Y_%m} ({short.public_id})": 1,
    }
    left = await owner.fetch("SELECT site_id, created_month FROM sessions")
    recent = months_ago(1).date().replace(day=1)
    assert sorted((r["site_id"] == short.site_id, r["created_month"]) for r in left) == [
        (False, middle),
        (False, recent),
        (True, recent),
    ]

    # the short site's archives hold exactly its rows of each expired month
    sessions_old = pq.read_table(tmp_path / short.public_id / "sessions" / f"{old:%Y-%m}.parquet")
    events_middle = pq.read_table(tmp_path / short.public_id / "events" / f"{middle:%Y-%m}.parquet")
    assert sessions_old.num_rows == 1 and events_middle.num_rows == 2
    assert set(sessions_old.column("site_id").to_pylist()) == {str(short.site_id)}
    assert not (tmp_path / long.public_id).exists()  # it did not ask for archives

    again = await retention.run(db, tmp_path)
    assert again.dropped == [] and again.deleted == {}
