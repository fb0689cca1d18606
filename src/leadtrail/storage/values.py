"""Multi-row ``INSERT ... VALUES`` statements, for writers that cannot stage rows on Citus.

On plain PostgreSQL the writers COPY rows into a temporary table and move them with one
``INSERT ... SELECT`` (COPY is refused on tables with row-level security). On Citus neither
works: a temporary table cannot take part in a two-phase commit, and an ``INSERT ... SELECT``
into a distributed table with RLS is refused. A multi-row ``VALUES`` is split by shard and
sent to the workers as it is.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from leadtrail.storage import Connection

#: rows per statement (a statement takes at most 65,535 parameters)
VALUES_ROWS = 500


@functools.lru_cache(maxsize=128)
def values_statement(head: str, columns: tuple[str, ...], rows: int, tail: str) -> str:
    """``{head} (columns) VALUES ($1, …), … {tail}`` for ``rows`` rows."""
    width = len(columns)
    groups = ", ".join(
        "(" + ", ".join(f"${row * width + col + 1}" for col in range(width)) + ")"
        for row in range(rows)
    )
    return f"{head} ({', '.join(columns)}) VALUES {groups}\n{tail}"


async def insert_values(
    conn: Connection,
    head: str,
    columns: tuple[str, ...],
    records: Sequence[tuple[Any, ...]],
    tail: str = "",
) -> list[Any]:
    """Insert ``records`` VALUES_ROWS at a time; the rows the statements returned."""
    out: list[Any] = []
    for start in range(0, len(records), VALUES_ROWS):
        chunk = records[start : start + VALUES_ROWS]
        args = [value for record in chunk for value in record]
        out += await conn.fetch(values_statement(head, columns, len(chunk), tail), *args)
    return out
