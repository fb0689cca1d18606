"""Webhook delivery latency (commit -> receiver) and what webhooks cost the fact path.

    python bench/webhooks.py [--rate 500] [--seconds 10] [--rounds 2] [--check] [--one-process]

On a fresh embedded PostgreSQL: leads stored with ``submit_lead`` (the lead insert and its
outbox row in one transaction) by this process, and the real sender (a leader service under
a real lease) in a process of its own (``--sender``), as the worker role runs it beside the
API workers of ``leadtrail serve --workers N`` (docs/processes.md): the ingest path and the
sender do not share one event loop. ``--one-process`` runs the sender on this process's
loop instead, as a one-process ``leadtrail serve`` does. The receiver runs in its OWN
process (``--receiver``, a uvicorn app) and verifies every signature with
``standardwebhooks``; arrival times use CLOCK_MONOTONIC, which all processes of the machine
share.

Every phase offers the same load: leads paced at ``--rate`` per second for ``--seconds``,
at most 32 being stored at once (a machine that cannot keep up stores fewer per second,
which is the throughput figure, and builds no backlog that would spill into the next phase).

* on: the site has an endpoint subscribed to ``lead.created``, the sender runs and the
  receiver consumes; the latency of each delivery (its COMMIT returning -> the receiver
  reading it) is measured after the first 20 % of the phase (steady state), p50 / p99;
* off: no enabled endpoint (so no outbox rows) and no sender.

After an uncounted warm-up, phases alternate on, off, off, on, … (``--rounds``, so neither
side always goes first); after an "on" phase the backlog is
drained before the next phase starts, so neither side pays for the other's work. The figure
is leads stored per second on / off (target >= 0.9), plus each side's commit latency, the
leads/s of every phase in order, and the CPU per stored lead of every process of the run
(driver, sender, receiver, the PostgreSQL cluster; Linux /proc) on vs off: the share a
delivery costs, which the throughput ratio tends to when the machine's CPU is the limit.

``--check``: tiny sizes, a few seconds; exits 1 if a delivery is lost or duplicated or a
signature fails to verify.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from bench.scratch import discard

T = TypeVar("T")
KEY = b"bench-webhooks"
#: leads being stored at once (the writer's pool is 10 connections)
IN_FLIGHT = 32


# -- the receiver process ---------------------------------------------------------------------


def receiver_main(port: int) -> None:
    """Verify, record the arrival time per webhook-id, answer 204; GET /stats tells all."""
    import uvicorn
    from standardwebhooks.webhooks import Webhook
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    signer = Webhook(os.environ["BENCH_WEBHOOK_SECRET"])
    arrivals: dict[str, list[Any]] = {}  # webhook-id -> [email, first arrival, count]
    bad = 0

    async def hook(request: Request) -> Response:
        nonlocal bad
        at = time.monotonic()
        body = await request.body()
        try:
            payload = signer.verify(body, dict(request.headers))
        except Exception:
            bad += 1
            return Response(status_code=400)
        seen = arrivals.get(request.headers["webhook-id"])
        if seen is None:
            arrivals[request.headers["webhook-id"]] = [payload["data"]["email"], at, 1]
        else:
            seen[2] += 1
        return Response(status_code=204)

    async def stats(_: Request) -> Response:
        return JSONResponse({"arrivals": arrivals, "bad_signatures": bad})

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"]), Route("/stats", stats)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the sender process -----------------------------------------------------------------------


def run_like_serve(main: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop, as ``leadtrail serve`` does (server_config.py), in every process of the
    product: the lead path and the sender, on and off alike."""
    import uvloop

    return uvloop.run(main)


def new_sender(db: Any, box: Any) -> Any:
    """The product's sender with the default settings (fast retries for the bench)."""
    from leadtrail.config import Settings
    from leadtrail.webhooks.sender import SenderConfig, WebhookSender

    defaults = Settings()
    return WebhookSender(
        db,
        box,
        SenderConfig(
            defaults.webhook_timeout, 1, 60, 86400, defaults.webhook_busy_interval,
            defaults.webhook_idle_interval, "http://127.0.0.1",
        ),
    )  # fmt: skip


