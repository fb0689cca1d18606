"""DynamoDB sync: seed 002's volume imported from export files, and live-stream lag.

    python bench/import.py                 # 48,124 items over 9 tables + 300 live writes
    python bench/import.py --lag-writes 100
    python bench/import.py --check         # ~1,200 items + 5 live writes: a few seconds

After the import, every table's mirror is compared with its export the way ``leadtrail sync
checksum`` compares it with DynamoDB (per-key BLAKE2b digests of the item the mirror should
hold, summed): the script exits 1 on any key lost, stored twice, extra or different, or a
digest mismatch. ``--fault drop_one|alter_one`` (a test hook) removes or edits one mirror row
before the comparison, to show that it does.

Import: the nine tables of seed 002 with its counts and duplicate ratios (13,804 visitor
items over 2,247 sessions, 1,915 job states over 1,165 jobs, ...; 48,124 items, 35,817
mirror rows) written as DynamoDB export files (gzip JSON lines), then imported with the
same code as ``leadtrail import dynamodb-export`` (read, unmarshal with TypeDeserializer,
transform, keep the latest per key, COPY + upsert with RLS). Baseline in the same run:
read the same files and COPY every item raw (key + jsonb) into a plain table. Target < 2 s
(the seed took 19.4 minutes).

Lag: moto's DynamoDB server on loopback with a NEW_AND_OLD_IMAGES stream and the stream
reader running as a component (poll interval 50 ms); each put_item is timed until its row
is visible in PostgreSQL. Baseline: the same writes timed until the record is visible in
the stream itself (a raw GetRecords loop at the same interval). Target p99 < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import logging
import os
import socket
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import orjson
from moto.server import ThreadedMotoServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/

from bench.import_data import KEYS, SEED_COUNTS, dynamo_json, tables, write_export
from bench.machine import print_machine_line
from bench.scratch import scratch_dir
from leadtrail.config import Settings
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from leadtrail.sync import config as sync_config
from leadtrail.sync.aws import Clients
from leadtrail.sync.checksum import compare, digests_of_items, mirror_digests
from leadtrail.sync.imports import export_files, import_export
from leadtrail.sync.mirror import _q
from leadtrail.sync.service import writer_claims
from leadtrail.sync.streams import StreamReader

LIVE_TABLE = "firespring-backdoor-segments-dev"


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def bench_import(db: Database, site_id: Any, root: Path) -> tuple[float, float, int]:
    config = sync_config.load()
    started = time.perf_counter()  # worker processes' start-up is part of the import
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        outs = await asyncio.gather(
            *(
                import_export(db, site_id, config.table(t), export_files(root / t), pool=pool)
                for t in SEED_COUNTS
            )
        )
        took = time.perf_counter() - started
    rows = sum(o.rows for o in outs)

    # baseline: the same files, parsed and COPYed raw
    started = time.perf_counter()
    async with db.system() as conn:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_raw (source text, key text, item jsonb)"
        )
        for table in SEED_COUNTS:
            key = KEYS[table][0]
            records = []
            for path in export_files(root / table):
                with gzip.open(path, "rb") as handle:
                    for line in handle:
                        item = orjson.loads(line)["Item"]
                        records.append((table, next(iter(item[key].values())), item))
            await conn.copy_records_to_table("bench_raw", records=records)
    raw = time.perf_counter() - started
    return took, raw, rows


async def verify(
    db: Database, site_id: Any, data: dict[str, list[dict[str, Any]]], fault: str | None
) -> list[str]:
    """Compare each table's mirror with its export items; returns the problems found."""
    config = sync_config.load()
    problems: list[str] = []
    for table, items in data.items():
        if not items:
            continue
        spec = config.table(table)
        keys = ", ".join(_q(c) for c in spec.key_columns)
        if fault is not None:
            async with db.system() as conn:
                victim = f"ctid = (SELECT ctid FROM {_q(spec.target)} WHERE site_id = $1 LIMIT 1)"
                if fault == "drop_one":
                    await conn.execute(f"DELETE FROM {_q(spec.target)} WHERE {victim}", site_id)
                else:
                    await conn.execute(
                        f"UPDATE {_q(spec.target)} SET item = item || '{{\"bench\": 1}}'"
                        f" WHERE {victim}",
                        site_id,
                    )
            fault = None  # one row of one table
        async with db.transaction(writer_claims(site_id)) as conn:
            twice = await conn.fetchval(
                f"SELECT count(*) - count(DISTINCT ({keys})) FROM {_q(spec.target)}"
                " WHERE site_id = $1 AND deleted_at IS NULL",
                site_id,
            )
        count, source = digests_of_items(spec, [dynamo_json(i) for i in items])
        report = compare(spec, count, source, await mirror_digests(db, site_id, spec))
        if twice or not report.matches:
            problems.append(
                f"{table}: {report.counts['missing']} lost, {twice} stored twice, "
                f"{report.counts['extra']} extra, {report.counts['different']} different, "
                f"digest export {report.source.digest:032x} mirror {report.mirror.digest:032x}"
            )
    return problems


