"""Ingest throughput and latency of /api/sync, next to baselines measured in the same run.

    python bench/ingest.py [--duration 15] [--connections 256] [--workers 2]

Starts ``leadtrail serve`` on a fresh embedded PostgreSQL (default settings, request logging
off) and drives it with ``wrk`` (Debian's package, installed when missing) from a separate
process on loopback, with Lua-generated bodies: realistic sessions of page views, scrolls,
clicks and conversions from a pool of real user agents and referrers. Phases:

1. single events per request, as fast as possible;
2. batches of 20 events per request, as fast as possible;
3. single events paced at half the throughput of phase 1, for latency;
4. baselines: a bare ASGI handler under the same load (uvicorn, same loop and parser), and
   the same event rows COPYed straight into PostgreSQL.

Every request carries an ``X-Request-Id`` that the server echoes; the Lua script writes the
event ids of every request answered 2xx to per-thread files. After the server has stopped (its
writer drained), the script checks in the database that every acknowledged event is stored
exactly once, and reports lost, duplicated and stored-but-never-acknowledged (in flight when a
phase stopped) events apart; it exits 1 on any loss or duplicate. ``--check`` is a tiny run
for the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from bench.scratch import discard
from leadtrail.storage.embedded import EmbeddedPostgres

LUA_COMMON = r"""
local uas = {
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
  "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
}
local referrers = {"https://www.google.com/", "", "https://www.facebook.com/", "https://duckduckgo.com/?q=plumber", "https://blog.example.org/post", ""}
local actions = {
  {"interaction", "page_view", "null"}, {"interaction", "scroll_depth", "50"}, {"interaction", "scroll_depth", "90"},
  {"interaction", "hover_intent", "null"}, {"system", "heartbeat", "null"}, {"interaction", "page_view", "null"},
  {"interaction", "external_link", "null"}, {"conversion", "phone_call", "null"}, {"interaction", "page_view", "null"},
  {"system", "heartbeat", "null"},
}
local thread_id = 0
local counter = 0
local sid, fp, ua, landing_ref
-- Exactly-once check: every request carries an X-Request-Id the server echoes; the event ids of
-- a request answered 2xx are appended to this thread's ack file (ACK_DIR/<phase>-<tid>.txt).
local reqn, pending, ackfile = 0, {}, nil
setup = function(thread) thread:set("tid", thread_id); thread_id = thread_id + 1 end
init = function(args)
  math.randomseed(os.time() * 1000 + (tid or 0) * 7919)
  ackfile = io.open(ACK_DIR .. "/" .. PHASE .. "-" .. (tid or 0) .. ".txt", "a")
end
local function post(body, eids)
  reqn = reqn + 1
  local rid = PHASE .. "t" .. (tid or 0) .. "r" .. reqn
  pending[rid] = eids
  return wrk.format("POST", "/api/sync",
    {["Content-Type"] = "text/plain", ["User-Agent"] = ua, ["X-Request-Id"] = rid}, body)
end
response = function(status, headers, body)
  local rid = headers["x-request-id"] or headers["X-Request-Id"]
  local eids = rid and pending[rid]
  if eids then
    pending[rid] = nil
    if status >= 200 and status < 300 then ackfile:write(eids, "\n"); ackfile:flush() end
  end
end
local function hex(n) local t = {} for i = 1, n do t[i] = string.format("%02x", math.random(0, 255)) end return table.concat(t) end
local function uuid4()
  local h = hex(16)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-a" .. h:sub(18, 20) .. "-" .. h:sub(21, 32)