def sender_main() -> None:
    """The sender on an event loop of its own: ``start LEASE TOKEN HOLDER`` / ``stop`` lines
    on stdin (the driver's lease, so every write is fenced as in production), ``ok`` back."""

    async def serve() -> None:
        from leadtrail.config import Settings
        from leadtrail.scheduling import Fence
        from leadtrail.storage import Database
        from leadtrail.webhooks.secrets import SecretBox

        env = os.environ
        settings = Settings(data_dir=Path(env["BENCH_DATA_DIR"]), secret_key="bench")
        db = await Database.open(
            settings, migrate=False, dsn=env["BENCH_DSN"], app_dsn=env["BENCH_APP_DSN"]
        )
        sender = new_sender(db, SecretBox(KEY))
        stdin = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
        try:
            print("ready", flush=True)
            while words := (await stdin.readline()).decode().split():
                if words[0] == "start":
                    await sender.start_leading(Fence(words[1], int(words[2]), words[3]))
                else:
                    await sender.stop_leading()
                print("ok", flush=True)
        finally:
            await sender.stop_leading()
            await db.close()

    run_like_serve(serve())


class RemoteSender:
    """The driver's handle on the ``--sender`` process: the same calls as WebhookSender."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def spawn(cls, db: Any, data_dir: Path) -> RemoteSender:
        from leadtrail.storage.database import APP_ROLE

        assert db.embedded is not None
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--sender",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=os.environ | {
                "BENCH_DATA_DIR": str(data_dir), "BENCH_DSN": db.dsn,
                "BENCH_APP_DSN": db.embedded.dsn(user=APP_ROLE),
            },
        )  # fmt: skip
        remote = cls(proc)
        await remote._reply("ready")
        return remote

    async def _reply(self, expected: str) -> None:
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 60)).decode().strip()
        if line != expected:
            raise RuntimeError(f"sender process said {line!r}, not {expected!r}")

    async def _say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()
        await self._reply("ok")

    async def start_leading(self, fence: Any) -> None:
        await self._say(f"start {fence.lease} {fence.token} {fence.holder}")

    async def stop_leading(self) -> None:
        await self._say("stop")

    async def close(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


# -- the driver -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process so far (0 when it is gone or not Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_snapshot(parts: dict[str, list[int]]) -> dict[str, dict[int, float]]:
    return {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in parts.items()}


def cpu_spent(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds per part between two snapshots (a process that exited meanwhile, such as an
    autovacuum worker, is not counted; one that started counts whole)."""
    return {
        name: sum(t - before[name].get(pid, 0.0) for pid, t in after[name].items())
        for name in after
    }


@dataclass
class Phase:
    webhooks: bool
    stored: int = 0
    elapsed: float = 0.0
    commit_ms: list[float] = field(default_factory=list)
    committed: dict[str, float] = field(default_factory=dict)  # email -> commit time
    steady_after: float = 0.0
    #: CPU seconds of each process of the run over the phase (and an "on" phase's drain)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.stored / self.elapsed if self.elapsed else 0.0


