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
- a batch that fails for the connection or the database's state (broken connection,
  deadlock, shutdown, out of resources) is retried with a fresh connection, then answered
  503; one that fails for its content (a value the database refuses, a bug a payload
  triggers) is split in halves until the request at fault is alone: it gets 400
  ``events_not_storable`` (503 ``write_failed`` if the database refused it for another
  reason) and every other request is stored;
- a batch is bounded in time: its statements run under ``statement_timeout`` and
  ``lock_timeout`` (``LEADTRAIL_INGEST_WRITE_TIMEOUT``), and a connection that stops answering
  altogether is closed by a watchdog; either way its requests get 503 ``write_failed``;
- a worker that dies is logged, its requests in flight are answered 503, and it is restarted
  (after a short pause when it keeps dying).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from leadtrail.errors import Unavailable
from leadtrail.ingest import metrics
from leadtrail.ingest.batch import NAME, BatchWriter, Written
from leadtrail.ingest.events import PreparedEvent
from leadtrail.ingest.failures import Failure, Stalled, classify, refusal, write_failed
from leadtrail.ingest.session_state import SessionCache
from leadtrail.storage import Connection, Database
from leadtrail.storage.citus import citus_version
from leadtrail.storage.database import DriverError

logger = logging.getLogger(__name__)
Scores = Written

#: attempts for a batch that fails for the connection or the database's state
ATTEMPTS = 3
TOO_SLOW = "the database did not store the events in time; retry later"


