"""One scheduler per process; only the holder of the ``scheduler`` lease runs jobs.

Jobs run once per period (``floor(unix time / interval)``). The period a job completed is
stored in ``leadtrail.scheduler_jobs`` and only ever moves forward, so a new leader never
runs a period again; a job with ``catch_up`` also runs the periods missed during a
failover (the newest ``MAX_CATCH_UP`` of them). Leader services (the webhook sender) run
while this node leads and are stopped when it stops leading.

Other packages add work with one line in ``web/services.py``::

    svc.scheduler.add(Job("retention", 3600, retention.run_once))
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from leadtrail.scheduling import metrics
from leadtrail.scheduling.lease import Fence, FenceLost, Lease, Q, current_fence
from leadtrail.storage import Connection, Database

logger = logging.getLogger(__name__)
LEASE_NAME = "scheduler"
MAX_CATCH_UP = 100


class _Idle:
    def __repr__(self) -> str:
        return "IDLE"


#: What a job returns when it found nothing to do: the period counts as done on this leader
#: but nothing is written (an idle poll every second would otherwise commit a row every
#: second). A new leader may run such a period once more, which an idle job must tolerate.
IDLE = _Idle()


@dataclass(frozen=True)
class JobRun:
    """What a job gets: its period and the fence its writes must check."""

    job: str
    period: int
    fence: Fence
    interval: float
    started: float = field(default_factory=time.time)

    async def complete(self, conn: Connection) -> None:
        """Mark the period done inside the job's own fenced transaction (exactly once even
        if the process dies right after the commit); otherwise the scheduler marks it."""
        await conn.execute(
            Q.finish,
            self.job,
            self.interval,
            self.period,
            self.fence.token,
            self.fence.holder,
            _ts(self.started),
            (time.time() - self.started) * 1000,
        )


@dataclass(frozen=True)
class Job:
    name: str
    #: seconds per period
    interval: float
    run: Callable[[JobRun], Awaitable[object]]
    #: after a failover, run every missed period rather than only the current one
    catch_up: bool = False


class LeaderService(Protocol):
    """Runs only while this node leads (started with the fence, stopped on demotion)."""

    name: str

    async def start_leading(self, fence: Fence) -> None: ...

    async def stop_leading(self) -> None: ...


def simple(work: Callable[[], Awaitable[object]]) -> Callable[[JobRun], Awaitable[object]]:
    """A job body for work that takes no arguments (its writes check ``current_fence``)."""

    async def run(_: JobRun) -> object:
        return await work()

    return run


class Scheduler:
    """Component: elects itself leader by lease and runs the jobs on the leader."""

    name = "scheduler"

    def __init__(self, db: Database, node_id: str, *, ttl: float) -> None:
        self._db = db
        self.node_id = node_id
        self.ttl = ttl
        self._lease = Lease(db, LEASE_NAME, node_id, ttl)
        self.jobs: dict[str, Job] = {}
        self.services: list[LeaderService] = []
        self.fence: Fence | None = None
        self._done: dict[str, int] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        #: counts and last error, for heartbeats and ``leadtrail status``
        self.errors = 0
        self.last_error: str | None = None

    # -- registration -------------------------------------------------------------------

    def add(self, job: Job) -> None:
        if job.name in self.jobs:
            raise ValueError(f"job {job.name!r} registered twice")
        if job.interval <= 0:
            raise ValueError(f"job {job.name!r} needs a positive interval")
        self.jobs[job.name] = job

    def add_service(self, service: LeaderService) -> None:
        self.services.append(service)

    @property
    def is_leader(self) -> bool:
        return self.fence is not None

    # -- component ----------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        fence = self.fence
        await self._demote()
        if fence is not None:
            # A clean stop hands over at once instead of after the TTL.
            with contextlib.suppress(Exception):
                await self._lease.release(fence)

    # -- loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        renew_every = self.ttl / 3
        next_renew = 0.0
        while True:
            now = time.monotonic()
            if now >= next_renew:
                renewed_at = now
                try:
                    fence = await self._lease.acquire()
                except Exception as exc:
                    fence = None
                    self._note_error(f"lease: {exc}")
                    if self.fence is not None and time.monotonic() - renewed_at < self.ttl:
                        fence = self.fence  # keep leading until the lease could have run out
                if fence is None or (self.fence is not None and fence.token != self.fence.token):
                    await self._demote()
                if fence is not None and self.fence is None:
                    await self._promote(fence)
                next_renew = renewed_at + (renew_every if self.fence else renew_every / 2)
            if self.fence is not None:
                self._start_due_jobs()
            wait = max(0.01, min(next_renew, self._next_due()) - time.monotonic())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # not wait_for: see realtime/stream.py
                    await self._wake.wait()
            self._wake.clear()

    async def _promote(self, fence: Fence) -> None:
        logger.info("scheduler: %s leads (token %d)", self.node_id, fence.token)
        async with self._db.system() as conn:
            rows = await conn.fetch(Q.job_periods)
        self._done = {r["job"]: int(r["last_period"]) for r in rows if r["last_period"] is not None}
        self.fence = fence
        metrics.LEADER.set(1)
        metrics.TOKEN.set(fence.token)
        for service in self.services:
            try:
                await service.start_leading(fence)
            except Exception as exc:
                self._note_error(f"{service.name}: {exc}")
                logger.exception("scheduler: %s failed to start", service.name)

    async def _demote(self) -> None:
        if self.fence is None:
            return
        logger.info("scheduler: %s no longer leads", self.node_id)
        self.fence = None
        metrics.LEADER.set(0)
        for task in list(self._running.values()):
            task.cancel()
        for task in list(self._running.values()):
            with contextlib.suppress(BaseException):
                await task
        self._running.clear()
        for service in reversed(self.services):
            try:
                await service.stop_leading()
            except Exception:
                logger.exception("scheduler: stopping %s failed", service.name)

    def _next_due(self) -> float:
        """Monotonic time of the next period start of any job (bounded to one second)."""
        if self.fence is None or not self.jobs:
            return time.monotonic() + 1.0
        now = time.time()
        soonest = min((now // j.interval + 1) * j.interval for j in self.jobs.values())
        return time.monotonic() + min(1.0, soonest - now + 0.001)

    def _start_due_jobs(self) -> None:
        fence = self.fence
        assert fence is not None
        now = time.time()
        for job in self.jobs.values():
            if job.name in self._running:
                continue
            current = int(now // job.interval)
            done = self._done.get(job.name)
            if done is not None and done >= current:
                continue
            if job.catch_up and done is not None:
                period = max(done + 1, current - MAX_CATCH_UP + 1)
            else:
                period = current
            run = JobRun(job.name, period, fence, job.interval)
            self._running[job.name] = asyncio.create_task(
                self._run(job, run), name=f"job-{job.name}"
            )

    async def _run(self, job: Job, run: JobRun) -> None:
        token = current_fence.set(run.fence)
        t0 = time.perf_counter()
        try:
            if await job.run(run) is IDLE:
                self._done[job.name] = run.period
                metrics.JOB_RUNS.labels(job.name, "idle").inc()
                return
            async with self._db.system() as conn, conn.transaction():
                await run.fence.check(conn)
                await run.complete(conn)
            self._done[job.name] = run.period
            metrics.JOB_RUNS.labels(job.name, "ok").inc()
        except asyncio.CancelledError:
            raise
        except FenceLost as exc:
            metrics.JOB_RUNS.labels(job.name, "fenced").inc()
            self._note_error(f"{job.name}: {exc}")
            logger.warning("scheduler: %s stopped: %s", job.name, exc)
            self._wake.set()  # renew now: the lease is probably gone
        except Exception as exc:
            metrics.JOB_RUNS.labels(job.name, "error").inc()
            self._note_error(f"{job.name}: {exc}")
            logger.exception("scheduler: job %s failed; retrying next period", job.name)
            # Fail the period forward so a broken job does not spin on one period.
            self._done[job.name] = max(self._done.get(job.name, run.period), run.period)
            with contextlib.suppress(Exception):
                async with self._db.system() as conn:
                    await conn.execute(Q.failed, job.name, job.interval, str(exc)[:500])
        finally:
            metrics.JOB_SECONDS.labels(job.name).observe(time.perf_counter() - t0)
            current_fence.reset(token)
            self._running.pop(job.name, None)
            self._wake.set()

    def _note_error(self, message: str) -> None:
        self.errors += 1
        self.last_error = message[:500]


def _ts(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
