"""Does turning behaviour capture on slow down ordinary ingest? Single-event ``/api/sync``
throughput and CPU per event with the site's capture off and on, in alternating runs.

    .venv/bin/python -m bench.behaviour_ingest [--duration 15] [--rounds 2]
    .venv/bin/python -m bench.behaviour_ingest --check      # short runs, a quick self-test

Each run starts ``leadtrail serve`` on a fresh embedded PostgreSQL with the bench site of
bench/ingest.py, turns capture on for it (``leadtrail behaviour enable``) or leaves it off,
and drives it with wrk (the same Lua bodies as bench/ingest.py phase 1). Off and on alternate
so that load from elsewhere on the machine falls on both. Target: on >= 0.9 x off.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.ingest import (
    LUA_SINGLE,
    cpu_seconds,
    create_bench_site,
    free_port,
    run_wrk,
    server_env,
    wait_ready,
)
from bench.machine import print_machine_line
from bench.scratch import discard

TARGET = 0.9


async def one_run(capture: bool, duration: int, connections: int) -> tuple[float, float, float]:
    """requests/s, leadtrail CPU us/event, PostgreSQL CPU us/event."""
    data_dir = Path(tempfile.mkdtemp(prefix="lt-bench-"))
    env = server_env(data_dir)
    create_bench_site(env)
    leadtrail = [sys.executable, "-m", "leadtrail"]
    if capture:
        subprocess.run(
            [*leadtrail, "behaviour", "enable", "bench"], env=env, check=True, capture_output=True
        )
    port = free_port()
    server = subprocess.Popen([*leadtrail, "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{url}/readyz", server)
        run_wrk(f"{url}/api/sync", LUA_SINGLE, 3, connections)  # warm up
        cpu0 = cpu_seconds(server.pid, data_dir)
        result = run_wrk(f"{url}/api/sync", LUA_SINGLE, duration, connections)
        cpu1 = cpu_seconds(server.pid, data_dir)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        discard(data_dir)
    if result.non2xx or result.errors:
        raise SystemExit(f"{result.non2xx} non-2xx answers, {result.errors} socket errors")
    per = [(b - a) / max(result.requests, 1) * 1e6 for a, b in zip(cpu0, cpu1, strict=True)]
    return result.rps, per[0], per[1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15, help="seconds per run")
    parser.add_argument("--rounds", type=int, default=2, help="off/on pairs")
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--check", action="store_true", help="one short pair: a quick self-test")
    args = parser.parse_args()
    print_machine_line()
    if args.check:
        args.duration, args.rounds = 3, 1
    runs: dict[bool, list[tuple[float, float, float]]] = {False: [], True: []}
    for _ in range(args.rounds):
        for capture in (False, True):
            runs[capture].append(await one_run(capture, args.duration, args.connections))
            rps, cpu, pg = runs[capture][-1]
            print(
                f"capture {'on ' if capture else 'off'}: {rps:8,.0f} requests/s, CPU us/event {cpu:5.0f} leadtrail / {pg:4.0f} postgres"
            )
    off = statistics.median(r[0] for r in runs[False])
    on = statistics.median(r[0] for r in runs[True])
    off_cpu = statistics.median(r[1] + r[2] for r in runs[False])
    on_cpu = statistics.median(r[1] + r[2] for r in runs[True])
    print(f"\n{'single-event requests/s (median)':36} {'off':>9} {'on':>9} {'on/off':>7}")
    print(f"{'throughput':36} {off:9,.0f} {on:9,.0f} {on / off:7.2f}")
    print(
        f"{'CPU us/event (leadtrail + postgres)':36} {off_cpu:9,.0f} {on_cpu:9,.0f} {on_cpu / off_cpu:7.2f}"
    )
    pairs = [
        on_run[0] / off_run[0] for off_run, on_run in zip(runs[False], runs[True], strict=True)
    ]
    cpu_pairs = [
        (b[1] + b[2]) / (a[1] + a[2]) for a, b in zip(runs[False], runs[True], strict=True)
    ]
    print(f"{'on/off throughput per pair':36} " + " ".join(f"{r:.2f}" for r in pairs)
          + f"  (median {statistics.median(pairs):.2f}, spread {min(pairs):.2f}-{max(pairs):.2f})")  # fmt: skip
    print(f"{'on/off CPU per event per pair':36} " + " ".join(f"{r:.2f}" for r in cpu_pairs)
          + f"  (median {statistics.median(cpu_pairs):.2f}, spread {min(cpu_pairs):.2f}-{max(cpu_pairs):.2f})")  # fmt: skip
    print(f"target on/off throughput >= {TARGET}: {'met' if on / off >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    asyncio.run(main())