async def run(args: argparse.Namespace) -> int:
    from leadtrail.auth.users import create_user
    from leadtrail.config import Settings
    from leadtrail.leads.service import LeadInput, submit_lead
    from leadtrail.scheduling import Lease
    from leadtrail.sites.service import create_site
    from leadtrail.storage import Claims, Database, DbRole
    from leadtrail.webhooks import service as webhooks
    from leadtrail.webhooks.secrets import SecretBox

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="lt-hooks-")), secret_key="bench")
    db = await Database.open(settings)
    receiver: subprocess.Popen[bytes] | None = None
    remote: RemoteSender | None = None
    try:
        async with db.system() as conn:
            user = await create_user(conn, "bench@example.com", "correct horse battery")
            site = await create_site(conn, name="Bench", domain="bench.example", owner_id=user.id)
        claims = Claims(role=DbRole.ADMIN, sub="bench", site_ids=(site.id,))
        box = SecretBox(KEY)
        port = free_port()
        async with db.transaction(claims) as conn:
            ep = await webhooks.create_endpoint(
                conn, box, site.id, url=f"http://127.0.0.1:{port}/hook", events=["lead.created"],
                format="standard", description=None, max_concurrency=16,
            )  # fmt: skip
        receiver = subprocess.Popen(
            [sys.executable, __file__, "--receiver", str(port)],
            env=os.environ | {"BENCH_WEBHOOK_SECRET": ep["secret"]},
        )
        stats_url = f"http://127.0.0.1:{port}/stats"
        for _ in range(300):
            try:
                get_json(stats_url)
                break
            except OSError:
                await asyncio.sleep(0.1)
        fence = await Lease(db, "scheduler", "bench", 3600).acquire()
        assert fence is not None
        if args.one_process:
            sender = new_sender(db, box)
        else:
            sender = remote = await RemoteSender.spawn(db, settings.data_dir)

        async def enable(on: bool) -> None:
            async with db.transaction(claims) as conn:
                await webhooks.update_endpoint(conn, site.id, ep["id"], {"enabled": on})

        def lead(tag: str) -> LeadInput:
            return LeadInput(
                external_lead_id=tag, session_id=None, fingerprint=None, form_type="contact",
                name=None, email=f"{tag}@example.com", phone=None, company=None, message=None,
                value=None, currency=None, submitted_at=datetime.now(UTC),
            )  # fmt: skip

        async def store(phase: Phase, tag: str) -> None:
            began = time.monotonic()
            async with db.transaction(claims) as conn:
                await submit_lead(conn, site.id, lead(tag), lookback_minutes=60, actor="bench")  # type: ignore[arg-type]
            done = time.monotonic()
            phase.commit_ms.append((done - began) * 1000)
            phase.committed[f"{tag}@example.com"] = done
            phase.stored += 1

        async def paced(phase: Phase, label: str) -> None:
            """Offer ``rate`` leads/s for ``seconds``, at most IN_FLIGHT at once: a machine
            that cannot keep up stores fewer (the throughput), never builds a backlog."""
            slots = asyncio.Semaphore(IN_FLIGHT)
            start = time.monotonic()
            end = start + args.seconds
            phase.steady_after = start + 0.2 * args.seconds
            tasks = []

            async def one(tag: str) -> None:
                try:
                    await store(phase, tag)
                finally:
                    slots.release()

            for n in range(int(args.rate * args.seconds)):
                due = start + n / args.rate
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await slots.acquire()
                if time.monotonic() >= end:
                    slots.release()
                    break
                tasks.append(asyncio.create_task(one(f"{label}-{n}")))
            await asyncio.gather(*tasks)
            phase.elapsed = time.monotonic() - start

        postmaster = int((db.embedded.pgdata / "postmaster.pid").read_text().split()[0])

        def parts() -> dict[str, list[int]]:
            """The processes whose CPU a phase is charged: ours and the cluster's."""
            return {
                "driver": [os.getpid()],
                "sender": [remote.proc.pid] if remote is not None else [],
                "receiver": [receiver.pid] if receiver is not None else [],
                "postgres": [postmaster, *children(postmaster)],
            }

        # warm-up (not counted): a fresh database's first seconds are slower for either side
        await enable(False)
        warm = Phase(webhooks=False)
        await paced(warm, "warm")
        phases: list[Phase] = []
        for r in range(args.rounds):
            for on in (True, False) if r % 2 == 0 else (False, True):
                phase = Phase(webhooks=on)
                await enable(on)
                if on:
                    await sender.start_leading(fence)
                before = cpu_snapshot(parts())
                await paced(phase, f"r{r}{'on' if on else 'off'}")
                if on:
                    expected = len(phase.committed)
                    deadline = time.monotonic() + 120
                    while time.monotonic() < deadline:
                        got = get_json(stats_url)["arrivals"]
                        mine = [v for v in got.values() if v[0] in phase.committed]
                        async with db.system() as conn:
                            left = await conn.fetchval(
                                "SELECT (SELECT count(*) FROM webhook_outbox)"
                                " + (SELECT count(*) FROM webhook_deliveries"
                                " WHERE status = 'pending')"
                            )
                        if len(mine) >= expected and left == 0:
                            break
                        await asyncio.sleep(0.1)
                phase.cpu = cpu_spent(before, cpu_snapshot(parts()))
                if on:
                    await sender.stop_leading()
                phases.append(phase)

        stats = get_json(stats_url)
        arrivals = stats["arrivals"]
        by_email = {v[0]: v for v in arrivals.values()}
        on_phases = [p for p in phases if p.webhooks]
        off_phases = [p for p in phases if not p.webhooks]
        expected = {e for p in on_phases for e in p.committed}
        lost = sorted(expected - set(by_email))
        duplicated = sum(v[2] - 1 for v in arrivals.values())
        unexpected = sorted(set(by_email) - expected)
        latency = [
            (by_email[e][1] - t) * 1000
            for p in on_phases
            for e, t in p.committed.items()
            if e in by_email and t >= p.steady_after
        ]
        on_rate = statistics.fmean(p.rate for p in on_phases)
        off_rate = statistics.fmean(p.rate for p in off_phases)
        on_commit = [x for p in on_phases for x in p.commit_ms]
        off_commit = [x for p in off_phases for x in p.commit_ms]
        print(
            f"ingest with webhooks on / off at {args.rate:.0f} leads/s offered: "
            f"ratio {on_rate / off_rate:.3f} (target >= 0.9)"
        )
        print(
            f"leads stored per second: on {on_rate:.1f}, off {off_rate:.1f} "
            f"({args.rounds} round(s) of {args.seconds:.0f} s each side, alternating; sender "
            f"{'on the driver loop' if args.one_process else 'in its own process'})"
        )
        print(
            "leads stored per second by phase, in order: "
            + ", ".join(f"{'on' if p.webhooks else 'off'} {p.rate:.1f}" for p in phases)
        )

        def per_lead(side: list[Phase]) -> dict[str, float]:
            stored = sum(p.stored for p in side)
            return {k: sum(p.cpu[k] for p in side) * 1000 / stored for k in side[0].cpu}

        cpu_on, cpu_off = per_lead(on_phases), per_lead(off_phases)
        for label, cost in (("on", cpu_on), ("off", cpu_off)):
            print(
                f"CPU per stored lead, {label}: {sum(cost.values()):.2f} ms ("
                + ", ".join(f"{k} {v:.2f}" for k, v in cost.items())
                + ")"
            )
        print(
            f"CPU per lead off / on: {sum(cpu_off.values()) / sum(cpu_on.values()):.3f} "
            "(what the ratio tends to on a machine whose CPU is the limit, whatever else runs)"
        )
        print(
            f"lead transaction (BEGIN -> COMMIT returned) p50/p99: on "
            f"{quantile(on_commit, 0.5):.1f}/{quantile(on_commit, 0.99):.1f} ms, off "
            f"{quantile(off_commit, 0.5):.1f}/{quantile(off_commit, 0.99):.1f} ms"
        )
        print(
            f"delivery latency (COMMIT -> receiver, other process) at steady state: p50 "
            f"{quantile(latency, 0.5):.1f} ms, p99 {quantile(latency, 0.99):.1f} ms "
            f"({len(latency)} deliveries after the first 20 % of each phase)"
        )
        print(
            f"deliveries: {len(expected)} expected, {len(lost)} lost, {duplicated} duplicated, "
            f"{len(unexpected)} unexpected, {stats['bad_signatures']} bad signatures "
            f"(verified with standardwebhooks in the receiver process)"
        )
        ok = not lost and not duplicated and not unexpected and not stats["bad_signatures"]
        if not ok:
            print(f"WEBHOOK CHECK FAILED: lost {lost[:5]}, unexpected {unexpected[:5]}")
        return 0 if ok else 1
    finally:
        if remote is not None:
            await remote.close()
        if receiver is not None:
            receiver.send_signal(signal.SIGTERM)
            receiver.wait(timeout=30)
        await db.close()
        discard(settings.data_dir)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="tiny sizes; exit 1 on any loss")
    parser.add_argument(
        "--one-process", action="store_true", help="the sender on the driver's event loop"
    )
    parser.add_argument("--receiver", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--sender", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver_main(args.receiver)
        return
    if args.sender:
        sender_main()
        return
    if args.check:
        args.rate, args.seconds, args.rounds = 100, 2, 1
    print_machine_line()
    sys.exit(run_like_serve(run(args)))


if __name__ == "__main__":
    main()
