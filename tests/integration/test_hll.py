"""The SQL HyperLogLog behind visitor counts: accurate, and bit_or is a true union."""

from __future__ import annotations

import pytest

from leadtrail.storage import Database


@pytest.mark.parametrize("n", [0, 1, 7, 150, 3000, 200_000])
async def test_estimates_are_close(db: Database, n: int) -> None:
    async with db.system() as conn:
        estimate = await conn.fetchval(
            "SELECT leadtrail.hll_count(leadtrail.hll_sketch(array_agg(hashtextextended('v' || i, 0)))) "
            "FROM generate_series(1, $1) AS i",
            n,
        )
    # exact for tiny sets, within 3 standard errors (3 x 1.6 %) beyond
    assert abs(estimate - n) <= max(1, 0.05 * n), (n, estimate)


async def test_union_of_sketches_is_the_sketch_of_the_union(db: Database) -> None:
    async with db.system() as conn:
        parts, whole = await conn.fetchrow(
            """
            WITH s AS (
                SELECT g, leadtrail.hll_sketch(array_agg(hashtextextended('u' || (i % 5000), 0))) AS sk
                FROM generate_series(1, 20000) AS i, LATERAL (SELECT i % 24 AS g) AS x
                GROUP BY g
            )
            SELECT (SELECT bit_or(sk) FROM s),
                   (SELECT leadtrail.hll_sketch(array_agg(hashtextextended('u' || (i % 5000), 0)))
                    FROM generate_series(1, 20000) AS i)
            """
        )
        assert parts == whole
        assert await conn.fetchval("SELECT leadtrail.hll_count(NULL)") == 0
