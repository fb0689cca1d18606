"""CPU an idle ``leadtrail serve`` uses: the server process plus its embedded PostgreSQL.

    python bench/idle_cpu.py [--settle 15] [--seconds 60]

Starts a server on a fresh embedded database with default settings (change feed, scheduler
and its jobs, heartbeats, webhook sender all on), waits ``--settle`` seconds, then reads the
CPU time of the server and of every PostgreSQL process of its cluster from /proc over
``--seconds``. Baseline in the same run: the same server with the change feed turned off
(LEADTRAIL_REALTIME_ENABLED=false). Also reports how much the server log and the
PostgreSQL log grew while idle. Target: under 2 % of one core.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


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


def measure(settle: float, seconds: float, extra: dict[str, str]) -> tuple[float, float]:
    data_dir = Path(tempfile.mkdtemp(prefix="lt-idle-"))
    port = 8790 + len(extra)
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
        logs_before = log_bytes(data_dir, server_log)
        t0 = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - t0
        pids = sorted(set(pids) | set(group(proc.pid, data_dir)))
        used = sum(cpu_seconds(p) - before.get(p, 0.0) for p in pids)
        grown = log_bytes(data_dir, server_log) - logs_before
        return 100 * used / wall, grown / wall
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settle", type=float, default=15)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    full, full_log = measure(args.settle, args.seconds, {})
    base, base_log = measure(args.settle, args.seconds, {"LEADTRAIL_REALTIME_ENABLED": "false"})
    print(f"idle server, everything on:   {full:5.2f} % of a core, logs grow {full_log:7.1f} B/s")
    print(f"baseline, change feed off:    {base:5.2f} % of a core, logs grow {base_log:7.1f} B/s")
    print(f"ratio (on / off): {full / base if base else float('inf'):.2f}; target < 2 % of a core")


if __name__ == "__main__":
    main()
