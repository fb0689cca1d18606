"""``leadtrail behaviour``: turn behaviour capture on or off for a site, show its options,
and rebuild the behaviour rollups and funnel rows."""

from __future__ import annotations

import json
from typing import Any

import click


@click.group()
def behaviour() -> None:
    """Behaviour capture (friction, click maps, funnels): docs/behaviour.md."""


@behaviour.command("enable")
@click.argument("site_ref")
@click.option(
    "--sample-rate", type=float, help="Share of sessions captured, above 0 and at most 1."
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="NAME=VALUE",
    help="A detection threshold, e.g. rage_clicks=4 (repeatable).",
)
def enable(site_ref: str, sample_rate: float | None, thresholds: tuple[str, ...]) -> None:
    """Turn capture on for SITE_REF (public id or id)."""
    change: dict[str, Any] = {"enabled": True}
    if sample_rate is not None:
        change["sample_rate"] = sample_rate
    parsed: dict[str, Any] = {}
    for item in thresholds:
        name, _, value = item.partition("=")
        if not value.strip().lstrip("-").isdigit():
            raise click.UsageError(f"--threshold {item!r}: expected NAME=WHOLE_NUMBER")
        parsed[name.strip()] = int(value)
    if parsed:
        change["thresholds"] = parsed
    _change(site_ref, change)


@behaviour.command("disable")
@click.argument("site_ref")
def disable(site_ref: str) -> None:
    """Turn capture off for SITE_REF; stored data stays."""
    _change(site_ref, {"enabled": False})


def _change(site_ref: str, change: dict[str, Any]) -> None:
    from leadtrail.cli import _with_db, friendly

    @friendly
    def run() -> None:
        from leadtrail.sites import manage
        from leadtrail.sites.service import get_site

        async def work(database: Any) -> None:
            async with database.system() as conn, conn.transaction():
                site = await get_site(conn, site_ref)
                updated = await manage.update_site(
                    conn, site.id, {"settings": {"behaviour": change}}
                )
            click.echo(f"{updated.public_id}: {json.dumps(_shown(updated.settings))}")

        _with_db(work)

    run()


def _shown(settings: dict[str, Any]) -> dict[str, Any]:
    from leadtrail.behaviour.settings import BehaviourSettings

    return BehaviourSettings.from_site(settings).as_json()


@behaviour.command("status")
@click.argument("site_ref")
def status(site_ref: str) -> None:
    """Show SITE_REF's capture options (defaults filled in)."""
    from leadtrail.cli import _with_db, friendly

    @friendly
    def run() -> None:
        from leadtrail.sites.service import get_site

        async def work(database: Any) -> None:
            async with database.system() as conn:
                site = await get_site(conn, site_ref)
            click.echo(json.dumps(_shown(site.settings), indent=2))

        _with_db(work)

    run()


@behaviour.command("rebuild")
@click.argument("site_ref")
def rebuild(site_ref: str) -> None:
    """Re-aggregate SITE_REF's behaviour rollups and recompute its funnel rows."""
    from leadtrail.cli import _with_db, friendly

    @friendly
    def run() -> None:
        from leadtrail.behaviour.job import BehaviourJob
        from leadtrail.funnels.service import FunnelJob
        from leadtrail.sites.service import get_site

        async def work(database: Any) -> None:
            async with database.system() as conn:
                site = await get_site(conn, site_ref)
            days = await BehaviourJob(database).rebuild(site.id)
            sessions = await FunnelJob(database).refresh_site(site.id, rebuild=True)
            click.echo(
                f"{site.public_id}: {days} days re-aggregated, {sessions} sessions through the funnels"
            )

        _with_db(work)

    run()
