"""Export and erase a person everywhere, with the tables found from the catalog.

Which columns identify a person is a rule by column name (``IDENTIFYING``), not a list of
tables: a table added by a later migration that stores ``session_id`` or ``canonical_user_id``
is exported and erased without a change here. The realtime replay log keeps changes as binary
pgoutput records, so its batches that mention any identifier are dropped whole. Rollups hold
no identifiers: the hours the person's sessions touched are marked for re-aggregation in the
same transaction, so reports stay correct in aggregate.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from leadtrail.privacy.subjects import Identifiers
from leadtrail.storage import Connection, catalog
from leadtrail.storage.queries import load

Q = load("leadtrail.privacy")

#: column name -> the identifiers it may hold (an attribute of ``Identifiers``)
IDENTIFYING: dict[str, str] = {
    "canonical_user_id": "people",
    "survivor_id": "people",
    "merged_id": "people",
    "session_id": "sessions",
    "matched_session_id": "sessions",
    "fingerprint": "fingerprints",
    "matched_fingerprint": "fingerprints",
    "email": "emails",
    "phone": "phones",
    "phone_number": "phones",
    "caller_number": "phones",
}
#: columns that identify only in one table: its own id, the identity graph's values
OWN: dict[tuple[str, str, str], str] = {
    ("public", "canonical_users", "id"): "people",
    ("public", "sessions", "id"): "sessions",
    ("public", "identity_links", "value"): "texts",
}
#: binary change records: searched for identifiers as bytes, deleted whole, never exported
REPLAY_LOG = ("leadtrail", "realtime_log")


@dataclass(frozen=True)
class Column:
    schema: str
    table: str
    name: str
    type: str
    holds: str

    @property
    def qualified_table(self) -> str:
        return catalog.qualified((self.schema, self.table))


def _ident(name: str) -> str:
    # Names come from the catalog, never from a request; quoted all the same.
    return '"' + name.replace('"', '""') + '"'


async def identifying_columns(conn: Connection) -> dict[tuple[str, str], list[Column]]:
    """Tenant tables with at least one identifying column, and those columns."""
    names = sorted({*IDENTIFYING, *(c for _, _, c in OWN)})
    tables: dict[tuple[str, str], list[Column]] = defaultdict(list)
    for row in await conn.fetch(Q.identifying_columns, names):
        key = (row["schema"], row["table_name"], row["column_name"])
        holds = OWN.get(key) or (
            IDENTIFYING.get(row["column_name"]) if key[2] in IDENTIFYING else None
        )
        if holds is None:
            continue
        tables[(row["schema"], row["table_name"])].append(
            Column(row["schema"], row["table_name"], row["column_name"], row["column_type"], holds)
        )
    return dict(tables)


def _values(ids: Identifiers, holds: str) -> list[str]:
    found = ids.texts() if holds == "texts" else getattr(ids, holds)
    return sorted(map(str, found))


def _where(columns: list[Column], ids: Identifiers) -> tuple[str, list[Any]]:
    """``site_id = $1 AND (col = ANY($2) OR …)`` and its arguments (after the site id)."""
    terms: list[str] = []
    args: list[Any] = []
    for col in columns:
        values = _values(ids, col.holds)
        if col.type == "uuid":
            values = [v for v in values if _is_uuid(v)]
        if not values:
            continue
        args.append(values)
        cast = "uuid[]" if col.type == "uuid" else "text[]"
        column = _ident(col.name) if col.type in ("uuid", "text") else f"{_ident(col.name)}::text"
        terms.append(f"{column} = ANY(${len(args) + 1}::{cast})")
    return ("site_id = $1 AND (" + " OR ".join(terms) + ")" if terms else ""), args


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


async def export(conn: Connection, site_id: UUID, ids: Identifiers) -> dict[str, Any]:
    """Every stored row that identifies the person, by table, as JSON-ready values."""
    out: dict[str, Any] = {}
    for (schema, table), columns in sorted((await identifying_columns(conn)).items()):
        if (schema, table) == REPLAY_LOG:
            continue
        where, args = _where(columns, ids)
        if not where:
            continue
        rows = await conn.fetch(
            f"SELECT to_jsonb(t) AS row FROM {columns[0].qualified_table} t WHERE {where}",
            site_id,
            *args,
        )
        if rows:
            name = table if schema == "public" else f"{schema}.{table}"
            out[name] = [
                orjson.loads(r["row"]) if isinstance(r["row"], str) else r["row"] for r in rows
            ]
    return out


async def erase(
    conn: Connection, site_id: UUID, ids: Identifiers
) -> tuple[dict[str, int], list[datetime]]:
    """Delete every row that identifies the person; returns rows removed per table and the
    hours whose rollups must be re-aggregated (already marked in this transaction)."""
    hours = [r["hour"] for r in await conn.fetch(Q.touched_hours, site_id, list(ids.sessions))]
    removed: dict[str, int] = {}
    tables = await identifying_columns(conn)
    for key in await catalog.children_first(conn, list(tables)):
        columns = tables[key]
        where, args = _where(columns, ids)
        if not where:
            continue
        status = await conn.execute(
            f"DELETE FROM {columns[0].qualified_table} WHERE {where}", site_id, *args
        )
        count = int(status.split()[-1])
        if count:
            removed[key[1] if key[0] == "public" else f"{key[0]}.{key[1]}"] = count
    log = await conn.execute(
        Q.erase_replay_log,
        site_id,
        [text.encode() for text in sorted(ids.texts())],
    )
    if count := int(log.split()[-1]):
        removed["leadtrail.realtime_log"] = count
    await conn.execute(Q.mark_hours, site_id, hours)
    return removed, hours


def audit_counts(removed: dict[str, int]) -> str:
    """What the audit record keeps: counts per table, no identifier."""
    return orjson.dumps(removed).decode()
