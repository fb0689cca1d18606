"""Citus (coordinator + 2 workers on this machine) next to plain PostgreSQL 15, same binaries.

    python bench/citus.py [--sites 20] [--sessions 20000] [--events-per-session 10] [--repeat 30]

Starts both from the cached Citus build (scripts/citus_build), migrates both with leadtrail's
migrations and distributes the Citus one with ``leadtrail db distribute``'s code (8 shards).
Then, on each:

1. storage ingest: the same sessions and events loaded with COPY as the owner, in batches of
   500 sessions, timed; printed as events/s and the Citus/plain ratio (target >= 0.7).
   This is the storage layer's share of ingest, not leadtrail's writer: the writer's staging
   (temporary tables, INSERT ... SELECT into RLS tables) does not run on Citus yet
   (docs/scaling.md);
2. a 30-day report of one site from the raw tables (sessions and page views per day, distinct
   visitors, conversions), ``--repeat`` times: p50/p95 and the Citus/plain p95 ratio (target < 2);
3. leadtrail's own ingest: ``leadtrail serve`` on each database (change feed off on both: it
   does not run on Citus yet) and wrk sending tracker batches of 20 events to ``/api/sync``
   for ``--writer-seconds`` after a 3 s warm-up; events/s acknowledged and the ratio
   (target >= 0.7). On Citus the writer sends multi-row ``INSERT ... VALUES`` (no staging
   tables), on plain PostgreSQL it COPYs into staging tables, as in production.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
import asyncpg
from tests.citus.cluster import CitusCluster, citus_bindir, new_root

from bench.ingest import LUA_BATCH, create_bench_site, free_port, run_wrk, server_env, wait_ready
from bench.machine import print_machine_line
from leadtrail.storage import citus, migrator

REPORT = """
SELECT date_trunc('day', created_at, 'UTC') AS day, count(*) AS sessions,
       sum(page_views) AS page_views, count(DISTINCT fingerprint) AS visitors,
       count(*) FILTER (WHERE converted) AS conversions