end
local function new_session()
  sid = uuid4(); fp = "fp" .. hex(6); ua = uas[math.random(#uas)]; landing_ref = referrers[math.random(#referrers)]
end
local function event(n, first)
  local ec, ea, ev = "acquisition", "view", "null"
  local url = "https://bench.example/"
  local ref = ""
  if first then
    if math.random(5) == 1 then url = url .. "?gclid=G" .. hex(8) .. "&utm_source=google&utm_medium=cpc" end
    ref = landing_ref
  else
    local a = actions[math.random(#actions)]
    ec, ea, ev = a[1], a[2], a[3]
    url = url .. "p/" .. math.random(40)
  end
  counter = counter + 1
  local eid = string.format("%st%dn%d", PHASE, tid or 0, counter)
  return string.format(
    '{"s":"bench","u":"%s","sid":"%s","ec":"%s","ea":"%s","ev":%s,"r":"%s","eid":"%s","meta":{"fp":"%s","device_info":{"screen":"1920x1080","tz":"Europe/Berlin","lang":"en-US"}}}',
    url, sid, ec, ea, ev, ref, eid, fp), eid
end
"""

LUA_SINGLE = (
    LUA_COMMON
    + r"""
local in_session = 0
request = function()
  local first = false
  if in_session == 0 then new_session(); in_session = math.random(3, 15); first = true end
  in_session = in_session - 1
  local body, eid = event(0, first)
  return post(body, eid)
end
"""
)

LUA_BATCH = (
    LUA_COMMON
    + r"""
request = function()
  new_session()
  local parts, eids = {}, {}
  for i = 1, 20 do parts[i], eids[i] = event(i, i == 1) end
  return post('{"batch":[' .. table.concat(parts, ",") .. ']}', table.concat(eids, "\n"))
end
"""
)

LUA_DONE = r"""
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format('\nRESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, non2xx, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
end
"""


def lua_paced(rate: float, connections: int) -> str:
    interval_ms = max(1, round(connections * 1000.0 / rate))
    return f"delay = function() return math.random({interval_ms // 2}, {interval_ms + interval_ms // 2}) end\n"


BARE_APP = r"""
import orjson, uvicorn
BODY = orjson.dumps({"status": "synced", "score": 0})
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})
import sys
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
            log_level="warning", access_log=False)
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def server_env(data_dir: Path, *settings: str) -> dict[str, str]:
    """Environment for a benchmarked ``leadtrail serve``: this shell's settings dropped, a
    fresh data dir, quiet logs, rate limits and the per-IP WebSocket cap out of the way (the
    load comes from one address), then ``settings`` (``LEADTRAIL_X=VALUE``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADTRAIL_")}
    env.update({
        "LEADTRAIL_DATA_DIR": str(data_dir), "LEADTRAIL_LOG_LEVEL": "warning",
        "LEADTRAIL_SYNC_IP_RATE_LIMIT": "100000000/minute", "LEADTRAIL_SYNC_SITE_RATE_LIMIT": "100000000/minute",
        "LEADTRAIL_REALTIME_MAX_CONNECTIONS_PER_IP": "1000000",
    })  # fmt: skip
    env.update(dict(item.split("=", 1) for item in settings))
    return env


def create_bench_site(env: dict[str, str]) -> None:
    """The site the Lua scripts send to (public id ``bench``)."""
    subprocess.run([sys.executable, "-m", "leadtrail", "sites", "create", "Bench", "--domain", "bench.example",
                    "--public-id", "bench"], env=env, check=True, capture_output=True)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True
    )
    found = shutil.which("wrk")
    assert found, "could not install wrk"
    return found


def run_wrk(
    url: str,
    script: str,
    duration: int,
    connections: int,
    *,
    phase: str = "load",
    ack_dir: Path | None = None,
    threads: int = 2,
) -> WrkResult:
    """One wrk phase. Event ids start with ``phase``; those of every request answered 2xx are
    written to ``ack_dir`` (see ``acknowledged_ids``; a throwaway folder when None)."""
    if ack_dir is None:
        with tempfile.TemporaryDirectory(prefix="lt-acks-") as scratch:
            return run_wrk(
                url,
                script,
                duration,
                connections,
                phase=phase,
                ack_dir=Path(scratch),
                threads=threads,
            )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(f"ACK_DIR = {json.dumps(str(ack_dir))}\nPHASE = {json.dumps(phase)}\n")
        handle.write(script + LUA_DONE)
    try:
        out = subprocess.run(
            [ensure_wrk(), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
             "-s", handle.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(handle.name)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    data = json.loads(line.removeprefix("RESULT "))
    errors = data["connect"] + data["read"] + data["write"] + data["timeout"]
    return WrkResult(
        data["requests"],
        data["duration_us"] / 1e6,
        data["non2xx"],
        errors,
        data["p50_us"] / 1000,
        data["p99_us"] / 1000,
    )


async def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(1200):
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            await asyncio.sleep(0.05)
    raise SystemExit("server did not start")


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """The embedded PostgreSQL's processes: the postmaster names its cluster folder on its
    command line, backends ("postgres: user db ...") are its children. ``data_dir`` is
    leadtrail's data folder (``LEADTRAIL_DATA_DIR``), not the cluster folder: as root the
    cluster lives in the service account's folder, which this looks up."""
    found = []
    where = str(EmbeddedPostgres(data_dir).pgdata)
    for proc in psutil.process_iter(["name", "cmdline"]):
        if proc.info["name"] != "postgres":
            continue
        try:
            owner = proc if where in " ".join(proc.info["cmdline"] or []) else proc.parent()
            if owner is not None and where in " ".join(owner.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def cpu_seconds(server_pid: int, data_dir: Path) -> tuple[float, float]:
    """CPU time used so far by the leadtrail process (with its worker processes) and by the
    embedded PostgreSQL's processes: a figure that, unlike throughput, other load on the
    machine barely moves."""
    root = psutil.Process(server_pid)
    own = 0.0
    for proc in [root, *root.children(recursive=True)]:  # API workers and their side node
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        own += times.user + times.system
    pg = 0.0
    for proc in postgres_processes(data_dir):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        pg += times.user + times.system
    return own, pg


def acknowledged_ids(ack_dir: Path) -> list[str]:
    """Event ids of every request the server answered 2xx, from the phases' ack files."""
    ids: list[str] = []
    for path in sorted(ack_dir.glob("*.txt")):
        ids.extend(line for line in path.read_text().splitlines() if line)
    return ids


@dataclass
class Reconciliation:
    acknowledged: int
    stored: int
    #: acknowledged, not stored: a broken promise
    lost: list[str]
    #: stored more than once
    duplicated: list[str]
    #: stored although never acknowledged (in flight when a phase stopped): allowed
    unacknowledged: int

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated


async def reconcile(dsn: str, ack_dir: Path) -> Reconciliation:
    """Every acknowledged event id present exactly once in ``events``? Read after the server
    has stopped (its writer drained), so nothing is still on its way."""
    acked = acknowledged_ids(ack_dir)
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT client_event_id, count(*) AS n FROM events e JOIN sites s ON s.id = e.site_id"
            " WHERE s.public_id = 'bench' GROUP BY client_event_id"
        )
    finally:
        await conn.close()
    return classify(acked, {r["client_event_id"]: r["n"] for r in rows})


def classify(acked: Iterable[str], stored: Mapping[str, int]) -> Reconciliation:
    """Acknowledged ids against stored ids (id -> rows holding it): lost, duplicated (any id
    on more than one row, acknowledged or not), and stored-but-unacknowledged."""
    acked_set = set(acked)
    return Reconciliation(
        acknowledged=len(acked_set),
        stored=sum(stored.values()),
        lost=sorted(acked_set - stored.keys()),
        duplicated=sorted(k for k, n in stored.items() if n > 1),
        unacknowledged=len(stored.keys() - acked_set),
    )


class PeakMemory:
    """Peak resident memory, sampled every 100 ms from a thread while the load runs: the
    server process (with its children) and, apart, the embedded PostgreSQL's processes."""

    def __init__(self, server_pid: int, data_dir: Path, interval: float = 0.1) -> None:
        self._server = psutil.Process(server_pid)
        self._data_dir = data_dir
        self._interval = interval
        self.server_mb = 0.0
        self.postgres_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> None:
        try:
            tree = [self._server, *self._server.children(recursive=True)]
            server = sum(p.memory_info().rss for p in tree)
        except psutil.Error:
            return
        pg = 0
        for proc in postgres_processes(self._data_dir):
            try:
                pg += proc.memory_info().rss
            except psutil.Error:
                continue
        self.server_mb = max(self.server_mb, server / 2**20)
        self.postgres_mb = max(self.postgres_mb, pg / 2**20)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def copy_baseline(dsn: str, site_id: uuid.UUID, rows: int) -> float:
    """The same shape of rows the writer stores, COPYed straight into ``events`` as owner."""
    conn = await asyncpg.connect(dsn)
    await conn.set_type_codec(  # binary jsonb, as leadtrail's own pools use
        "jsonb",
        schema="pg_catalog",
        encoder=lambda v: b"\x01" + json.dumps(v).encode(),
        decoder=lambda b: json.loads(b[1:]),
        format="binary",
    )
    month = date.today().replace(day=1)
    now = datetime.now(UTC)
    meta = {"fp": "fp123456", "lead_score": 10, "attribution_source": "Organic", "intelligence_summary": "Standard Traffic",
            "device_info": {"screen": "1920x1080", "tz": "Europe/Berlin", "lang": "en-US", "browser": "Chrome", "os": "Windows",
                            "device_type": "desktop"}, "geo_info": {"country": "Unknown", "region": "Unknown", "city": "Unknown"}}  # fmt: skip
    records = []
    for i in range(rows):
        sid = uuid.UUID(int=i // 10 + 1)
        records.append((site_id, uuid.uuid4(), sid, month, now, f"https://bench.example/p/{i % 40}", "interaction",
                        "page_view", None, None, 10, f"copy{i:012d}", meta))  # fmt: skip
    columns = ["site_id", "id", "session_id", "session_month", "created_at", "url", "event_category", "event_action",
               "event_label", "event_value", "lead_score", "client_event_id", "metadata"]  # fmt: skip
    started = time.perf_counter()
    for k in range(0, rows, 5000):
        async with conn.transaction():
            await conn.copy_records_to_table(
                "events", records=records[k : k + 5000], columns=columns
            )
    elapsed = time.perf_counter() - started
    await conn.execute("DELETE FROM events WHERE client_event_id LIKE 'copy%'")
    await conn.close()
    return rows / elapsed


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on loopback: several API workers share rate limits there."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--workers needs redis-server (Debian: apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="lt-redis-") as folder:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                 "--dir", folder], stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            for _ in range(600):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 1) as sock,
                ):
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@dataclass
class Scaling:
    workers: int
    single: WrkResult
    #: CPU seconds of leadtrail's processes and of PostgreSQL's during the measured phase
    cpu: tuple[float, float]

    @property
    def per_cpu_second(self) -> float:
        """Requests per CPU-second of the server side (leadtrail + PostgreSQL): throughput per
        core, unmoved by how many cores the load generator and other tenants leave free."""
        return self.single.requests / max(sum(self.cpu), 1e-9)


async def scaling_run(
    workers: int, env: dict[str, str], args: argparse.Namespace, ack_dir: Path, data_dir: Path
) -> Scaling:
    """``serve --workers N`` on the shared database: warm-up, then single events at full load."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "leadtrail", "serve", "--workers", str(workers), "--port", str(port)],
                              env=env | {"LEADTRAIL_REALTIME_PORT": str(free_port())},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    sync = f"http://127.0.0.1:{port}/api/sync"
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", server)
        run_wrk(
            sync,
            LUA_SINGLE,
            min(3, args.duration),
            args.connections,
            phase=f"warmw{workers}",
            ack_dir=ack_dir,
        )
        before = cpu_seconds(server.pid, data_dir)
        single = run_wrk(
            sync, LUA_SINGLE, args.duration, args.connections, phase=f"w{workers}", ack_dir=ack_dir
        )
        after = cpu_seconds(server.pid, data_dir)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    cpu = (after[0] - before[0], after[1] - before[1])
    return Scaling(workers, single, cpu)  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=15, help="seconds per phase")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--copy-rows", type=int, default=200_000)
    parser.add_argument(
        "--check",
        action="store_true",
        help="tiny run (2 s phases after a 3 s warm-up, 8 connections) for the test suite: exits non-zero on any "
        "acknowledged event lost or stored twice",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="LEADTRAIL_X=VALUE",
        help="extra setting for the server (repeatable), e.g. LEADTRAIL_REALTIME_ENABLED=false",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also measure `serve --workers N` against `serve --workers 1` (both with rate limits in a "
        "throwaway redis-server): single-event throughput and requests per server CPU-second",
    )
    args = parser.parse_args()
    if args.check:
        args.duration, args.connections, args.copy_rows = 2, 8, 2000
    print_machine_line()

    data_dir = Path(tempfile.mkdtemp(prefix="lt-bench-"))
    ack_dir = data_dir / "acks"
    ack_dir.mkdir()
    port = free_port()
    env = server_env(data_dir, *args.env)
    # This process holds the embedded PostgreSQL too, so it outlives the server: the events
    # are reconciled after the server has stopped and its writer has drained.
    embedded = EmbeddedPostgres(data_dir)
    dsn = await asyncio.to_thread(embedded.start)
    try:
        create_bench_site(env)
        server = subprocess.Popen([sys.executable, "-m", "leadtrail", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        sync = f"{url}/api/sync"
        try:
            await wait_ready(f"{url}/readyz", server)
            with PeakMemory(server.pid, data_dir) as memory:
                run_wrk(
                    sync,
                    LUA_SINGLE,
                    min(3, args.duration),
                    args.connections,
                    phase="warm",
                    ack_dir=ack_dir,
                )
                cpu0 = cpu_seconds(server.pid, data_dir)
                single = run_wrk(
                    sync,
                    LUA_SINGLE,
                    args.duration,
                    args.connections,
                    phase="single",
                    ack_dir=ack_dir,
                )
                cpu1 = cpu_seconds(server.pid, data_dir)
                batch = run_wrk(
                    sync, LUA_BATCH, args.duration, args.connections, phase="batch", ack_dir=ack_dir
                )
                cpu2 = cpu_seconds(server.pid, data_dir)
                paced = run_wrk(
                    sync,
                    LUA_SINGLE + lua_paced(max(single.rps, 2.0) / 2, args.connections),
                    args.duration,
                    args.connections,
                    phase="paced",
                    ack_dir=ack_dir,
                )
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
        scaling: list[Scaling] = []
        if args.workers > 1:
            with redis_server() as redis_url:
                shared = env | {"LEADTRAIL_REDIS_URL": redis_url}
                for n in (1, args.workers):
                    scaling.append(await scaling_run(n, shared, args, ack_dir, data_dir))
        counted = await reconcile(dsn, ack_dir)
        conn = await asyncpg.connect(dsn)
        site_id = await conn.fetchval("SELECT id FROM sites WHERE public_id = 'bench'")
        await conn.close()
        copy_rate = await copy_baseline(dsn, site_id, args.copy_rows)
    finally:
        await asyncio.to_thread(embedded.stop)

    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port)])
    try:
        await wait_ready(f"http://127.0.0.1:{bare_port}/", bare)
        bare_single = run_wrk(f"http://127.0.0.1:{bare_port}/api/sync", LUA_SINGLE, args.duration,
                              args.connections, phase="bare", ack_dir=ack_dir)  # fmt: skip
    finally:
        bare.send_signal(signal.SIGINT)
        bare.wait(timeout=30)
    discard(data_dir)

    single_cpu = [(b - a) / max(single.requests, 1) * 1e6 for a, b in zip(cpu0, cpu1, strict=True)]
    batch_cpu = [
        (b - a) / max(batch.requests * 20, 1) * 1e6 for a, b in zip(cpu1, cpu2, strict=True)
    ]
    results = {
        "single_rps": single.rps, "single_p50_ms": single.p50_ms, "single_p99_ms": single.p99_ms,
        "batch_events_per_s": batch.rps * 20, "batch_p99_ms": batch.p99_ms,
        "half_load_rps": paced.rps, "half_load_p50_ms": paced.p50_ms, "half_load_p99_ms": paced.p99_ms,
        "server_peak_rss_mb": memory.server_mb, "postgres_peak_rss_mb": memory.postgres_mb,
        "bare_asgi_rps": bare_single.rps, "copy_rows_per_s": copy_rate,
        "non2xx": single.non2xx + batch.non2xx + paced.non2xx,
        "socket_errors": single.errors + batch.errors + paced.errors,
        "acknowledged_events": counted.acknowledged, "stored_events": counted.stored,
        "lost_events": len(counted.lost), "duplicated_events": len(counted.duplicated),
        "stored_unacknowledged_events": counted.unacknowledged,
        "single_cpu_us_per_event": single_cpu, "batch_cpu_us_per_event": batch_cpu,
    }  # fmt: skip
    print()
    print(
        f"{'ratio to the baseline of this run':42} {'ratio':>7} {'leadtrail':>12} {'baseline':>12}"
    )
    print(
        f"{'single-event requests/s':42} {single.rps / bare_single.rps:7.2f} {single.rps:12,.0f} {bare_single.rps:12,.0f}  (baseline: bare ASGI handler)"
    )
    print(
        f"{'events/s in batches of 20':42} {batch.rps * 20 / copy_rate:7.2f} {batch.rps * 20:12,.0f} {copy_rate:12,.0f}  (baseline: raw COPY of the same rows)"
    )
    print()
    print(
        f"{'single-event p50 / p99 ms (full load)':42} {single.p50_ms:6.1f}/{single.p99_ms:5.1f}   bare ASGI {bare_single.p50_ms:.1f}/{bare_single.p99_ms:.1f}"
    )
    print(f"{'batch p50 / p99 ms (full load)':42} {batch.p50_ms:6.1f}/{batch.p99_ms:5.1f}")
    print(
        f"{'p50 / p99 ms at half load':42} {paced.p50_ms:6.1f}/{paced.p99_ms:5.1f}   ({paced.rps:,.0f} requests/s)"
    )
    print(
        f"{'CPU us/event, single (leadtrail / postgres)':42} {single_cpu[0]:6.0f} / {single_cpu[1]:4.0f}"
    )
    print(
        f"{'CPU us/event, batches (leadtrail / postgres)':42} {batch_cpu[0]:6.0f} / {batch_cpu[1]:4.0f}"
    )
    print(
        f"{'peak RSS MB during load (server / postgres)':42} {memory.server_mb:6.0f} / {memory.postgres_mb:4.0f}   (sampled every 100 ms; postgres sums its processes, shared buffers counted in each)"
    )
    if scaling:
        one, many = scaling
        results["scaling"] = {
            f"w{x.workers}": {"rps": x.single.rps, "requests_per_cpu_second": x.per_cpu_second,
                              "leadtrail_cpu_s": x.cpu[0], "postgres_cpu_s": x.cpu[1], "p99_ms": x.single.p99_ms}
            for x in scaling
        }  # fmt: skip
        print()
        print(
            f"{'API workers (rate limits in Redis in both)':42} {'ratio':>7} {f'{many.workers} workers':>12} {'1 worker':>12}"
        )
        print(
            f"{'single-event requests/s':42} {many.single.rps / one.single.rps:7.2f} {many.single.rps:12,.0f} {one.single.rps:12,.0f}"
        )
        print(
            f"{'requests per server CPU-second (per core)':42} {many.per_cpu_second / one.per_cpu_second:7.2f} "
            f"{many.per_cpu_second:12,.0f} {one.per_cpu_second:12,.0f}  (server: leadtrail + postgres; target >= 0.90)"
        )
        print(
            f"{'CPU s leadtrail / postgres':42} {'':7} {many.cpu[0]:5.1f}/{many.cpu[1]:5.1f} {one.cpu[0]:6.1f}/{one.cpu[1]:5.1f}"
        )
    print(
        f"{'non-2xx answers / socket errors':42} {results['non2xx']:12d} {results['socket_errors']:12d}"
    )
    print(
        f"{'events acknowledged / stored':42} {counted.acknowledged:12,d} {counted.stored:12,d}   "
        f"lost {len(counted.lost)}, duplicated {len(counted.duplicated)}, stored but never acknowledged "
        f"(in flight when a phase stopped) {counted.unacknowledged}"
    )
    print("\nJSON " + json.dumps(results))
    if not counted.ok:
        print(
            f"EXACTLY-ONCE FAILED: {len(counted.lost)} acknowledged event(s) lost "
            f"{counted.lost[:5]}, {len(counted.duplicated)} stored twice {counted.duplicated[:5]}"
        )
        return 1
    print("exactly once: every acknowledged event is stored once")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
