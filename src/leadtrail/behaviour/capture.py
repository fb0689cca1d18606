"""The ingest writer's behaviour step: behaviour events of a batch go into ``behavior_events``
in the same transaction as the batch's other events (acknowledged means durable), the days
they touch are marked for the behaviour job, and page exits set the session's exit reason.

Costs nothing for a batch without behaviour events: the staging table is created and the
statements run only when there are some.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from leadtrail.behaviour.records import COLUMNS, is_behaviour
from leadtrail.behaviour.settings import BehaviourSettings
from leadtrail.ingest.events import PreparedEvent
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)


def keep(events: list[PreparedEvent]) -> list[PreparedEvent]:
    """The batch without behaviour events of sites whose capture is off (a stale page, a
    hand-made request): they are acknowledged and never stored."""
    if not any(is_behaviour(e) for e in events):
        return events
    enabled: dict[str, bool] = {}
    for e in events:
        if is_behaviour(e) and e.site.public_id not in enabled:
            enabled[e.site.public_id] = BehaviourSettings.from_site(e.site.settings).enabled
    return [e for e in events if not is_behaviour(e) or enabled[e.site.public_id]]


async def store(conn: Connection, rows: Iterable[tuple[Any, ...]]) -> None:
    records = list(rows)
    if not records:
        return
    await conn.execute(Q.create_behaviour_stage)
    await conn.copy_records_to_table("behaviour_stage", records=records, columns=COLUMNS)
    await conn.execute(Q.move_behaviour_stage)