FROM sessions
WHERE site_id = $1 AND created_at >= $2 AND created_at < $3
GROUP BY 1 ORDER BY 1
"""
SESSION_COLUMNS = (
    "site_id", "id", "created_month", "created_at", "last_seen_at", "fingerprint",
    "page_views", "event_count", "converted",
)  # fmt: skip
EVENT_COLUMNS = (
    "site_id", "id", "session_id", "session_month", "created_at", "url", "event_category",
    "event_action",
)  # fmt: skip


def make_data(
    sites: list[uuid.UUID], sessions: int, per_session: int, now: datetime, seed: int = 7
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    srows: list[tuple[Any, ...]] = []
    erows: list[tuple[Any, ...]] = []
    for _ in range(sessions):
        site = rng.choice(sites)
        sid = uuid.uuid4()
        start = now - timedelta(seconds=rng.randrange(0, 60 * 86400))
        month = start.date().replace(day=1)
        srows.append(
            (site, sid, month, start, start + timedelta(minutes=3), f"fp{rng.randrange(sessions // 3)}",
             per_session, per_session, rng.random() < 0.05)
        )  # fmt: skip
        for i in range(per_session):
            erows.append(
                (site, uuid.uuid4(), sid, month, start + timedelta(seconds=i),
                 f"https://x.example/p{rng.randrange(50)}", "interaction", "page_view")
            )  # fmt: skip
    return srows, erows


async def prepare(dsn: str, distribute: bool, sites: list[uuid.UUID]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await migrator.migrate(conn)
        await conn.execute("SELECT leadtrail.ensure_partitions(3)")
        for month in range(3):
            await conn.execute(
                "SELECT leadtrail.ensure_month_partition(p, (date_trunc('month', now()) "
                "- make_interval(months => $1))::date) FROM unnest(ARRAY['sessions', 'events']) p",
                month,
            )
        if distribute:
            await citus.distribute(conn, shard_count=8, echo=lambda _: None)
        for site in sites:
            await conn.execute(
                "INSERT INTO sites (id, public_id, name, domain) VALUES ($1, $2, 'b', 'b.example')",
                site,
                f"b_{site.hex[:10]}",
            )
    finally:
        await conn.close()


async def ingest(
    dsn: str, srows: list[tuple[Any, ...]], erows: list[tuple[Any, ...]], per: int
) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        t0 = time.perf_counter()
        step = 500
        for i in range(0, len(srows), step):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "sessions", records=srows[i : i + step], columns=SESSION_COLUMNS
                )
                await conn.copy_records_to_table(
                    "events", records=erows[i * per : (i + step) * per], columns=EVENT_COLUMNS
                )
        return time.perf_counter() - t0
    finally:
        await conn.close()


async def report(dsn: str, site: uuid.UUID, now: datetime, repeat: int) -> list[float]:
    conn = await asyncpg.connect(dsn)
    try:
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = await conn.fetch(REPORT, site, now - timedelta(days=30), now)
            times.append(time.perf_counter() - t0)
        assert rows, "the report found no sessions"
        return times
    finally:
        await conn.close()


async def writer_ingest(dsn: str, scratch: Path, seconds: int, connections: int) -> float:
    """Events/s that ``leadtrail serve`` on ``dsn`` acknowledged (batches of 20, wrk)."""
    env = server_env(scratch, f"LEADTRAIL_DATABASE_URL={dsn}", "LEADTRAIL_REALTIME_ENABLED=false")
    create_bench_site(env)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "leadtrail", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        url = f"http://127.0.0.1:{port}/api/sync"
        run_wrk(url, LUA_BATCH, 3, connections)  # warm-up
        result = run_wrk(url, LUA_BATCH, seconds, connections)
        if result.non2xx or result.errors:
            raise SystemExit(f"writer ingest: {result.non2xx} non-2xx, {result.errors} errors")
        return result.rps * 20
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=20)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--events-per-session", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--writer-seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (writer)")
    parser.add_argument("--check", action="store_true", help="tiny run: it works, no targets")
    args = parser.parse_args()
    if args.check:
        args.sites, args.sessions, args.events_per_session, args.repeat = 3, 600, 3, 5
        args.writer_seconds, args.connections = 2, 8
    bindir = citus_bindir()
    if bindir is None:
        print("Citus is not built: run scripts/citus_build first", file=sys.stderr)
        return 2
    print_machine_line()
    sites = [uuid.uuid4() for _ in range(args.sites)]
    now = datetime.now(UTC)
    srows, erows = make_data(sites, args.sessions, args.events_per_session, now)
    base = Path(tempfile.mkdtemp(prefix="bench-citus-"))
    plain = CitusCluster(bindir, new_root(base / "p"), workers=0, with_citus=False)
    dist = CitusCluster(bindir, new_root(base / "c"))
    try:
        plain.start()
        dist.start()
        await prepare(plain.dsn(), False, sites)
        await prepare(dist.dsn(), True, sites)
        per = args.events_per_session
        plain_s = await ingest(plain.dsn(), srows, erows, per)
        dist_s = await ingest(dist.dsn(), srows, erows, per)
        busiest = max(sites, key=lambda s: sum(r[0] == s for r in srows))
        plain_t = await report(plain.dsn(), busiest, now, args.repeat)
        dist_t = await report(dist.dsn(), busiest, now, args.repeat)
        plain_w = await writer_ingest(
            plain.dsn(), base / "serve-p", args.writer_seconds, args.connections
        )
        dist_w = await writer_ingest(
            dist.dsn(), base / "serve-c", args.writer_seconds, args.connections
        )
    finally:
        plain.stop()
        dist.stop()
    events = len(erows)
    ingest_ratio = plain_s / dist_s
    report_ratio = p95(dist_t) / p95(plain_t)
    print(
        f"storage ingest (COPY, 500 sessions/txn): Citus {events / dist_s:,.0f} events/s vs "
        f"plain {events / plain_s:,.0f} events/s = {ingest_ratio:.2f}x (target >= 0.7)"
    )
    print(
        f"30-day raw report p95: Citus {p95(dist_t) * 1000:.1f} ms vs plain "
        f"{p95(plain_t) * 1000:.1f} ms = {report_ratio:.2f}x (target < 2); p50 "
        f"{statistics.median(dist_t) * 1000:.1f} / {statistics.median(plain_t) * 1000:.1f} ms"
    )
    print(
        f"leadtrail ingest (/api/sync, batches of 20, {args.connections} connections, "
        f"{args.writer_seconds} s): Citus {dist_w:,.0f} events/s vs plain {plain_w:,.0f} "
        f"events/s = {dist_w / plain_w:.2f}x (target >= 0.7)"
    )
    print(
        f"size: {args.sites} sites, {len(srows):,} sessions, {events:,} events; "
        f"{args.repeat} report runs each"
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
