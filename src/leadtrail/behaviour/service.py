"""The background component of behaviour analytics: one periodic pass re-aggregates the
marked days (``BehaviourJob``) and then brings ``conversion_funnels`` up to date
(``FunnelJob``), so funnel drop-off reasons see the friction stored before them."""

from __future__ import annotations

from leadtrail.behaviour.job import BehaviourJob
from leadtrail.components import PeriodicTask
from leadtrail.config import Settings
from leadtrail.funnels.service import FunnelJob
from leadtrail.storage import Database


def behaviour_jobs(settings: Settings, db: Database) -> PeriodicTask:
    behaviour = BehaviourJob(db, partitions_ahead=settings.partitions_ahead)
    funnels = FunnelJob(db)

    async def one_pass() -> int:
        return await behaviour.run_once() + await funnels.run_once()

    return PeriodicTask("behaviour", settings.behaviour_interval, one_pass)
