"""Writing changes into a mirror table with keep-latest semantics.

The mirror tables' columns come from the configuration, so the statements are built here
from identifiers that ``check_tables`` has validated against the catalog (never from a
request); everything else is a bound parameter. One transaction per batch: take the
table's lock for the site, drop changes older than a tombstone, COPY the winning upserts
to a staging table and upsert them where their order is greater than the stored one,
then delete (or mark deleted) the removed keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from leadtrail.errors import ConfigError
from leadtrail.storage import Connection
from leadtrail.storage.queries import load
from leadtrail.sync.changes import Change, latest
from leadtrail.sync.config import SyncConfig, TableSpec

Q = load("leadtrail.sync")
BOOKKEEPING = ("item", "src_version", "src_time", "src_seq", "deleted_at")


def _q(name: str) -> str:
    return '"' + name + '"'  # names are validated identifiers ([a-z_][a-z0-9_]*)


def key_text(key: tuple[str, ...]) -> str:
    """One string per key (tombstones, checksums): a JSON array of the key's parts."""
    return orjson.dumps(list(key)).decode()


@dataclass
class Applied:
    upserted: int = 0
    removed: int = 0
    #: older than what is stored (duplicates, redeliveries, late records)
    stale: int = 0


async def check_tables(conn: Connection, config: SyncConfig) -> None:
    """Every target exists with site_id, the configured columns and the bookkeeping ones."""
    for spec in config.tables.values():
        rows = await conn.fetch(Q.table_columns, spec.target)
        if not rows:
            raise ConfigError(
                f"{config.source}: tables.{spec.source}.target: no table {spec.target!r} in the database"
            )
        columns = {r["column_name"] for r in rows}
        needed = ("site_id", *spec.key_columns, *spec.value_columns, *BOOKKEEPING)
        missing = [c for c in needed if c not in columns]
        if missing:
            raise ConfigError(
                f"{config.source}: tables.{spec.source}: {spec.target} has no column {missing[0]!r}"
            )


def _columns(spec: TableSpec) -> tuple[str, ...]:
    return ("site_id", *spec.key_columns, *spec.value_columns, *BOOKKEEPING)


def _upsert_sql(spec: TableSpec, stage: str) -> str:
    cols = _columns(spec)
    names = ", ".join(_q(c) for c in cols)
    keys = ", ".join(_q(c) for c in ("site_id", *spec.key_columns))
    sets = ", ".join(f"{_q(c)} = EXCLUDED.{_q(c)}" for c in cols[1 + len(spec.key) :])
    return (
        f"INSERT INTO {_q(spec.target)} AS t ({names}) SELECT {names} FROM {stage} "
        f"ON CONFLICT ({keys}) DO UPDATE SET {sets}, synced_at = EXCLUDED.synced_at "
        "WHERE (t.src_version, t.src_time, t.src_seq) "
        "< (EXCLUDED.src_version, EXCLUDED.src_time, EXCLUDED.src_seq)"
    )


def _delete_sql(spec: TableSpec) -> str:
    # keys arrive as one text[] per key column, zipped by unnest
    n = len(spec.key)
    arrays = ", ".join(f"${i + 2}::text[]" for i in range(n))
    cols = ", ".join(f"k{i}" for i in range(n))
    match = " AND ".join(f"t.{_q(c)} = d.k{i}" for i, c in enumerate(spec.key_columns))
    return (
        f"DELETE FROM {_q(spec.target)} AS t USING unnest({arrays}, ${n + 2}::bigint[], "
        f"${n + 3}::bigint[], ${n + 4}::numeric[]) AS d({cols}, v, tm, sq) "
        f"WHERE t.site_id = $1 AND {match} AND (t.src_version, t.src_time, t.src_seq) < (d.v, d.tm, d.sq)"
    )


def _record(site_id: UUID, spec: TableSpec, change: Change, now: datetime) -> tuple[Any, ...]:
    version, time_ms, seq = change.order
    if change.row is not None:
        return (
            site_id,
            *change.key,
            *change.row.values,
            change.row.item,
            version,
            time_ms,
            seq,
            None,
        )
    # a soft delete keeps the last known values, marked deleted at the record's time
    empty = (None,) * len(spec.value_columns)
    deleted = datetime.fromtimestamp(time_ms / 1000, UTC) if time_ms else now
    return (site_id, *change.key, *empty, change.removed or {}, version, time_ms, seq, deleted)


async def apply(conn: Connection, site_id: UUID, spec: TableSpec, changes: list[Change]) -> Applied:
    """Apply ``changes`` (any order, duplicates allowed) inside the caller's transaction."""
    out = Applied()
    if not changes:
        return out
    await conn.execute(Q.lock_target, site_id, spec.target)
    winners = latest(changes)
    tombs = {
        r["key"]: (r["src_version"], r["src_time"], int(r["src_seq"]))
        for r in await conn.fetch(
            Q.tombstones, site_id, spec.target, [key_text(c.key) for c in winners]
        )
    }
    live: list[Change] = []
    for change in winners:
        tomb = tombs.get(key_text(change.key))
        if tomb is None or change.order > tomb:
            live.append(change)
    upserts = [c for c in live if c.row is not None or spec.delete == "soft"]
    removes = [c for c in live if c.row is None and spec.delete == "hard"]
    if upserts:
        out.upserted = await _upsert(conn, site_id, spec, upserts)
    if removes:
        out.removed = await _remove(conn, site_id, spec, removes)
    out.stale = len(changes) - out.upserted - out.removed
    return out


async def _upsert(conn: Connection, site_id: UUID, spec: TableSpec, changes: list[Change]) -> int:
    stage = "sync_stage_" + spec.target
    await conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {_q(spec.target)} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    now = datetime.now(UTC)
    cols = _columns(spec)
    await conn.copy_records_to_table(
        stage, records=[_record(site_id, spec, c, now) for c in changes], columns=list(cols)
    )
    status = await conn.execute(_upsert_sql(spec, stage))
    await conn.execute(f"TRUNCATE {stage}")
    return int(status.rsplit(" ", 1)[-1])


async def _remove(conn: Connection, site_id: UUID, spec: TableSpec, changes: list[Change]) -> int:
    keys = [[c.key[i] for c in changes] for i in range(len(spec.key))]
    versions = [c.order[0] for c in changes]
    times = [c.order[1] for c in changes]
    seqs = [c.order[2] for c in changes]
    status = await conn.execute(_delete_sql(spec), site_id, *keys, versions, times, seqs)
    await conn.execute(
        Q.put_tombstones,
        site_id,
        spec.target,
        [key_text(c.key) for c in changes],
        versions,
        times,
        seqs,
    )
    return int(status.rsplit(" ", 1)[-1])
