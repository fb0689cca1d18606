"""Every periodic job and leader service of a process, registered with the scheduler.

Add a job with one line in ``register`` (or in ``build_services``)::

    svc.scheduler.add(Job("retention", 3600, simple(retention.run_once)))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from leadtrail.config import Settings
from leadtrail.heartbeats import service as heartbeats
from leadtrail.scheduling import Job, JobRun, check_current_fence, simple
from leadtrail.scheduling.lease import Q as LEASE_Q
from leadtrail.storage import Database
from leadtrail.storage.housekeeping import prune_server_logs
from leadtrail.web.heartbeat_reporters import add_reporters
from leadtrail.webhooks.outbox import Q as WEBHOOK_Q
from leadtrail.webhooks.secrets import SecretBox
from leadtrail.webhooks.sender import SenderConfig, WebhookSender

if TYPE_CHECKING:
    from leadtrail.web.services import Services

PARTITION_CHECK_SECONDS = 6 * 3600
WEBHOOK_HOUSEKEEPING_SECONDS = 3600
LOG_HOUSEKEEPING_SECONDS = 600


def webhook_sender(settings: Settings, db: Database) -> WebhookSender:
    from leadtrail.auth.signing import signing_key

    return WebhookSender(
        db,
        SecretBox(signing_key(settings)),
        SenderConfig(
            timeout=settings.webhook_timeout,
            retry_base=settings.webhook_retry_base,
            retry_cap=settings.webhook_retry_cap,
            retry_window=settings.webhook_retry_window,
            busy_interval=settings.webhook_busy_interval,
            idle_interval=settings.webhook_idle_interval,
            dashboard_url=settings.base_url,
        ),
    )


def register(svc: Services) -> None:
    """The jobs every leadtrail process offers to run when it leads."""
    s, db, sched = svc.settings, svc.db, svc.scheduler

    async def partitions(_: JobRun) -> None:
        async with db.system() as conn, conn.transaction():
            await check_current_fence(conn)
            await conn.execute("SELECT leadtrail.ensure_partitions($1)", s.partitions_ahead)

    async def cleanup(_: JobRun) -> None:
        await heartbeats.cleanup(
            db, keep_seconds=s.heartbeat_keep, forget_seconds=s.heartbeat_forget_after
        )

    async def webhook_housekeeping(_: JobRun) -> None:
        async with db.system() as conn, conn.transaction():
            await check_current_fence(conn)
            await conn.execute(WEBHOOK_Q.housekeeping, s.webhook_keep)

    async def logs(_: JobRun) -> None:
        if db.embedded is not None:
            prune_server_logs(db.embedded.pgdata / "log", keep=s.embedded_log_keep_files)

    sched.add(Job("partition-upkeep", PARTITION_CHECK_SECONDS, partitions))
    sched.add(Job("rollups", s.rollup_interval, simple(svc.rollups.run_once)))
    if s.identity_resolve_interval > 0:
        sched.add(
            Job(
                "identity-resolver",
                s.identity_resolve_interval,
                simple(svc.identity_resolver.run_once),
            )
        )
    sched.add(Job("heartbeat-cleanup", s.heartbeat_cleanup_interval, cleanup))
    sched.add(Job("webhook-housekeeping", WEBHOOK_HOUSEKEEPING_SECONDS, webhook_housekeeping))
    sched.add(Job("log-housekeeping", LOG_HOUSEKEEPING_SECONDS, logs))
    if s.scheduler_probe_interval > 0:
        sched.add(
            Job(
                "probe",
                s.scheduler_probe_interval,
                probe(db, s.scheduler_probe_hold),
                catch_up=True,
            )
        )
    sched.add_service(svc.webhook_sender)
    add_reporters(svc)


def probe(db: Database, hold: float) -> Callable[[JobRun], Awaitable[None]]:
    """The canary: one fenced transaction per period that records it, waits ``hold``
    seconds (so two overlapping runs would be visible) and marks the period done."""

    async def run(r: JobRun) -> None:
        async with db.system() as conn, conn.transaction():
            await r.fence.check(conn)
            await conn.execute(LEASE_Q.probe, r.period, r.fence.token, r.fence.holder)
            await conn.execute("SELECT pg_sleep($1)", hold)
            await conn.execute(LEASE_Q.probe_finish, r.period)
            await r.complete(conn)

    return run
