"""Group-commit writer: many requests, one transaction, each answered after the commit.

Request handlers ``submit`` their events and await the result. One task takes everything
pending, writes it in a single transaction (events via a staging table and one
``INSERT ... ON CONFLICT DO NOTHING``, sessions via one ordered upsert), commits, then
resolves every waiting request. The longer a commit takes, the more requests the next one
carries, which is what makes acknowledged-after-commit fast.

Guarantees:
- acknowledged means committed (``synchronous_commit = on``);
- a retried event (same site, session, client event id) is stored once and counted once:
  session counters only add the events the INSERT really added;
- a session row is written in the same transaction as its events;
- the buffer is bounded: past ``max_pending`` events ``submit`` raises 503 with Retry-After;
- a failed batch is retried, then split so one bad request cannot sink the others; a crash
  of the loop is logged, every waiter gets an error, and the loop restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from leadtrail.errors import Unavailable
from leadtrail.ingest import metrics
from leadtrail.ingest.events import Landing, PreparedEvent, landing, month_of
from leadtrail.ingest.first_touch import ADS_ASSISTED, attribution_label
from leadtrail.ingest.records import EVENT_COLUMNS, SESSION_COLUMNS, event_record, session_record
from leadtrail.ingest.referrer import is_google
from leadtrail.ingest.session_state import SessionCache, SessionKey, SessionState
from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.storage.database import PostgresError
from leadtrail.storage.queries import load

logger = logging.getLogger(__name__)
QUERIES = load("leadtrail.ingest")

#: a session older than this is not looked up: its next event starts a new one
MAX_SESSION_AGE = timedelta(days=31)


@dataclass
class Submission:
    events: list[PreparedEvent]
    future: asyncio.Future[dict[SessionKey, int]]


@dataclass
class _SessionWork:
    key: SessionKey
    events: list[PreparedEvent] = field(default_factory=list)
    state: SessionState | None = None
    landing: Landing | None = None
    fingerprint: str | None = None


def _write_failed() -> Unavailable:
    return Unavailable(
        "could not store the events; retry later", code="write_failed", retry_after=5
    )


class Writer:
    name = "ingest-writer"

    def __init__(
        self,
        db: Database,
        *,
        max_batch_events: int = 5000,
        max_pending_events: int = 50_000,
        session_cache_size: int = 100_000,
    ) -> None:
        self._db = db
        self._max_batch = max_batch_events
        self._max_pending = max_pending_events
        self._queue: deque[Submission] = deque()
        self._pending_events = 0
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.sessions = SessionCache(session_cache_size)

    # -- component lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._supervise(), name=self.name)

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._fail(self._take_all(), Unavailable("the server is shutting down", retry_after=1))

    # -- submitting ------------------------------------------------------------------

    @property
    def pending_events(self) -> int:
        return self._pending_events

    async def submit(self, events: list[PreparedEvent]) -> dict[SessionKey, int]:
        """Queue events and wait until they are committed; returns session lead scores."""
        if self._task is None or self._stopping:
            raise Unavailable("the writer is not running", code="unavailable", retry_after=1)
        if self._pending_events + len(events) > self._max_pending:
            metrics.OVERLOADED.inc()
            raise Unavailable(
                "ingest is overloaded; retry shortly", code="overloaded", retry_after=1
            )
        future: asyncio.Future[dict[SessionKey, int]] = asyncio.get_running_loop().create_future()
        self._queue.append(Submission(events, future))
        self._pending_events += len(events)
        self._wakeup.set()
        return await asyncio.shield(future)

    # -- the loop ----------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            try:
                await self._run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("ingest writer crashed; restarting")
                metrics.WRITER_CRASHES.inc()
                await asyncio.sleep(0.5)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._take_batch()
            await self._write_with_retries(batch)

    def _take_batch(self) -> list[Submission]:
        batch: list[Submission] = []
        count = 0
        while self._queue and (not batch or count + len(self._queue[0].events) <= self._max_batch):
            item = self._queue.popleft()
            batch.append(item)
            count += len(item.events)
        self._pending_events -= count
        return batch

    def _take_all(self) -> list[Submission]:
        items, self._queue = list(self._queue), deque()
        self._pending_events = 0
        return items

    @staticmethod
    def _fail(batch: list[Submission], error: Exception) -> None:
        for item in batch:
            if not item.future.done():
                item.future.set_exception(error)

    async def _write_with_retries(self, batch: list[Submission]) -> None:
        started = time.perf_counter()
        for attempt in range(3):
            try:
                scores = await self._write(batch)
            except (TimeoutError, PostgresError, OSError) as exc:
                logger.warning("ingest batch failed (attempt %d): %s", attempt + 1, exc)
                metrics.BATCH_FAILURES.inc()
                self.sessions.forget([e.session_key for s in batch for e in s.events])
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            except Exception:
                # A bug, not the database: answer the waiting requests, keep the loop alive.
                logger.exception("ingest batch failed unexpectedly")
                metrics.BATCH_FAILURES.inc()
                self.sessions.forget([e.session_key for s in batch for e in s.events])
                self._fail(
                    batch,
                    Unavailable(
                        "could not store the events; retry later",
                        code="write_failed",
                        retry_after=5,
                    ),
                )
                return
            for item in batch:
                if not item.future.done():
                    item.future.set_result(scores)
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            metrics.BATCH_EVENTS.observe(sum(len(s.events) for s in batch))
            return
        if len(batch) > 1:
            # Isolate whatever keeps failing: halves are written (and retried) on their own.
            middle = len(batch) // 2
            await self._write_with_retries(batch[:middle])
            await self._write_with_retries(batch[middle:])
            return
        logger.error("dropping a request the database keeps refusing; the client will retry")
        self._fail(batch, _write_failed())

    # -- one transaction -------------------------------------------------------------------

    async def _write(self, batch: list[Submission]) -> dict[SessionKey, int]:
        work: dict[SessionKey, _SessionWork] = {}
        for item in batch:
            for event in item.events:
                entry = work.get(event.session_key)
                if entry is None:
                    entry = work[event.session_key] = _SessionWork(event.session_key)
                entry.events.append(event)
        site_ids = tuple(sorted({key[0] for key in work}))
        claims = Claims(role=DbRole.WRITER, sub=self.name, site_ids=site_ids)
        async with self._db.transaction(claims) as conn:
            await conn.execute("SET LOCAL client_min_messages = warning; " + QUERIES.create_stages)
            await self._resolve_sessions(conn, work)
            inserted = await self._insert_events(conn, work)
            scores = await self._upsert_sessions(conn, work, inserted)
        for entry in work.values():
            assert entry.state is not None
            entry.state.lead_score = scores.get(entry.key, entry.state.lead_score)
            self.sessions.put(entry.key, entry.state)
        metrics.EVENTS_STORED.inc(len(inserted))
        metrics.EVENTS_DUPLICATE.inc(sum(len(w.events) for w in work.values()) - len(inserted))
        return scores

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
        ad_fingerprints: set[tuple[UUID, str]] = set()
        if with_fp:
            ad_rows = await conn.fetch(
                QUERIES.ad_fingerprints,
                [e.key[0] for e in with_fp],
                [e.fingerprint for e in with_fp],
                [e.key[1] for e in with_fp],
            )
            ad_fingerprints = {(r["site_id"], r["fingerprint"]) for r in ad_rows}
        for entry in missing:
            returning = (entry.key[0], entry.fingerprint) in ad_fingerprints
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
                if event.id not in seen:  # the same event twice in one batch counts once
                    seen.add(event.id)
                    records.append(event_record(event, entry.state, entry.fingerprint))
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
            await conn.copy_records_to_table(
                "session_stage", records=records, columns=SESSION_COLUMNS
            )
            for row in await conn.fetch(QUERIES.upsert_sessions):
                scores[(row["site_id"], row["id"])] = row["lead_score"]
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


def now_utc() -> datetime:
    return datetime.now(UTC)