def tiny(data: dict[str, list[dict[str, Any]]], per_table: int) -> dict[str, list[dict[str, Any]]]:
    """The first items of every table (several versions of a key stay together)."""
    return {table: items[:per_table] for table, items in data.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def bench_lag(
    db: Database, site_id: Any, url: str, writes: int
) -> tuple[list[float], list[float]]:
    dynamo = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    streams = boto3.client("dynamodbstreams", endpoint_url=url, region_name="us-east-1")
    arn = dynamo.create_table(
        TableName=LIVE_TABLE,
        KeySchema=[{"AttributeName": "segment_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "segment_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]
    reader = StreamReader(
        db, sync_config.load(), site_id, Clients(url, "us-east-1"), [LIVE_TABLE], poll_interval=0.05
    )
    await reader.start()
    lags: list[float] = []
    try:
        async with db.system() as conn:
            for n in range(writes):
                key = f"live-{n:05d}"
                start = time.perf_counter()
                await asyncio.to_thread(
                    dynamo.put_item,
                    TableName=LIVE_TABLE,
                    Item={"segment_id": {"S": key}, "name": {"S": "x"}, "value": {"N": str(n)}},
                )
                while not await conn.fetchval(
                    "SELECT true FROM firespring_segments WHERE site_id = $1 AND segment_id = $2",
                    site_id,
                    key,
                ):
                    await asyncio.sleep(0.002)
                lags.append(time.perf_counter() - start)
    finally:
        await reader.stop()

    # baseline: the same writes seen in the stream itself, polled at the same interval
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")[
        "ShardIterator"
    ]
    raw: list[float] = []
    for n in range(writes):
        start = time.perf_counter()
        dynamo.put_item(
            TableName=LIVE_TABLE,
            Item={"segment_id": {"S": f"raw-{n:05d}"}, "name": {"S": "x"}, "value": {"N": "1"}},
        )
        while True:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            iterator = page["NextShardIterator"]
            if page["Records"]:
                break
            time.sleep(0.05)
        raw.append(time.perf_counter() - start)
    return lags, raw


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lag-writes", type=int, default=300, help="live writes timed")
    parser.add_argument(
        "--check",
        action="store_true",
        help="tiny run for the test suite (300 items per table, 5 live writes): exits 1 on "
        "any lost, doubled or different row",
    )
    parser.add_argument(
        "--fault",
        choices=["drop_one", "alter_one"],
        help="test hook: remove or edit one mirror row before the comparison",
    )
    args = parser.parse_args()
    print_machine_line()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)
    failed = False
    with scratch_dir("lt-bench-import-") as tmp:
        root = Path(tmp) / "exports"
        data = tables()
        if args.check:
            data, args.lag_writes = tiny(data, 300), 5
        for table, items in data.items():
            write_export(root, table, items)
        items = sum(len(v) for v in data.values())
        settings = Settings(data_dir=Path(tmp) / "data", secret_key="bench", log_level="warning")
        db = await Database.open(settings)
        port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        moto.start()
        try:
            async with db.system() as conn:
                site = await create_site(
                    conn, name="bench", domain="shop.example", public_id="site_bench"
                )
            took, raw, rows = await bench_import(db, site.id, root)
            print(
                f"import of {items:,} export items -> {rows:,} mirror rows (9 tables): {took:.2f} s "
                f"({items / took:,.0f} items/s); raw COPY of the same items: {raw:.2f} s "
                f"({took / raw:.1f}x the raw COPY)   target < 2 s"
            )
            problems = await verify(db, site.id, data, args.fault)
            for problem in problems:
                print(f"IMPORT CHECK FAILED: {problem}")
            if not problems:
                print(
                    "import check: every exported key stored once, with the item the export "
                    "says (checksums match)"
                )
            failed = bool(problems)
            url = f"http://127.0.0.1:{port}"
            lags, baseline = await bench_lag(db, site.id, url, args.lag_writes)
            print(
                f"live-stream lag (put_item -> row visible), {len(lags)} writes: "
                f"p50 {statistics.median(lags) * 1000:.0f} ms, p99 {p(lags, 0.99) * 1000:.0f} ms; "
                f"raw stream visibility p50 {statistics.median(baseline) * 1000:.0f} ms, "
                f"p99 {p(baseline, 0.99) * 1000:.0f} ms ({p(lags, 0.99) / p(baseline, 0.99):.1f}x)"
                "   target p99 < 1 s"
            )
        finally:
            moto.stop()
            await db.close()

    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
