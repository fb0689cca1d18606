"""Group-commit writer: many requests, one transaction, each answered after the commit.

Request handlers ``submit`` their events and await the result. Writer workers take
everything pending, write it in one transaction (``batch.py``), commit, then resolve every
waiting request. The longer a commit takes, the more requests the next one carries, which is
what makes acknowledged-after-commit fast.

Several workers (``LEADTRAIL_INGEST_WRITERS``) each hold a connection, so PostgreSQL writes
one batch while the next is being prepared. (Running them in a thread with its own event
loop was measured too: no gain on 2 cores, the GIL hands over about as slowly as a busy loop
turns.)

Guarantees:
- acknowledged means committed (``synchronous_commit = on``);
- a retried event (same site, session, client event id) is stored once and counted once;
- a session row is written in the same transaction as its events;
- the buffer is bounded: past ``max_pending`` events ``submit`` raises 503 with Retry-After;
- a failed batch is retried (with a fresh connection if it broke), then split so one bad
  request cannot sink the others; an unexpected error is logged and answered with 503, and
  the worker carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from leadtrail.errors import Unavailable
from leadtrail.ingest import metrics
from leadtrail.ingest.batch import NAME, BatchWriter
from leadtrail.ingest.events import PreparedEvent
from leadtrail.ingest.session_state import SessionCache, SessionKey
from leadtrail.storage import Connection, Database
from leadtrail.storage.database import DriverError, PostgresError

logger = logging.getLogger(__name__)
Scores = dict[SessionKey, int]


@dataclass
class Submission:
    events: list[PreparedEvent]
    future: asyncio.Future[Scores]


def _write_failed() -> Unavailable:
    return Unavailable(
        "could not store the events; retry later", code="write_failed", retry_after=5
    )


class Writer:
    name = NAME

    def __init__(
        self,
        db: Database,
        *,
        max_batch_events: int = 5000,
        max_pending_events: int = 50_000,
        session_cache_size: int = 100_000,
        workers: int = 2,
    ) -> None:
        self._db = db
        self._max_batch = max_batch_events
        self._max_pending = max_pending_events
        self._workers = workers
        self._queue: deque[Submission] = deque()
        self._pending_events = 0
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._wakeup: asyncio.Event | None = None
        self.batches = BatchWriter(SessionCache(session_cache_size))

    # -- component lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Open the workers' connections and start them; raises if they cannot connect."""
        self._stopping = False
        self._wakeup = asyncio.Event()
        conns = [await self._connect() for _ in range(self._workers)]
        self._tasks = [
            asyncio.create_task(self._worker(conn), name=f"{NAME}-{n}")
            for n, conn in enumerate(conns)
        ]

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        self._stopping = True
        self._wake()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        left, self._queue, self._pending_events = list(self._queue), deque(), 0
        for item in left:
            if not item.future.done():
                item.future.set_exception(Unavailable("the server is shutting down", retry_after=1))

    async def _connect(self) -> Connection:
        conn = await self._db.app_connection()
        # Plan every statement for the batch at hand. A cached generic plan made while a new
        # month's partition was nearly empty looked sessions up by (site_id, created_at) and
        # filtered on id: a scan of the site's sessions per lookup, measured as most of
        # PostgreSQL's work at 15k events/s. Planning costs ~1 ms per batch, not per event.
        await conn.execute("SET plan_cache_mode = force_custom_plan")
        return conn

    # -- submitting -------------------------------------------------------------------

    @property
    def pending_events(self) -> int:
        return self._pending_events

    async def submit(self, events: list[PreparedEvent]) -> Scores:
        """Queue events and wait until they are committed; returns session lead scores."""
        if not self._tasks or self._stopping:
            raise Unavailable("the writer is not running", code="unavailable", retry_after=1)
        if self._pending_events + len(events) > self._max_pending:
            metrics.OVERLOADED.inc()
            raise Unavailable(
                "ingest is overloaded; retry shortly", code="overloaded", retry_after=1
            )
        future: asyncio.Future[Scores] = asyncio.get_running_loop().create_future()
        self._queue.append(Submission(events, future))
        self._pending_events += len(events)
        self._wake()
        return await asyncio.shield(future)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    # -- the workers ----------------------------------------------------------------------

    async def _worker(self, conn: Connection | None) -> None:
        assert self._wakeup is not None
        try:
            while True:
                batch = self._take_batch()
                if not batch:
                    if self._stopping:
                        return
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                conn = await self._write_with_retries(conn, batch)
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await conn.close()

    def _take_batch(self) -> list[Submission]:
        batch: list[Submission] = []
        count = 0
        while self._queue and (not batch or count + len(self._queue[0].events) <= self._max_batch):
            item = self._queue.popleft()
            batch.append(item)
            count += len(item.events)
        self._pending_events -= count
        return batch

    @staticmethod
    def _answer(batch: list[Submission], settle: Callable[[asyncio.Future[Scores]], None]) -> None:
        for item in batch:
            if not item.future.done():
                settle(item.future)

    async def _write_with_retries(
        self, conn: Connection | None, batch: list[Submission]
    ) -> Connection | None:
        started = time.perf_counter()
        events = [e for item in batch for e in item.events]
        for attempt in range(3):
            try:
                if conn is None or conn.is_closed():
                    conn = await self._connect()
                scores = await self.batches.write(conn, events)
            except (TimeoutError, PostgresError, DriverError, OSError) as exc:
                logger.warning("ingest batch failed (attempt %d): %s", attempt + 1, exc)
                metrics.BATCH_FAILURES.inc()
                self.batches.sessions.forget([e.session_key for e in events])
                if conn is not None and (
                    isinstance(exc, OSError | DriverError) or conn.is_closed()
                ):
                    with contextlib.suppress(Exception):
                        await conn.close()
                    conn = None
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            except Exception:
                # A bug, not the database: answer the waiting requests, keep the worker alive.
                logger.exception("ingest batch failed unexpectedly")
                metrics.BATCH_FAILURES.inc()
                self.batches.sessions.forget([e.session_key for e in events])
                self._answer(batch, lambda f: f.set_exception(_write_failed()))
                return conn
            self._answer(batch, functools.partial(_set_result, scores))
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            metrics.BATCH_EVENTS.observe(len(events))
            return conn
        if len(batch) > 1:
            # Isolate whatever keeps failing: halves are written (and retried) on their own.
            middle = len(batch) // 2
            conn = await self._write_with_retries(conn, batch[:middle])
            return await self._write_with_retries(conn, batch[middle:])
        logger.error("dropping a request the database keeps refusing; the client will retry")
        self._answer(batch, lambda f: f.set_exception(_write_failed()))
        return conn


def _set_result(scores: Scores, future: asyncio.Future[Scores]) -> None:
    future.set_result(scores)


def now_utc() -> datetime:
    return datetime.now(UTC)