@dataclass
class Submission:
    events: list[PreparedEvent]
    future: asyncio.Future[Scores]


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
        write_timeout: float = 30.0,
        fault: str | None = None,
        hot_score: int = 61,
    ) -> None:
        self._db = db
        self._max_batch = max_batch_events
        self._max_pending = max_pending_events
        self._workers = workers
        self._write_timeout = write_timeout
        self._queue: deque[Submission] = deque()
        self._pending_events = 0
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight: dict[int, list[Submission]] = {}
        self._crash_pause = 0.0
        self._last_crash = 0.0
        self._wakeup: asyncio.Event | None = None
        self.batches = BatchWriter(SessionCache(session_cache_size), hot_score)
        #: whether the database is Citus, found on the first connection
        #: test-only fault (LEADTRAIL_INGEST_FAULT), applied once to the first batch
        self._fault = fault

    # -- component lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Open the workers' connections and start them; raises if they cannot connect."""
        self._stopping = False
        self._wakeup = asyncio.Event()
        conns = [await self._connect() for _ in range(self._workers)]
        self._tasks = [self._spawn(n, conn) for n, conn in enumerate(conns)]

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        self._stopping = True
        self._wake()
        for task in list(self._tasks):
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task  # a worker that died was logged by _worker_exited
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
        if self.batches.citus is None:
            self.batches.citus = await citus_version(conn) is not None
        if self.batches.citus:
            await self.batches.warm_up(conn)
        return conn

    # -- supervision -------------------------------------------------------------------

    def _spawn(self, n: int, conn: Connection | None, pause: float = 0.0) -> asyncio.Task[None]:
        task = asyncio.create_task(self._worker(n, conn, pause), name=f"{NAME}-{n}")
        task.add_done_callback(functools.partial(self._worker_exited, n))
        return task

    def _worker_exited(self, n: int, task: asyncio.Task[None]) -> None:
        """A worker ends only when stopping; any other end is a crash: log it, answer what it
        was writing (its transaction died with its connection) and start another."""
        error = None if task.cancelled() else task.exception()
        if self._stopping and error is None:
            return
        logger.error(
            "ingest writer worker %d %s; restarting it",
            n,
            "was cancelled" if task.cancelled() else "died",
            exc_info=error,
        )
        metrics.WRITER_CRASHES.inc()
        lost = self._in_flight.pop(n, [])
        self.batches.sessions.forget([e.session_key for item in lost for e in item.events])
        self._answer(lost, lambda f: f.set_exception(write_failed()))
        if self._stopping:
            return
        now = time.monotonic()
        # A worker that keeps dying at once waits a little longer each time (up to 5 s).
        crashing = now - self._last_crash < 1.0
        self._crash_pause = min(max(self._crash_pause * 2, 0.05), 5.0) if crashing else 0.0
        self._last_crash = now
        if n < len(self._tasks) and self._tasks[n] is task:
            self._tasks[n] = self._spawn(n, None, self._crash_pause)

    @property
    def live_workers(self) -> int:
        return sum(1 for task in self._tasks if not task.done())

    # -- submitting -------------------------------------------------------------------

    @property
    def pending_events(self) -> int:
        return self._pending_events

    async def submit(self, events: list[PreparedEvent]) -> Scores:
        """Queue events and wait until they are committed; returns session lead scores.

        The wait needs no timer of its own: every batch is bounded in time and a worker that
        dies has its requests answered, so every future is settled."""
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

    async def _worker(self, n: int, conn: Connection | None, pause: float = 0.0) -> None:
        assert self._wakeup is not None
        try:
            if pause:
                await asyncio.sleep(pause)
            while True:
                batch = self._take_batch()
                if not batch:
                    if self._stopping:
                        break
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                self._in_flight[n] = batch
                conn = await self._write_with_retries(conn, batch)
                del self._in_flight[n]
        except BaseException:
            if conn is not None:
                conn.terminate()  # it may be mid-transaction: PostgreSQL rolls it back
            raise
        if conn is not None:
            await _close(conn)

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

    async def _write_once(self, conn: Connection, events: list[PreparedEvent]) -> Scores:
        """One attempt, bounded: statements by PostgreSQL's timeouts (set in the statement
        that opens the transaction), and the whole attempt by a watchdog that closes a
        connection which stops answering (a dead peer, a hung network)."""
        timeout_ms = max(int(self._write_timeout * 1000), 1)
        bounds = (
            f"SET LOCAL statement_timeout = {timeout_ms}; "
            f"SET LOCAL lock_timeout = {max(timeout_ms // 2, 1)}"
        )
        stalled = False

        def bite() -> None:
            nonlocal stalled
            stalled = True
            conn.terminate()

        watchdog = asyncio.get_running_loop().call_later(4 * self._write_timeout, bite)
        if self._fault is not None:
            events = self._inject_fault(events)
        try:
            return await self.batches.write(conn, events, bounds)
        except Exception as exc:
            if stalled:
                raise Stalled("the database connection stopped answering") from exc
            raise
        finally:
            watchdog.cancel()

    def _inject_fault(self, events: list[PreparedEvent]) -> list[PreparedEvent]:
        """Test only: lose one event (it is still acknowledged) or store one twice under a
        second id, once, so a benchmark's exactly-once check has something to catch."""
        fault, self._fault = self._fault, None
        logger.warning("LEADTRAIL_INGEST_FAULT=%s: corrupting one acknowledged event", fault)
        if fault == "drop_one":
            return events[1:]
        return [*events, dataclasses.replace(events[0], id=uuid.uuid4())]

    async def _write_with_retries(
        self, conn: Connection | None, batch: list[Submission]
    ) -> Connection | None:
        started = time.perf_counter()
        events = [e for item in batch for e in item.events]
        for attempt in range(ATTEMPTS):
            try:
                if conn is None or conn.is_closed():
                    conn = await self._connect()
                scores = await self._write_once(conn, events)
            except Exception as exc:
                metrics.BATCH_FAILURES.inc()
                self.batches.sessions.forget([e.session_key for e in events])
                kind = classify(exc)
                if conn is not None and conn.is_closed():
                    conn = None  # broken or closed by the watchdog: reconnect next time
                if kind is Failure.TIMEOUT:
                    logger.error("ingest batch timed out (%d requests): %s", len(batch), exc)
                    self._answer(batch, lambda f: f.set_exception(write_failed(TOO_SLOW)))
                    return conn
                if kind is Failure.CONTENT:
                    return await self._isolate(conn, batch, exc)
                logger.warning("ingest batch failed (attempt %d): %s", attempt + 1, exc)
                if isinstance(exc, OSError | DriverError) and conn is not None:
                    await _close(conn)
                    conn = None
                await asyncio.sleep(0.05 * (attempt + 1))
                continue
            self._answer(batch, functools.partial(_set_result, scores))
            metrics.BATCH_SECONDS.observe(time.perf_counter() - started)
            metrics.BATCH_EVENTS.observe(len(events))
            return conn
        logger.error("the database keeps failing; answering %d requests with 503", len(batch))
        self._answer(batch, lambda f: f.set_exception(write_failed()))
        return conn

    async def _isolate(
        self, conn: Connection | None, batch: list[Submission], exc: Exception
    ) -> Connection | None:
        """Split a batch that failed for its content until the request at fault is alone:
        about 2·log2(requests) more transactions, and only that request gets an error."""
        if len(batch) == 1:
            logger.error("ingest request refused: %s", exc, exc_info=exc)
            answer = refusal(exc)
            self._answer(batch, lambda f: f.set_exception(answer))
            return conn
        middle = len(batch) // 2
        conn = await self._write_with_retries(conn, batch[:middle])
        return await self._write_with_retries(conn, batch[middle:])


async def _close(conn: Connection) -> None:
    with contextlib.suppress(Exception):
        await conn.close(timeout=5)


def _set_result(scores: Scores, future: asyncio.Future[Scores]) -> None:
    future.set_result(scores)


def now_utc() -> datetime:
    return datetime.now(UTC)
