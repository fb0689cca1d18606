"""Parquet archives of expired months: one file per site, table and month, readable with
pyarrow, pandas or DuckDB (``SELECT * FROM 'archive/*/events/*.parquet'``).

pyarrow is an optional dependency (``pip install 'leadtrail[archive]'``): only sites that turn
archiving on need it.
"""

from __future__ import annotations

import ipaddress
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from leadtrail.errors import ConfigError
from leadtrail.storage import Connection

BATCH_ROWS = 10_000


def archive_path(root: Path, public_id: str, table: str, month: date) -> Path:
    return root / public_id / table / f"{month:%Y-%m}.parquet"


def _plain(value: Any) -> Any:
    """A value pyarrow takes: uuids, addresses and JSON as text, numbers as they are."""
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    if isinstance(value, Decimal):
        return float(value)
    return value


async def write_month(
    conn: Connection,
    root: Path,
    public_id: str,
    site_id: uuid.UUID,
    partition: str,
    table: str,
    month: date,
) -> tuple[Path, int]:
    """Copy one site's rows of one partition to a Parquet file; returns it and the row count.

    Written to a temporary name and renamed, so a file under the final name is complete.
    ``partition`` comes from the catalog (``monthly_partitions``), never from a request.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - depends on the installation
        raise ConfigError(
            "archiving expired months needs pyarrow: pip install 'leadtrail[archive]'"
        ) from None
    target = archive_path(root, public_id, table, month)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".parquet.partial")
    writer = None
    count = 0
    try:
        async with conn.transaction():
            cursor = await conn.cursor(
                f'SELECT * FROM public."{partition}" WHERE site_id = $1',
                site_id,
            )
            while rows := await cursor.fetch(BATCH_ROWS):
                columns = list(rows[0].keys())
                batch = pa.table({c: [_plain(r[c]) for r in rows] for c in columns})
                if writer is None:
                    writer = pq.ParquetWriter(partial, batch.schema)
                writer.write_table(batch.cast(writer.schema))
                count += len(rows)
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        partial.replace(target)
    return target, count
