"""The ingest writer's behaviour step: behaviour events of a batch go into ``behavior_events``
in the same transaction as the batch's other events (acknowledged means durable), the days
they touch are marked for the behaviour job, and page exits set the session's exit reason.

Costs nothing for a batch without behaviour events: the staging table is created and the
statements run only when there are some.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC
from typing import Any

from leadtrail.behaviour.records import COLUMNS, EXIT_REASONS, is_behaviour
from leadtrail.behaviour.settings import BehaviourSettings
from leadtrail.ingest.events import PreparedEvent
from leadtrail.storage import Connection
from leadtrail.storage.queries import load
from leadtrail.storage.values import insert_values

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


async def store(conn: Connection, rows: Iterable[tuple[Any, ...]], *, citus: bool = False) -> None:
    """``citus``: no staging table (storage/values.py); the same three steps as statements
    Citus runs on the shards."""
    records = list(rows)
    if not records:
        return
    if citus:
        await _store_on_citus(conn, records)
        return
    await conn.execute(Q.create_behaviour_stage)
    await conn.copy_records_to_table("behaviour_stage", records=records, columns=COLUMNS)
    await conn.execute(Q.move_behaviour_stage)


_SITE, _SESSION, _MONTH, _CREATED, _TYPE, _DATA = (
    COLUMNS.index(c)
    for c in ("site_id", "session_id", "session_month", "created_at", "event_type", "event_data")
)


async def _store_on_citus(conn: Connection, records: list[tuple[Any, ...]]) -> None:
    await insert_values(
        conn, "INSERT INTO behavior_events", COLUMNS, records, "ON CONFLICT DO NOTHING"
    )
    days = sorted({(r[_SITE], r[_CREATED].astimezone(UTC).date()) for r in records})
    await conn.execute(Q.mark_behaviour_days, [d[0] for d in days], [d[1] for d in days])
    # The last page exit of each session with a known reason, as move_behaviour_stage does.
    exits: dict[tuple[Any, Any], tuple[Any, ...]] = {}
    for r in records:
        reason = (r[_DATA] or {}).get("reason")
        if r[_TYPE] != "page_exit" or reason not in EXIT_REASONS:
            continue
        key = (r[_SITE], r[_SESSION])
        if key not in exits or r[_CREATED] > exits[key][_CREATED]:
            exits[key] = r
    if exits:
        await conn.executemany(
            Q.set_exit_reason,
            [(r[_SITE], r[_SESSION], r[_MONTH], r[_DATA]["reason"]) for r in exits.values()],
        )
