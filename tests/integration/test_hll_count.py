"""The reports count HyperLogLog sketches in Python (leadtrail/analytics/hll.py); the SQL
estimator ``leadtrail.hll_count`` stays for ad-hoc queries. Both must give the same number
for the same sketch, from the empty one through linear counting to the harmonic mean, and
for merged sketches as the reports merge them."""

from __future__ import annotations

import asyncpg
import pytest

from leadtrail.analytics import hll

SKETCH = """
SELECT leadtrail.hll_sketch(array_agg(hashtextextended($2 || i::text, 0))) AS sketch
FROM generate_series(1, $1) AS i
"""


@pytest.mark.parametrize("size", [0, 1, 7, 100, 2_000, 9_000, 12_000, 60_000, 250_000])
async def test_python_count_equals_sql_count(owner: asyncpg.Connection, size: int) -> None:
    sketch = await owner.fetchval(SKETCH, size, f"n{size}:")
    in_sql = await owner.fetchval("SELECT leadtrail.hll_count($1::varbit)", sketch)
    assert hll.count(sketch.bytes) == in_sql
    # and it estimates: within 5 % (the sketch's standard error is 1.6 %)
    assert abs(in_sql - size) <= max(2, size * 0.05)


async def test_merged_sketches_count_alike(owner: asyncpg.Connection) -> None:
    merged = await owner.fetchval(
        f"SELECT bit_or(sketch) FROM ({SKETCH} UNION ALL {SKETCH.replace('$1', '$3')}) AS s",
        3_000,
        "m:",
        8_000,
    )
    # (the two sets overlap: items 1..3000 are in both)
    assert hll.count(merged.bytes) == await owner.fetchval(
        "SELECT leadtrail.hll_count($1::varbit)", merged
    )
    assert abs(hll.count(merged.bytes) - 8_000) <= 400


def test_no_sketch_counts_zero() -> None:
    assert hll.count(None) == 0
