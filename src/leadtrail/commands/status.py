"""``leadtrail status``: components and their last beats, the leader, lag, queue depths
and last errors, read straight from the database (works with no server running)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
import orjson

from leadtrail.config import Settings
from leadtrail.errors import LeadtrailError
from leadtrail.heartbeats import service as heartbeats
from leadtrail.scheduling.lease import Q as LEASE_Q
from leadtrail.webhooks.outbox import Q as WEBHOOK_Q


async def gather(db: Any, dead_after: float) -> dict[str, Any]:
    health = await heartbeats.system_health(db, None, dead_after=dead_after, include_system=True)
    async with db.system() as conn:
        leases = [dict(r) for r in await conn.fetch(LEASE_Q.lease_info)]
        jobs = [dict(r) for r in await conn.fetch(LEASE_Q.jobs)]
        depths = dict(await conn.fetchrow(WEBHOOK_Q.queue_depths) or {})
        depths["identity_dirty_people"] = await conn.fetchval(
            "SELECT count(*) FROM leadtrail.people_dirty"
        )
        depths["rollup_dirty_hours"] = await conn.fetchval(
            "SELECT count(*) FROM leadtrail.rollup_dirty"
        )
        lag = await conn.fetchval(
            "SELECT extract(epoch FROM clock_timestamp() - max(last_position))::float8 "
            "FROM leadtrail.realtime_nodes"
        )
    return {
        "health": health,
        "leases": leases,
        "jobs": jobs,
        "queues": depths,
        "realtime_seconds_since_last_change": lag,
    }


def render(s: dict[str, Any]) -> None:
    health = s["health"]
    click.echo(f"overall: {health['status']}")
    for lease in s["leases"]:
        live = "live" if lease["live"] else "expired"
        click.echo(f"leader ({lease['name']}): {lease['holder']} token {lease['token']} ({live})")
    click.echo("components:")
    for c in health["components"]:
        metrics = c["metrics"] or {}
        extra = ", ".join(
            f"{k}={metrics[k]}"
            for k in (
                "role",
                "queue_depth",
                "outbox",
                "dead",
                "errors",
                "seconds_since_last_change",
            )
            if metrics.get(k) is not None
        )
        click.echo(
            f"  {c['component_type']:<18} {c['component_id']:<24} {c['status']:<9} "
            f"{c['seconds_since_heartbeat']:>7.1f}s ago  {extra}"
        )
    click.echo("queues: " + ", ".join(f"{k}={v}" for k, v in s["queues"].items()))
    lag = s["realtime_seconds_since_last_change"]
    click.echo(
        f"realtime: last change logged {lag:.1f}s ago"
        if lag is not None
        else "realtime: no changes logged"
    )
    click.echo("jobs:")
    for j in s["jobs"]:
        err = f"  last error: {j['last_error']}" if j["last_error"] else ""
        click.echo(
            f"  {j['job']:<22} every {j['interval_seconds']:>7g}s  runs {j['runs']:>6}  "
            f"failures {j['failures']}  last by {j['last_node']}{err}"
        )


async def _read(settings: Settings) -> dict[str, Any]:
    from leadtrail.storage import Database

    db = await Database.open(settings, migrate=False)
    try:
        return await gather(db, settings.heartbeat_dead_after)
    finally:
        await db.close()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Components, leader, lag, queue depths and last errors."""
    try:
        settings = Settings()
        state = asyncio.run(_read(settings))
    except LeadtrailError as exc:
        click.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(orjson.dumps(state, default=str, option=orjson.OPT_INDENT_2).decode())
    else:
        render(state)
