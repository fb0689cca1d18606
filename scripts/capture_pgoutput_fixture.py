"""Capture real pgoutput messages (tests/unit/data/pgoutput_v1.json) for the decoder tests.

Run from the repository root: .venv/bin/python scripts/capture_pgoutput_fixture.py
"""

import asyncio
import json
import tempfile
from pathlib import Path

import asyncpg

from leadtrail.storage.embedded import EmbeddedPostgres


async def main() -> None:
    d = Path(tempfile.mkdtemp())
    pg = EmbeddedPostgres(d, shared_buffers="128MB")
    dsn = pg.start()
    try:
        c = await asyncpg.connect(dsn)
        await c.execute("""
          CREATE TABLE t (site_id uuid, id int PRIMARY KEY, name text, score numeric, tags text[],
                          meta jsonb, at timestamptz, big text, ok boolean);
          CREATE TABLE f (site_id uuid, id int PRIMARY KEY, status text);
          ALTER TABLE f REPLICA IDENTITY FULL;
          CREATE PUBLICATION p FOR TABLE t, f;
        """)
        await c.execute("SELECT pg_create_logical_replication_slot('s', 'pgoutput')")
        await c.execute("""INSERT INTO t VALUES ('11111111-1111-1111-1111-111111111111', 1, 'it''s', 12.50,
                          '{a,"b c",NULL}', '{"k": [1, 2]}', '2026-11-03 10:00:00.5+00', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 80) i), true)""")
        await c.execute("UPDATE t SET name = 'new' WHERE id = 1")  # big TOASTed, unchanged
        await c.execute("UPDATE t SET id = 2 WHERE id = 1")  # key change: old key sent
        await c.execute("DELETE FROM t WHERE id = 2")
        await c.execute("INSERT INTO f VALUES ('11111111-1111-1111-1111-111111111111', 7, NULL)")
        await c.execute("UPDATE f SET status = 'qualified'")
        await c.execute("TRUNCATE f")
        rows = await c.fetch(
            "SELECT lsn::text, xid::text, data FROM pg_logical_slot_get_binary_changes('s', NULL, NULL, 'proto_version', '1', 'publication_names', 'p')"
        )
        out = [{"lsn": r["lsn"], "data": bytes(r["data"]).hex()} for r in rows]
        Path("tests/unit/data/pgoutput_v1.json").write_text(json.dumps(out, indent=1) + "\n")
        print(len(out), "messages", [bytes.fromhex(o["data"])[:1] for o in out])
        await c.execute("SELECT pg_drop_replication_slot('s')")
        await c.close()
    finally:
        pg.stop(force=True)


asyncio.run(main())
