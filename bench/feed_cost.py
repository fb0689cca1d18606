"""What the realtime feed costs the ingest path: CPU and WAL per event, replay-log rows.

    .venv/bin/python -m bench.feed_cost [--duration 8] [--batch] [--env LEADTRAIL_X=VALUE]

Starts ``leadtrail serve`` on a fresh embedded PostgreSQL, drives ``/api/sync`` with wrk and
the Lua of ``bench/ingest.py`` (single events, or ``--batch`` batches of 20), and measures
over the timed phase: events stored per second; CPU seconds per 1,000 events of the server
process, of all PostgreSQL processes and of the feed's own backend; WAL bytes per event
(``pg_stat_wal``); rows written to ``leadtrail.realtime_log`` per second and per event.
CPU and WAL per event hardly move with the machine's load, unlike throughput, so A/B runs
back to back compare well on a busy machine. Run it twice, the second time with
``--env LEADTRAIL_REALTIME_ENABLED=false``, for the feed's share.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import psutil

from bench.ingest import (
    LUA_BATCH,
    LUA_SINGLE,
    create_bench_site,
    free_port,
    run_wrk,
    server_env,
    wait_ready,
)
from bench.machine import print_machine_line
from bench.scratch import discard

STATS = """
SELECT (SELECT count(*) FROM events) AS events,
       (SELECT wal_bytes FROM pg_stat_wal)::bigint AS wal,
       (SELECT coalesce(n_tup_ins, 0) FROM pg_stat_user_tables
        WHERE schemaname = 'leadtrail' AND relname = 'realtime_log') AS log_rows
"""
#: the feed's connection, by the last statement it ran (this branch's or 0005's feed)
FEED_BACKENDS = """
SELECT pid FROM pg_stat_activity
WHERE query ~* '(realtime_poll|peek_binary_changes|slot_advance|pg_current_wal_lsn|realtime_log|realtime_nodes|standby_snapshot)'
"""


def cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def postgres_processes(data: Path) -> list[psutil.Process]:
    pid = int((data / "pg" / "postmaster.pid").read_text().split()[0])
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=8, help="seconds of load")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--batch", action="store_true", help="batches of 20 events")
    parser.add_argument("--env", action="append", default=[], metavar="LEADTRAIL_X=VALUE")
    parser.add_argument(
        "--check",
        action="store_true",
        help="tiny run for the test suite (1 s, 8 connections): exits non-zero on any refused "
        "request or when nothing was stored",
    )
    args = parser.parse_args()
    if args.check:
        args.duration, args.connections = 1, 8
    print_machine_line()

    data = Path(tempfile.mkdtemp(prefix="lt-bench-"))
    env = server_env(data, *args.env)
    create_bench_site(env)
    leadtrail = [sys.executable, "-m", "leadtrail"]
    port = free_port()
    server = subprocess.Popen([*leadtrail, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    script = LUA_BATCH if args.batch else LUA_SINGLE
    try:
        await wait_ready(f"{url}/readyz", server)
        dsn = subprocess.run(
            [*leadtrail, "db", "url"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        run_wrk(f"{url}/api/sync", script, 2, 64)  # warm up
        await asyncio.sleep(1)
        conn = await asyncpg.connect(dsn)
        before = await conn.fetchrow(STATS)
        feed = [psutil.Process(r["pid"]) for r in await conn.fetch(FEED_BACKENDS)]
        serve, pg = [psutil.Process(server.pid)], postgres_processes(data)
        cpu0 = (cpu(serve), cpu(pg), cpu(feed))
        started = time.monotonic()
        load = run_wrk(f"{url}/api/sync", script, args.duration, args.connections)
        await asyncio.sleep(1)  # the feed's last polls count too
        cpu1 = (cpu(serve), cpu(pg), cpu(feed))
        seconds = time.monotonic() - started
        after = await conn.fetchrow(STATS)
        await conn.close()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        discard(data)

    events = after["events"] - before["events"]
    per_k = 1000 / max(1, events)
    rows = after["log_rows"] - before["log_rows"]
    server_cpu, pg_cpu, feed_cpu = ((b - a) * per_k for a, b in zip(cpu0, cpu1, strict=True))
    print(
        f"{'batches of 20' if args.batch else 'single events'}, {' '.join(args.env) or 'defaults'}:"
    )
    print(f"  events/s                          {events / args.duration:10,.0f}")
    print(f"  non-2xx / socket errors           {load.non2xx:10d} / {load.errors}")
    print(f"  server CPU s per 1,000 events     {server_cpu:10.3f}")
    print(f"  PostgreSQL CPU s per 1,000 events {pg_cpu:10.3f}  (feed backend {feed_cpu:.3f})")
    print(
        f"  WAL bytes per event               {(after['wal'] - before['wal']) / max(1, events):10,.0f}"
    )
    print(f"  replay log rows/s                 {rows / seconds:10,.1f}  ({rows / max(1, events):.3f} per event)")  # fmt: skip
    if load.non2xx or load.errors or not events:
        print(
            f"LOAD FAILED: {load.non2xx} non-2xx answers, {load.errors} socket errors, {events} events stored"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
