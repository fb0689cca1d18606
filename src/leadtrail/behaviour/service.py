"""The background component of behaviour analytics: one periodic pass re-aggregates the
marked days (``BehaviourJob``) and then brings ``conversion_funnels`` up to date
(``FunnelJob``), so funnel drop-off reasons see the friction stored before them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from leadtrail.behaviour.job import BehaviourJob
from leadtrail.config import Settings
from leadtrail.funnels.service import FunnelJob
from leadtrail.storage import Database


def behaviour_pass(settings: Settings, db: Database) -> Callable[[], Awaitable[int]]:
    """One pass of the behaviour rollups and the funnel rows (a scheduler job)."""
    behaviour = BehaviourJob(db, partitions_ahead=settings.partitions_ahead)
    funnels = FunnelJob(db)

    async def one_pass() -> int:
        return await behaviour.run_once() + await funnels.run_once()

    return one_pass
