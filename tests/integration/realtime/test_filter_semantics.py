"""The LIKE/ILIKE case table the in-process matcher is tested with is PostgreSQL's own
answer: each case is asked of PostgreSQL too."""

from __future__ import annotations

import asyncpg
import pytest

from leadtrail.storage import Database
from tests.unit.realtime.like_cases import CASES, INVALID


async def test_the_like_table_is_what_postgresql_answers(db: Database) -> None:
    async with db.system() as conn:
        for value, pattern, like, ilike in CASES:
            row = await conn.fetchrow(
                "SELECT $1::text LIKE $2::text AS like, $1::text ILIKE $2::text AS ilike",
                value,
                pattern,
            )
            assert (row["like"], row["ilike"]) == (like, ilike), (value, pattern)


@pytest.mark.parametrize(("value", "pattern"), INVALID)
async def test_postgresql_refuses_a_trailing_escape_too(
    db: Database, value: str, pattern: str
) -> None:
    async with db.system() as conn:
        with pytest.raises(asyncpg.PostgresError, match="escape character"):
            await conn.fetchval("SELECT $1::text LIKE $2::text", value, pattern)
