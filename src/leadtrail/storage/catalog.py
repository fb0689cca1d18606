"""What the PostgreSQL catalog says about leadtrail's own tables, for jobs that must cover
every tenant table, including those later migrations add (erasure, site deletion)."""

from __future__ import annotations

from collections import defaultdict

from leadtrail.storage.database import Connection
from leadtrail.storage.queries import load

Q = load("leadtrail.storage")
Table = tuple[str, str]  # (schema, name)


async def tenant_tables(conn: Connection) -> list[Table]:
    """Every table (partitioned parents, not their partitions) that has a ``site_id``."""
    return [(r["schema"], r["name"]) for r in await conn.fetch(Q.tenant_tables)]


async def children_first(conn: Connection, tables: list[Table]) -> list[Table]:
    """``tables`` ordered so that one referencing another by foreign key comes first (rows
    are deleted from it before the rows it points at)."""
    parents: dict[Table, set[Table]] = defaultdict(set)
    for r in await conn.fetch(Q.foreign_keys):
        parents[(r["child_schema"], r["child"])].add((r["parent_schema"], r["parent"]))
    ordered: list[Table] = []
    pending = set(tables)
    while pending:
        ready = sorted(t for t in pending if not any(t in parents[o] for o in pending if o != t))
        ordered.extend(ready or sorted(pending))  # a cycle: any order then
        pending -= set(ready or pending)
    return ordered


def qualified(table: Table) -> str:
    """``"schema"."name"`` (names come from the catalog; quoted all the same)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in table)
