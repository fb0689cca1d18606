"""What each of this process's components reports in its heartbeat (real figures: queue
depths, lag, error counts). Leader-only components report their queues on the leader and
``role: standby`` elsewhere."""

from __future__ import annotations

import os
import resource
import time
from typing import TYPE_CHECKING, Any

from leadtrail import __version__
from leadtrail.heartbeats.model import Beat
from leadtrail.scheduling.lease import Q as LEASE_Q
from leadtrail.webhooks.outbox import Q as WEBHOOK_Q

if TYPE_CHECKING:
    from leadtrail.web.services import Services


class _Cpu:
    """Share of one core this process used since the previous reading, in percent."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), _cpu_seconds())

    def read(self) -> float:
        now, cpu = time.monotonic(), _cpu_seconds()
        wall, used = now - self._last[0], cpu - self._last[1]
        self._last = (now, cpu)
        return round(100 * used / wall, 2) if wall > 0 else 0.0


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def add_reporters(svc: Services) -> None:
    node = svc.settings.node
    cpu = _Cpu()
    started = time.time()

    def beat(kind: str, name: str, status: str, metrics: dict[str, Any], **kw: Any) -> Beat:
        return Beat(
            component_type=kind,
            component_id=node,
            component_name=name,
            status=status,
            version=__version__,
            metrics=metrics,
            is_leader=svc.scheduler.is_leader,
            **kw,
        )

    async def api_server() -> Beat:
        return beat(
            "api_server",
            "API server",
            "healthy",
            {"uptime_seconds": round(time.time() - started), "pid": os.getpid()},
            cpu_usage=cpu.read(),
            memory_usage=_rss_mb(),
        )

    async def writer() -> Beat:
        w = svc.ingest.writer
        pending, live = w.pending_events, w.live_workers
        status = "healthy" if live > 0 else "unhealthy"
        if status == "healthy" and pending > svc.settings.ingest_max_pending_events // 2:
            status = "degraded"
        return beat(
            "ingest_writer", "Ingest writer", status, {"queue_depth": pending, "live_workers": live}
        )

    async def feed() -> Beat:
        rt = svc.realtime
        hub = rt.hub if rt else None
        problem = hub.feed_problem if hub else "off"
        lag = None
        if hub is not None and hub.dispatched is not None:
            lag = round(max(0.0, time.time() - hub.dispatched.timestamp()), 3)
        status = "healthy"
        enabled = rt is not None and svc.settings.realtime_enabled  # not in API-only processes
        if problem and enabled:
            status = "unhealthy"
        return beat(
            "realtime_feed",
            "Realtime change feed",
            status,
            {
                "enabled": enabled,
                "problem": problem,
                "seconds_since_last_change": lag,
                "subscribers": hub.subscriber_count() if hub else 0,
            },
        )

    async def scheduler() -> Beat:
        sched = svc.scheduler
        jobs: dict[str, Any] = {}
        if sched.is_leader:
            async with svc.db.system() as conn:
                for r in await conn.fetch(LEASE_Q.jobs):
                    jobs[r["job"]] = {
                        "runs": r["runs"],
                        "failures": r["failures"],
                        "last_finished_at": r["last_finished_at"].isoformat()
                        if r["last_finished_at"]
                        else None,
                        "last_error": r["last_error"],
                    }
        return beat(
            "scheduler",
            "Scheduler",
            "healthy" if not sched.last_error or sched.is_leader else "degraded",
            {
                "role": "leader" if sched.is_leader else "standby",
                "fencing_token": sched.fence.token if sched.fence else None,
                "errors": sched.errors,
                "last_error": sched.last_error,
                "jobs": jobs,
            },
        )

    def leader_job(kind: str, name: str, job: str, depth_sql: str | None) -> Any:
        async def report() -> Beat:
            sched = svc.scheduler
            metrics: dict[str, Any] = {"role": "leader" if sched.is_leader else "standby"}
            if sched.is_leader:
                async with svc.db.system() as conn:
                    if depth_sql:
                        metrics["queue_depth"] = await conn.fetchval(depth_sql)
                    row = await conn.fetchrow(
                        "SELECT runs, failures, last_error, last_finished_at "
                        "FROM leadtrail.scheduler_jobs WHERE job = $1",
                        job,
                    )
                if row is not None:
                    metrics |= {
                        "runs": row["runs"],
                        "errors": row["failures"],
                        "last_error": row["last_error"],
                        "last_run": row["last_finished_at"].isoformat()
                        if row["last_finished_at"]
                        else None,
                    }
            return beat(kind, name, "healthy", metrics)

        report.__name__ = kind
        return report

    async def sender() -> Beat:
        ws = svc.webhook_sender
        metrics: dict[str, Any] = {
            "role": "leader" if svc.scheduler.is_leader else "standby",
            "in_flight": ws.in_flight,
            "delivered": ws.delivered,
            "errors": ws.failures,
            "last_error": ws.last_error,
        }
        status = "healthy"
        if svc.scheduler.is_leader:
            async with svc.db.system() as conn:
                depths = await conn.fetchrow(WEBHOOK_Q.queue_depths)
            assert depths is not None
            metrics |= {
                "outbox": depths["outbox"],
                "queue_depth": depths["pending"],
                "dead": depths["dead"],
            }
            if depths["dead"]:
                status = "degraded"
        return beat("webhook_sender", "Webhook sender", status, metrics)

    hb = svc.heartbeats
    for reporter in (api_server, writer, feed, scheduler, sender):
        hb.add(reporter)
    hb.add(
        leader_job(
            "identity_resolver",
            "Identity resolver",
            "identity-resolver",
            "SELECT count(*) FROM leadtrail.people_dirty",
        )
    )
    hb.add(
        leader_job("rollups", "Rollups", "rollups", "SELECT count(*) FROM leadtrail.rollup_dirty")
    )
