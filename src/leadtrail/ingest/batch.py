"""One group-commit transaction: a batch of requests' events and their sessions.

Runs in the ingest writer's thread (see ``writer.py``) on that thread's own connection.
Events are COPYed into a temporary staging table and moved with one ``INSERT ... ON
CONFLICT DO NOTHING`` (PostgreSQL refuses COPY into a table with row-level security, and
the writer runs as ``leadtrail_writer`` under RLS); sessions are upserted with one ordered
statement; session counters add only the events the INSERT really added.

On Citus neither works: a temporary table cannot take part in the two-phase commit of a
transaction that touches shards on several nodes, and an ``INSERT ... SELECT`` into a
distributed table with RLS is refused. There the same rows go as multi-row ``INSERT ...
VALUES`` statements, which Citus splits by shard and sends to the workers as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

from leadtrail.behaviour import capture
from leadtrail.behaviour.records import behaviour_record, is_behaviour
from leadtrail.ingest import metrics
from leadtrail.ingest.events import Landing, PreparedEvent, landing, month_of
from leadtrail.ingest.first_touch import ADS_ASSISTED, attribution_label
from leadtrail.ingest.records import EVENT_COLUMNS, SESSION_COLUMNS, event_record, session_record
from leadtrail.ingest.referrer import is_google
from leadtrail.ingest.session_state import SessionCache, SessionKey, SessionState
from leadtrail.storage import Claims, Connection, DbRole
from leadtrail.storage.database import transaction_on
from leadtrail.storage.marks import MARK, mark_sessions
from leadtrail.storage.queries import load
from leadtrail.storage.values import insert_values
from leadtrail.webhooks import events, outbox

QUERIES = load("leadtrail.ingest")
NAME = "ingest-writer"

#: a session older than this is not looked up: its next event starts a new one
MAX_SESSION_AGE = timedelta(days=31)
UPSERT_FROM_STAGE = f"{QUERIES.upsert_sessions}\n{QUERIES.session_merge}"
_IS_BOUNCE = SESSION_COLUMNS.index("is_bounce")
_PAGE_VIEWS = SESSION_COLUMNS.index("page_views")


@dataclass
class _SessionWork:
    key: SessionKey
    events: list[PreparedEvent] = field(default_factory=list)
    state: SessionState | None = None
    landing: Landing | None = None
    fingerprint: str | None = None


class Written(dict[SessionKey, int]):
    """Session lead scores of a batch, and what the batch learnt for session tokens
    (auth/session_tokens.py): the sessions it created and the event ids it really added."""

    def __init__(self) -> None:
        super().__init__()
        self.created: set[SessionKey] = set()
        self.inserted: set[UUID] = set()


def _started(entry: _SessionWork, row: Any) -> datetime:
    """When a session began: as stored, else (a new session) its first event."""
    return row["created_at"] if row is not None else entry.events[0].created_at


class BatchWriter:
    """Writes batches; remembers recently written sessions between them."""

    def __init__(self, sessions: SessionCache, hot_score: int = 61) -> None:
        self.sessions = sessions
        #: a session crossing this lead score emits ``visitor.hot``
        self.hot_score = hot_score
        #: the database is Citus: multi-row INSERT ... VALUES, no staging tables (set by
        #: the writer once it has connected; None until then, taken as plain PostgreSQL)
        self.citus: bool | None = None

    async def warm_up(self, conn: Connection) -> None:
        """Prepare the statements with array parameters on a new connection. asyncpg looks
        up an array type the first time a connection meets it, and on Citus each lookup
        took ~0.9 s (measured 2026-12-05): a new writer connection's first batch waited
        ~3 s for them. Preparing runs nothing; it needs the writer's role to see the names."""
        claims = Claims(role=DbRole.WRITER, sub=NAME, site_ids=())
        async with transaction_on(conn, claims, "SET LOCAL client_min_messages = warning"):
            for statement in (
                QUERIES.find_sessions,
                QUERIES.ad_fingerprints,
                QUERIES.session_scores,
                MARK,
                outbox.Q.emit_many,
            ):
                await conn.prepare(statement)

    async def write(
        self, conn: Connection, events: list[PreparedEvent], settings: str = ""
    ) -> Written:
        """Write ``events`` in one transaction on ``conn``; return session lead scores.
        ``settings``: trusted ``SET LOCAL`` statements run as the transaction opens."""
        events = capture.keep(events)
        work: dict[SessionKey, _SessionWork] = {}
        for event in events:
            entry = work.get(event.session_key)
            if entry is None:
                entry = work[event.session_key] = _SessionWork(event.session_key)
            entry.events.append(event)
        site_ids = tuple(sorted({key[0] for key in work}))
        claims = Claims(role=DbRole.WRITER, sub=NAME, site_ids=site_ids)
        setup = "SET LOCAL client_min_messages = warning"
        if settings:
            setup += f"; {settings}"
        if not self.citus:
            setup += f"; {QUERIES.create_stages}"
        async with transaction_on(conn, claims, setup):
            await self._resolve_sessions(conn, work)
            inserted = await self._insert_events(conn, work)
            scores = await self._upsert_sessions(conn, work, inserted)
            await capture.store(conn, self._behaviour_rows(work), citus=bool(self.citus))
        for entry in work.values():
            assert entry.state is not None
            if entry.landing is not None and entry.key not in scores:
                continue  # behaviour events only, no session row yet: its first view makes it
            entry.state.lead_score = scores.get(entry.key, entry.state.lead_score)
            self.sessions.put(entry.key, entry.state)
        metrics.EVENTS_STORED.inc(len(inserted))
        metrics.EVENTS_DUPLICATE.inc(sum(not is_behaviour(e) for e in events) - len(inserted))
        written = Written()
        written.update(scores)
        written.inserted = inserted
        written.created = {k for k, e in work.items() if e.landing is not None and k in scores}
        return written

    @staticmethod
    def _behaviour_rows(work: dict[SessionKey, _SessionWork]) -> Iterator[tuple[Any, ...]]:
        """Rows for ``behavior_events`` (docs/behaviour.md), in the session's month."""
        for entry in work.values():
            assert entry.state is not None
            for event in entry.events:
                if is_behaviour(event):
                    row = behaviour_record(event, entry.state.created_month)
                    if row is not None:
                        yield row

    def _crossings(
        self, state: SessionState, row: Any
    ) -> list[tuple[UUID, UUID, str, dict[str, Any]]]:
        """``visitor.hot`` when the score crosses the threshold and ``session.high_value``
        when the session first passes 300 s and 5 actions; ids are derived from the session
        so a repeat (another process, a retry) adds nothing."""
        out: list[tuple[UUID, UUID, str, dict[str, Any]]] = []
        site_id, session_id = row["site_id"], row["id"]
        data = {
            "site_id": site_id,
            "canonical_session_id": session_id,
            "lead_score": row["lead_score"],
            "session_duration_seconds": row["total_duration_sec"],
            "actions_count": row["event_count"],
            "page_views": row["page_views"],
            "entry_page": row["entry_page"],
            "utm_source": row["utm_source"],
            "utm_campaign": row["utm_campaign"],
            "attribution_source": row["attribution_source"],
            "fingerprint": row["fingerprint"],
        }
        if state.lead_score < self.hot_score <= row["lead_score"]:
            out.append((site_id, uuid5(session_id, events.VISITOR_HOT), events.VISITOR_HOT, data))
        if not state.high_value and is_high_value(row["total_duration_sec"], row["event_count"]):
            state.high_value = True
            out.append(
                (
                    site_id,
                    uuid5(session_id, events.SESSION_HIGH_VALUE),
                    events.SESSION_HIGH_VALUE,
                    data,
                )
            )
        return out

    async def _resolve_sessions(
        self, conn: Connection, work: dict[SessionKey, _SessionWork]
    ) -> None:
        """Known state for every session of the batch: from the cache, the table, or new."""
        missing: list[_SessionWork] = []
        for entry in work.values():
            entry.events.sort(key=lambda e: e.created_at)
            entry.fingerprint = next((e.fingerprint for e in entry.events if e.fingerprint), None)
            entry.state = self.sessions.get(entry.key)
            if entry.state is None:
                missing.append(entry)
        if not missing:
            return
        earliest = min(e.events[0].created_at for e in missing) - MAX_SESSION_AGE
        rows = await conn.fetch(
            QUERIES.find_sessions,
            [e.key[0] for e in missing],
            [e.key[1] for e in missing],
            month_of(earliest),
        )
        found = {(r["site_id"], r["id"]): r for r in rows}
        with_fp = [e for e in missing if e.fingerprint]
        returning_keys: set[SessionKey] = set()
        if with_fp:
            ad_rows = await conn.fetch(
                QUERIES.ad_fingerprints,
                [e.key[0] for e in with_fp],
                [e.fingerprint for e in with_fp],
                [e.key[1] for e in with_fp],
                [_started(e, found.get(e.key)) for e in with_fp],
            )
            returning_keys = {(r["site_id"], r["session_id"]) for r in ad_rows}
        for entry in missing:
            returning = entry.key in returning_keys
            row = found.get(entry.key)
            if row is not None:
                entry.state = SessionState(
                    created_month=row["created_month"],
                    google_referrer=is_google(row["referrer"]),
                    returning_ad_user=returning or row["attribution_source"] == ADS_ASSISTED,
                    attribution=row["attribution_source"]
                    or attribution_label(
                        has_click_id=row["has_click_id"], returning_ad_user=returning
                    ),
                    lead_score=row["lead_score"],
                    high_value=is_high_value(row["total_duration_sec"], row["event_count"]),
                )
            else:
                entry.landing = landing(entry.events[0])
                entry.state = SessionState(
                    created_month=month_of(entry.events[0].created_at),
                    google_referrer=is_google(entry.landing.referrer),
                    returning_ad_user=returning,
                    attribution=attribution_label(
                        has_click_id=entry.landing.has_click_id, returning_ad_user=returning
                    ),
                    lead_score=0,
                )

    async def _insert_events(
        self, conn: Connection, work: dict[SessionKey, _SessionWork]
    ) -> set[UUID]:
        """Stage every event, insert the ones not stored yet; return the ids really added."""
        records: list[tuple[Any, ...]] = []
        seen: set[UUID] = set()
        for entry in work.values():
            assert entry.state is not None
            for event in entry.events:
                if is_behaviour(event):
                    continue  # stored by the behaviour step, not in events
                if event.id not in seen:  # the same event twice in one batch counts once
                    seen.add(event.id)
                    records.append(event_record(event, entry.state, entry.fingerprint))
        if not records:
            return set()
        if self.citus:
            rows = await insert_values(
                conn,
                "INSERT INTO events",
                EVENT_COLUMNS,
                records,
                "ON CONFLICT DO NOTHING RETURNING id",
            )
        else:
            await conn.copy_records_to_table("event_stage", records=records, columns=EVENT_COLUMNS)
            rows = await conn.fetch(QUERIES.insert_events)
        return {r["id"] for r in rows}

    async def _upsert_sessions(
        self, conn: Connection, work: dict[SessionKey, _SessionWork], inserted: set[UUID]
    ) -> dict[SessionKey, int]:
        records: list[tuple[Any, ...]] = []
        untouched: list[_SessionWork] = []
        for entry in work.values():
            new = [e for e in entry.events if e.id in inserted]
            if not new:
                untouched.append(entry)
                continue
            assert entry.state is not None
            records.append(session_record(new, entry.state, entry.landing, entry.fingerprint))
        scores: dict[SessionKey, int] = {}
        if records:
            if self.citus:
                upserted = await insert_values(
                    conn,
                    "INSERT INTO sessions AS s",
                    SESSION_COLUMNS,
                    _as_upserted(records),
                    QUERIES.session_merge,
                )
            else:
                await conn.copy_records_to_table(
                    "session_stage", records=records, columns=SESSION_COLUMNS
                )
                upserted = await conn.fetch(UPSERT_FROM_STAGE)
            crossings: list[tuple[UUID, UUID, str, dict[str, Any]]] = []
            # No triggers on sessions (migration 0065): the writer marks what it changed.
            await mark_sessions(conn, upserted)
            for row in upserted:
                key = (row["site_id"], row["id"])
                scores[key] = row["lead_score"]
                state = work[key].state
                assert state is not None
                crossings += self._crossings(state, row)
            # Same transaction as the sessions: a threshold event exists iff the data does.
            await outbox.emit_many(conn, crossings)
        if untouched:
            rows = await conn.fetch(
                QUERIES.session_scores,
                [e.key[0] for e in untouched],
                [e.key[1] for e in untouched],
                [e.state.created_month if e.state else None for e in untouched],
            )
            for row in rows:
                scores[(row["site_id"], row["id"])] = row["lead_score"]
        return scores


def _as_upserted(records: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Session rows as the staged upsert inserts them: in (site_id, id) order, so that
    concurrent writers lock in one order, and a bounce only with at most one page view."""
    out = []
    for record in sorted(records, key=lambda r: (r[0], r[1])):
        row = list(record)
        bounce, views = row[_IS_BOUNCE], row[_PAGE_VIEWS]
        if views is None:  # SQL: x AND NULL
            row[_IS_BOUNCE] = False if bounce is False else None
        elif views > 1:
            row[_IS_BOUNCE] = False
        out.append(tuple(row))
    return out


def is_high_value(duration: int | None, actions: int | None) -> bool:
    return (duration or 0) > events.HIGH_VALUE_SECONDS and (
        actions or 0
    ) > events.HIGH_VALUE_ACTIONS
