"""CPU an idle ``leadtrail serve`` uses: the server process plus its embedded PostgreSQL.

    python bench/idle_cpu.py [--settle 15] [--seconds 60] [--feed-off-only] [--env K=V]
    python bench/idle_cpu.py --check     # a few seconds: runs, prints, and stays under a bound

Starts a server on a fresh embedded database with default settings (change feed, scheduler
and its jobs, heartbeats, webhook sender all on), waits ``--settle`` seconds, then reads the
CPU time of the server and of every PostgreSQL process of its cluster from /proc over
``--seconds``. Baseline in the same run: the same server with the change feed turned off
(LEADTRAIL_REALTIME_ENABLED=false). Also reports how much the server log and the
PostgreSQL log grew while idle, and how often the processes woke up (voluntary context
switches: each is a sleep that ended, a poll, a timer, a query). Target: under 2 % of one core.

``--check`` measures the server with the change feed off (the part this benchmark guards;
the feed has its own, bench/feed_cost.py) for a few seconds and exits 1 if it used more than
``CHECK_BOUND`` % of a core: generous, so a shared, loaded machine does not fail it, yet an
idle loop that starts spinning does.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from bench.scratch import discard

TICK = os.sysconf("SC_CLK_TCK")
CHECK_BOUND = 15.0


def wakeups(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def children(parent: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == parent:
                out.append(int(entry.name))
    return out


def group(server: int, data_dir: Path) -> list[int]:
    postmaster = int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    return [server, postmaster, *children(postmaster)]


def log_bytes(data_dir: Path, server_log: Path) -> int:
    pg = sum(p.stat().st_size for p in (data_dir / "pg" / "log").glob("*.log"))
    return pg + server_log.stat().st_size


@dataclass
class Idle:
    cpu: float  # % of one core
    log_rate: float  # bytes/s
    server_wakeups: float  # per second
    pg_wakeups: float  # per second, all PostgreSQL processes


def measure(settle: float, seconds: float, extra: dict[str, str]) -> Idle:
    data_dir = Path(tempfile.mkdtemp(prefix="lt-idle-"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADTRAIL_")}
    env |= {"LEADTRAIL_DATA_DIR": str(data_dir), "LEADTRAIL_PORT": str(port), **extra}
    server_log = data_dir / "server.log"
    with open(server_log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "leadtrail", "serve"], env=env, stdout=out, stderr=out
        )
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(settle)
        pids = group(proc.pid, data_dir)
        before = {p: cpu_seconds(p) for p in pids}
        woke = {p: wakeups(p) for p in pids}
        logs_before = log_bytes(data_dir, server_log)
        t0 = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - t0
        pids = sorted(set(pids) | set(group(proc.pid, data_dir)))
        used = sum(cpu_seconds(p) - before.get(p, 0.0) for p in pids)
        grown = log_bytes(data_dir, server_log) - logs_before
        server_woke = wakeups(proc.pid) - woke.get(proc.pid, 0)
        pg_woke = sum(wakeups(p) - woke.get(p, 0) for p in pids if p != proc.pid)
        return Idle(100 * used / wall, grown / wall, server_woke / wall, pg_woke / wall)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        discard(data_dir)


def line(label: str, m: Idle) -> str:
    return (
        f"{label:<30} {m.cpu:5.2f} % of a core, logs grow {m.log_rate:7.1f} B/s, wake-ups/s: "
        f"server {m.server_wakeups:6.1f}, PostgreSQL {m.pg_wakeups:6.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settle", type=float, default=15)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--feed-off-only", action="store_true", help="skip the feed-on run")
    parser.add_argument("--env", action="append", default=[], help="K=V for the server")
    parser.add_argument("--check", action="store_true", help=f"short; fail over {CHECK_BOUND} %")
    args = parser.parse_args()
    extra = dict(kv.split("=", 1) for kv in args.env)
    print_machine_line()
    off = {"LEADTRAIL_REALTIME_ENABLED": "false", **extra}
    if args.check:
        base = measure(3, 5, off)
        print(line("change feed off (check):", base))
        if base.cpu > CHECK_BOUND:
            print(f"IDLE CPU CHECK FAILED: {base.cpu:.2f} % of a core > {CHECK_BOUND} %")
            sys.exit(1)
        print(f"idle CPU under the check bound of {CHECK_BOUND} % of a core")
        return
    base = measure(args.settle, args.seconds, off)
    print(line("baseline, change feed off:", base))
    if args.feed_off_only:
        return
    full = measure(args.settle, args.seconds, extra)
    print(line("idle server, everything on:", full))
    ratio = full.cpu / base.cpu if base.cpu else float("inf")
    print(f"ratio (on / off): {ratio:.2f}; target < 2 % of a core")


if __name__ == "__main__":
    main()
