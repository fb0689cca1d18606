"""Realtime fan-out: a real ``leadtrail serve`` with N WebSocket subscribers while rows are
written, next to a bare ``websockets.broadcast`` of the same messages in the same run.

    .venv/bin/python -m bench.realtime --subscribers 100 --sites 10 --rate 5000 --seconds 20

Events are sent to ``/api/sync`` (batches of ``--batch`` events, paced at ``--rate``
events/s) from a separate process; ``--writer sql`` INSERTs rows straight into PostgreSQL
instead, to measure the feed without the ingest path. Each subscriber joins ``postgres_changes``
INSERT on ``events`` with a read key of one site, so a row reaches subscribers/sites of them.
Latency is the subscriber's clock minus the change's ``commit_timestamp`` (same machine).
The baseline replays the same frames, at the same pace, through ``websockets.broadcast``
to the same subscriber groups, stamped when handed to the server.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import aiohttp
import asyncpg
import httpx
import orjson
import websockets

from bench.ingest import free_port, server_env, wait_ready
from bench.machine import print_machine_line
from bench.scratch import discard
from leadtrail.auth.api_keys import create_key
from leadtrail.sites.service import create_site
from leadtrail.storage.embedded import EmbeddedPostgres

STAMP = '"commit_timestamp":"'
JOIN = {
    "config": {"postgres_changes": [{"event": "INSERT", "schema": "public", "table": "events"}]}
}


def _stamp(text: str) -> float | None:
    i = text.find(STAMP)
    if i < 0:
        return None
    raw = text[i + len(STAMP) : i + len(STAMP) + 27]
    return datetime.fromisoformat(raw).timestamp()


# -- subscribers (run in their own processes) ------------------------------------------------


async def _subscribers(urls: list[str], seconds: float, ready: Any) -> dict[str, Any]:
    """The subscribers of one process, on aiohttp's WebSocket client (its frame reader is
    compiled: a third of the CPU per frame of ``websockets``' client, so the harness leaves
    more of the two cores to the server it measures)."""
    latencies: list[tuple[float, float]] = []  # (commit stamp, latency)
    count = 0
    frames: list[str] = []
    join = orjson.dumps(
        {"topic": "realtime:bench", "event": "phx_join", "payload": JOIN, "ref": "1"}
    ).decode()

    async def one(session: aiohttp.ClientSession, url: str, keep: bool) -> None:
        nonlocal count
        async with session.ws_connect(url, max_msg_size=0, autoping=True) as ws:
            await ws.send_str(join)
            while "Subscribed" not in await ws.receive_str(timeout=60):
                pass
            ready.release()
            deadline = time.time() + seconds + 60
            quiet_after = time.time() + seconds  # the writer's run; then 5 s of silence ends it
            try:
                while time.time() < deadline:
                    # A busy server may deliver the first change late: silence ends the run
                    # only after the writing period.
                    message = await ws.receive(timeout=max(5.0, quiet_after - time.time()))
                    now = time.time()
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        return  # closed
                    text = message.data
                    if '"postgres_changes"' not in text and '"bench"' not in text:
                        continue
                    ts = _stamp(text)
                    if ts is not None:
                        count += 1
                        latencies.append((ts, now - ts))
                        if keep and len(frames) < 200_000:
                            frames.append(text)
            except TimeoutError:
                return

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session, u, i == 0) for i, u in enumerate(urls)))
    return {"count": count, "latencies": latencies, "frames": frames}


def _subscriber_proc(urls: list[str], seconds: float, ready: Any, out: Any) -> None:
    result = asyncio.run(_subscribers(urls, seconds, ready))
    result["cpu_s"] = time.process_time()  # the harness's own cost, reported beside the figures
    out.put(result)


# -- writer (its own process) -----------------------------------------------------------------


def _writer_proc(dsn: str, sites: list[str], rate: int, seconds: float, out: Any) -> None:
    async def run() -> int:
        conn = await asyncpg.connect(dsn)
        month = datetime.now(UTC).date().replace(day=1)
        written = 0
        start = time.monotonic()
        tick = 0.02
        per_tick = max(1, int(rate * tick))
        while (elapsed := time.monotonic() - start) < seconds:
            n = min(per_tick, int(rate * elapsed) - written + per_tick)
            if n > 0:
                await conn.execute(
                    """
                    INSERT INTO events (site_id, session_id, session_month, url, event_category,
                                        event_action, lead_score)
                    SELECT s::uuid, gen_random_uuid(), $2, 'https://bench.example/', 'interaction',
                           'view', 5
                    FROM unnest($1::text[]) s
                    """,
                    [sites[(written + i) % len(sites)] for i in range(n)],
                    month,
                )
                written += n
            await asyncio.sleep(max(0.0, start + (written / rate) - time.monotonic()))
        await conn.close()
        return written

    out.put(asyncio.run(run()))


#: /api/sync requests the sync writer keeps open at once
IN_FLIGHT = 64


def _sync_writer_proc(
    url: str, public_ids: list[str], rate: int, seconds: float, batch: int, out: Any
) -> None:
    """Tracker-shaped batches to /api/sync; counts events acknowledged with 200.

    At most ``IN_FLIGHT`` requests are open at once (the connection pool's size): before, every
    due batch became a task at once, and with the server busy fanning out to 100 subscribers
    they queued for the pool until the client gave up and the process died. Requests beyond
    the cap wait their turn, so a slow server slows the writer instead of killing it.

    The client is aiohttp: httpx's pool walks all its connections on every request
    (``has_expired`` through anyio's ``extra``), which made this writer use a whole core at
    100 requests/s and starve the server it measures (py-spy, 2026-12-05).
    """

    async def run() -> int:
        headers = {
            "content-type": "text/plain",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36",
        }
        acked = 0
        sent = 0
        start = time.monotonic()
        inflight: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(IN_FLIGHT)

        async def post(client: aiohttp.ClientSession, site: str, n: int) -> None:
            nonlocal acked
            sid = str(uuid4())
            body = {
                "batch": [
                    {"s": site, "u": "https://bench.example/p", "sid": sid, "ec": "interaction",
                     "ea": "page_view", "eid": uuid4().hex}
                    for _ in range(n)
                ]
            }  # fmt: skip
            try:
                async with client.post(
                    f"{url}/api/sync", data=orjson.dumps(body), headers=headers
                ) as response:
                    await response.read()
                    if response.status == 200:
                        acked += n
            except (aiohttp.ClientError, TimeoutError):
                return  # not acknowledged: not counted as written
            finally:
                slots.release()

        connector = aiohttp.TCPConnector(limit=IN_FLIGHT)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            while time.monotonic() - start < seconds:
                due = int(rate * (time.monotonic() - start)) - sent
                while due > 0:
                    n = min(batch, due)
                    await slots.acquire()
                    task = asyncio.create_task(post(client, public_ids[sent % len(public_ids)], n))
                    inflight.add(task)
                    task.add_done_callback(inflight.discard)
                    sent += n
                    due -= n
                await asyncio.sleep(0.005)
            await asyncio.gather(*inflight)
        return acked

    out.put(asyncio.run(run()))


# -- baseline ---------------------------------------------------------------------------------


def _baseline_proc(port: int, frames: list[str], groups: int, seconds: float) -> None:
    async def run() -> None:
        members: dict[int, set[Any]] = {g: set() for g in range(groups)}
        joined = asyncio.Event()
        total = sum(1 for _ in range(groups))

        async def handler(ws: Any) -> None:
            group = int(await ws.recv())
            members[group].add(ws)
            if sum(len(m) for m in members.values()) >= expected:
                joined.set()
            await ws.wait_closed()

        expected = int(os.environ["BENCH_SUBSCRIBERS"])
        async with websockets.serve(handler, "127.0.0.1", port, max_queue=None, compression=None):
            await joined.wait()
            await asyncio.sleep(0.5)
            start = time.monotonic()
            pace = seconds / max(1, len(frames))
            for i, frame in enumerate(frames):
                now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                i0 = frame.find(STAMP) + len(STAMP)
                text = frame[:i0] + now + frame[i0 + 27 :]
                websockets.broadcast(members[i % total], text)
                delay = start + (i + 1) * pace - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await asyncio.sleep(2)

    asyncio.run(run())


async def _baseline_clients(port: int, groups: int, n: int, seconds: float) -> dict[str, Any]:
    latencies: list[tuple[float, float]] = []  # (send stamp, latency)
    count = 0

    async def one(session: aiohttp.ClientSession, group: int) -> None:
        nonlocal count
        async with session.ws_connect(f"ws://127.0.0.1:{port}", max_msg_size=0) as ws:
            await ws.send_str(str(group))
            try:
                while True:
                    message = await ws.receive(timeout=3)
                    now = time.time()
                    if message.type is not aiohttp.WSMsgType.TEXT:
                        return
                    ts = _stamp(message.data)
                    if ts is not None:
                        count += 1
                        latencies.append((ts, now - ts))
            except TimeoutError:
                return

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(one(session, i % groups) for i in range(n)))
    return {"count": count, "latencies": latencies, "cpu_s": time.process_time()}


def _baseline_client_proc(port: int, groups: int, n: int, seconds: float, out: Any) -> None:
    out.put(asyncio.run(_baseline_clients(port, groups, n, seconds)))


# -- main -------------------------------------------------------------------------------------


def _steady(stamped: list[tuple[float, float]], warmup: float) -> list[float]:
    """Latencies of the messages stamped ``warmup`` seconds or more after the first one."""
    if not stamped:
        return []
    start = min(ts for ts, _ in stamped) + warmup
    return [lat for ts, lat in stamped if ts >= start]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _setup(dsn: str, sites: int, subscribers: int) -> tuple[list[str], list[str], list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        site_ids, public_ids, keys = [], [], []
        for i in range(sites):
            site = await create_site(conn, name=f"bench {i}", domain=f"b{i}.example")
            site_ids.append(str(site.id))
            public_ids.append(site.public_id)
            keys.append((await create_key(conn, site.id, name="bench", scopes=["read"])).key)
    finally:
        await conn.close()
    return site_ids, public_ids, [keys[i % sites] for i in range(subscribers)]


def _get(queue: Any, timeout: float, procs: list[Any]) -> Any:
    """A result from a child process; if none comes (a child died), stop them all."""
    try:
        return queue.get(timeout=timeout)
    except Exception:
        for p in procs:
            p.kill()
        raise SystemExit("a benchmark process gave no result (see its traceback above)") from None


def _feed_metrics(port: int) -> dict[str, float]:
    """The server's ``leadtrail_realtime_*`` counters (see realtime/metrics.py)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("leadtrail_realtime_") and "_created" not in line:
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def _print_feed(feed: dict[str, float], seconds: float) -> None:
    polls = max(1.0, feed.get("leadtrail_realtime_polls_total", 0.0))

    def per_poll(phase: str) -> float:
        key = f'leadtrail_realtime_poll_seconds_total{{phase="{phase}"}}'
        return feed.get(key, 0.0) / polls * 1000

    print(
        f"feed: {polls / seconds:,.0f} batches/s, "
        f"{feed.get('leadtrail_realtime_changes_total', 0) / seconds:,.0f} changes/s read "
        f"(all tables), {feed.get('leadtrail_realtime_changes_decoded_total', 0) / seconds:,.0f}"
        f"/s decoded; replay log {feed.get('leadtrail_realtime_log_rows_total', 0) / seconds:,.0f}"
        f" rows/s, {feed.get('leadtrail_realtime_log_bytes_total', 0) / seconds / 1e6:.1f} MB/s; "
        f"ms per batch: decode {per_poll('decode'):.1f}, "
        f"log {per_poll('log'):.1f}, dispatch {per_poll('dispatch'):.1f}"
    )
    prefix = "leadtrail_realtime_dispatch_lag_seconds_bucket"
    buckets = sorted(
        (float(k.split('le="')[1].split('"')[0]), v)
        for k, v in feed.items()
        if k.startswith(prefix)
    )
    total = buckets[-1][1] if buckets else 0
    if total:
        shares = ", ".join(f"<= {le * 1000:g} ms {n / total:.0%}" for le, n in buckets[2:8])
        print(f"feed: commit -> dispatch of each batch's oldest change: {shares}")


def _start_citus(scratch: Path) -> Any:
    """A 3-node Citus cluster on loopback, migrated and distributed (as tests/citus does)."""
    from tests.citus.cluster import CitusCluster, citus_bindir, install_leadtrail, new_root

    bindir = citus_bindir()
    if bindir is None:
        raise SystemExit("Citus is not built: run scripts/citus_build first")
    cluster = CitusCluster(bindir, new_root(scratch))
    cluster.start()

    asyncio.run(install_leadtrail(cluster.dsn(), shard_count=8))
    return cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument("--rate", type=int, default=5000, help="rows written per second")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--writer", choices=("sync", "sql"), default="sync")
    parser.add_argument("--batch", type=int, default=50, help="events per /api/sync request")
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="seconds of changes left out of the steady latency figures (printed whole too)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="two server processes on one database: `serve --role api` takes the writes, "
        "`serve --role realtime,worker` runs the feed and serves the subscribers",
    )
    parser.add_argument(
        "--citus",
        action="store_true",
        help="on a local 3-node Citus cluster (scripts/citus_build), migrated and distributed: "
        "the feed streams the coordinator and both workers (one CDC slot each)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="tiny run for the test suite (4 subscribers, 2 sites, 200 events/s for 2 s): exits "
        "non-zero unless every change reaches every subscriber allowed to see it",
    )
    args = parser.parse_args()
    if args.check:
        args.subscribers, args.sites, args.rate, args.seconds, args.client_procs = 4, 2, 200, 2.0, 1
        args.batch = 10
    print_machine_line()

    ctx = mp.get_context("spawn")
    data = Path(tempfile.mkdtemp(prefix="lt-bench-")) / "data"
    port = free_port()
    env = server_env(data, "LEADTRAIL_REALTIME_MAX_QUEUE=100000")
    cluster = _start_citus(data.parent) if args.citus else None
    if cluster is not None:
        env["LEADTRAIL_DATABASE_URL"] = cluster.dsn()
    # One process (role all), or the API and the realtime node apart (--split); the API
    # starts first so that it alone starts the embedded database and migrates.
    roles = ["api", "realtime,worker"] if args.split else ["all"]
    ports = [port, free_port()] if args.split else [port]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for role, role_port in zip(roles, ports, strict=True):
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "leadtrail", "serve", "--port", str(role_port)],
                    env=env | {"LEADTRAIL_ROLE": role},
                    stdout=subprocess.DEVNULL,
                )
            )
            asyncio.run(wait_ready(f"http://127.0.0.1:{role_port}/readyz", servers[-1]))
        api_port, rt_port = ports[0], ports[-1]
        dsn = cluster.dsn() if cluster is not None else EmbeddedPostgres(data).dsn()
        sites, public_ids, keys = asyncio.run(_setup(dsn, args.sites, args.subscribers))
        urls = [
            f"ws://127.0.0.1:{rt_port}/realtime/v1/websocket?apikey={k}&vsn=1.0.0&x={uuid4().hex[:4]}"
            for k in keys
        ]
        out: Any = ctx.Queue()
        ready = ctx.Semaphore(0)
        procs = [
            ctx.Process(
                target=_subscriber_proc,
                args=(urls[i :: args.client_procs], args.seconds, ready, out),
            )
            for i in range(args.client_procs)
        ]
        for p in procs:
            p.start()
        for _ in urls:
            ready.acquire(timeout=120)
        wout: Any = ctx.Queue()
        if args.writer == "sql":
            writer = ctx.Process(
                target=_writer_proc, args=(dsn, sites, args.rate, args.seconds, wout)
            )
        else:
            writer = ctx.Process(
                target=_sync_writer_proc,
                args=(
                    f"http://127.0.0.1:{api_port}",
                    public_ids,
                    args.rate,
                    args.seconds,
                    args.batch,
                    wout,
                ),
            )
        before = _feed_metrics(rt_port)
        t0 = time.monotonic()
        writer.start()
        written = _get(wout, args.seconds + 120, [writer, *procs])
        write_seconds = time.monotonic() - t0
        time.sleep(0.5)  # the feed's last polls
        feed = {k: v - before.get(k, 0.0) for k, v in _feed_metrics(rt_port).items()}
        feed_seconds = time.monotonic() - t0
        results = [_get(out, 120, procs) for _ in procs]
        for p in [*procs, writer]:
            p.join()
        count = sum(r["count"] for r in results)
        stamped = [x for r in results for x in r["latencies"]]
        frames = next((r["frames"] for r in results if r["frames"]), [])
    finally:
        for server in reversed(servers):
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
        if cluster is not None:
            cluster.stop()
        discard(data.parent)

    # Baseline: the same frames, the same pace, the same groups, through websockets.broadcast.
    bport = free_port()
    os.environ["BENCH_SUBSCRIBERS"] = str(args.subscribers)
    groups = args.sites
    replay = (frames * (written // max(1, len(frames)) + 1))[:written]
    bserver = ctx.Process(target=_baseline_proc, args=(bport, replay, groups, write_seconds))
    bserver.start()
    time.sleep(1)
    bout: Any = ctx.Queue()
    bprocs = [
        ctx.Process(
            target=_baseline_client_proc,
            args=(bport, groups, len(urls[i :: args.client_procs]), args.seconds, bout),
        )
        for i in range(args.client_procs)
    ]
    for p in bprocs:
        p.start()
    bresults = [_get(bout, args.seconds + 120, [*bprocs, bserver]) for _ in bprocs]
    for p in [*bprocs, bserver]:
        p.join()
    bcount = sum(r["count"] for r in bresults)
    bstamped = [x for r in bresults for x in r["latencies"]]
    lat, blat = _steady(stamped, args.warmup), _steady(bstamped, args.warmup)
    lat_all, blat_all = [x for _, x in stamped], [x for _, x in bstamped]

    expected = written * args.subscribers // args.sites
    print(
        f"realtime: {args.subscribers} subscribers over {args.sites} sites, "
        f"{written} events written via {args.writer} in {write_seconds:.1f}s "
        f"({written / write_seconds:,.0f} changes/s on events; "
        f"{'API and realtime node in two processes' if args.split else 'one server process'})"
    )
    print(
        f"latency: of the changes committed from {args.warmup:g} s after the first one on "
        "(the server's first second pays for cold caches and connections); whole run beside it"
    )
    print(
        f"{'':24}{'deliveries':>12}{'deliveries/s':>14}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'whole run p50 / p99':>22}"
    )
    print(
        f"{'leadtrail feed + hub':24}{count:>12,}{count / write_seconds:>14,.0f}"
        f"{_pct(lat, 0.5):>9.1f}{_pct(lat, 0.99):>9.1f}"
        f"{_pct(lat_all, 0.5):>13.1f} / {_pct(lat_all, 0.99):<6.1f}   (expected {expected:,})"
    )
    print(
        f"{'websockets.broadcast':24}{bcount:>12,}{bcount / write_seconds:>14,.0f}"
        f"{_pct(blat, 0.5):>9.1f}{_pct(blat, 0.99):>9.1f}"
        f"{_pct(blat_all, 0.5):>13.1f} / {_pct(blat_all, 0.99):<6.1f}"
    )
    if feed:
        _print_feed(feed, feed_seconds)
    if blat and lat:
        print(
            f"ratio leadtrail/baseline: p50 {statistics.median(lat) / statistics.median(blat):.1f}x"
        )
    harness = sum(r.get("cpu_s", 0.0) for r in results)
    cores = os.cpu_count() or 1
    print(
        f"harness: the subscriber processes used {harness:.1f} CPU-s in {feed_seconds:.1f} s, "
        f"{harness / feed_seconds / cores:.0%} of this machine's {cores} cores; as that nears "
        "100 %, latency is the harness's limit, not the server's (the broadcast baseline shows "
        "what these subscribers take in when the server costs nothing)"
    )
    if count != expected:
        print(f"DELIVERY FAILED: {count:,} deliveries, {expected:,} expected")
        sys.exit(1)
    print("every change reached every subscriber allowed to see it, once")


if __name__ == "__main__":
    main()
