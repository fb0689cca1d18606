"""Monthly partitions: created ahead, idempotent, DEFAULT catches the rest."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg
import pytest

FAR_MONTH = date(2031, 7, 1)


async def partition_of(conn: asyncpg.Connection, table: str, row_id: uuid.UUID) -> str:
    return str(
        await conn.fetchval(f"SELECT tableoid::regclass::text FROM {table} WHERE id = $1", row_id)
    )


async def test_event_for_a_month_without_partition_lands_in_default_then_moves(
    owner: asyncpg.Connection,
) -> None:
    site = await owner.fetchval(
        "INSERT INTO sites (public_id, name, domain) VALUES ('far_site', 'far', 'far.example') RETURNING id"
    )
    session, event = uuid.uuid4(), uuid.uuid4()
    await owner.execute(
        "INSERT INTO sessions (site_id, id, created_month) VALUES ($1, $2, $3)",
        site,
        session,
        FAR_MONTH,
    )
    await owner.execute(
        """INSERT INTO events (site_id, id, session_id, session_month, url, event_category, event_action)
           VALUES ($1, $2, $3, $4, 'https://far.example/', 'acquisition', 'view')""",
        site,
        event,
        session,
        FAR_MONTH,
    )
    assert await partition_of(owner, "events", event) == "events_default"
    assert await partition_of(owner, "sessions", session) == "sessions_default"

    assert (
        await owner.fetchval("SELECT leadtrail.ensure_month_partition('events', $1)", FAR_MONTH)
        is True
    )
    assert (
        await owner.fetchval("SELECT leadtrail.ensure_month_partition('sessions', $1)", FAR_MONTH)
        is True
    )
    assert await partition_of(owner, "events", event) == "events_2031_07"
    assert await partition_of(owner, "sessions", session) == "sessions_2031_07"
    # Nothing lost, nothing duplicated, RLS forced on the new partition.
    assert await owner.fetchval("SELECT count(*) FROM events WHERE id = $1", event) == 1
    forced = await owner.fetchval(
        "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = 'events_2031_07'"
    )
    assert forced is True

    # A second call is a no-op.
    assert (
        await owner.fetchval("SELECT leadtrail.ensure_month_partition('events', $1)", FAR_MONTH)
        is False
    )


async def test_ensure_partitions_creates_named_months_idempotently(
    owner: asyncpg.Connection,
) -> None:
    months = await owner.fetch(
        "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => i), 'YYYY_MM') AS m "
        "FROM generate_series(0, 5) i"
    )
    first = await owner.fetchval("SELECT leadtrail.ensure_partitions(5)")
    second = await owner.fetchval("SELECT leadtrail.ensure_partitions(5)")
    assert second == 0
    # The template already had 0..3 months; asking for 5 ahead adds exactly months 4 and 5.
    assert first == 4
    names = {
        r["relname"] for r in await owner.fetch("SELECT relname FROM pg_class WHERE relkind = 'r'")
    }
    for row in months:
        assert f"sessions_{row['m']}" in names
        assert f"events_{row['m']}" in names


async def test_unknown_parent_is_refused(owner: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.RaiseError, match="no monthly partitioning"):
        await owner.execute(
            "SELECT leadtrail.ensure_month_partition('sites; drop table x', now()::date)"
        )
