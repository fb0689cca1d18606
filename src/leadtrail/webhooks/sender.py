"""The webhook sender: a leader service (runs on the scheduler's leader only).

Each round moves outbox rows into deliveries, then starts the due deliveries each endpoint
has room for (``max_concurrency`` requests in flight per endpoint), never waiting for a
response: a slow or dead endpoint holds only its own slots. Every write checks the fence.
A delivery is claimed for ``timeout + CLAIM_MARGIN`` seconds; if the leader dies
mid-request the next leader sends it again with the same ``webhook-id`` (at-least-once).

Idle, it runs no rounds: it reads one row (is there an outbox row, when is the next pending
delivery due) and starts a round only when there is work; it also wakes at the next retry's
due time. It looks ``busy_interval`` after the last round that found work, then twice as long
each time up to ``idle_interval``: a steady trickle of facts with gaps between them is sent
within milliseconds, while a sender idle for a few seconds still reads one row per
``idle_interval``. (Not NOTIFY from the fact's transaction: PostgreSQL serialises the
commits of notifying transactions, which would throttle ingest.)

A round claims up to ``QUEUE_PER_SLOT`` deliveries per slot beyond the free ones and keeps
them in the endpoint's queue: each answer starts the endpoint's next delivery at once, so an
endpoint gets ``max_concurrency`` requests at a time back to back, not ``max_concurrency``
per round (a round is a few transactions, tens of milliseconds on a busy database). A slot
is free again as soon as the endpoint has answered: the delivery's claim keeps it out of
``due`` until its outcome is recorded, so nothing is sent twice meanwhile. A queued delivery
not started within ``CLAIM_MARGIN`` of its claim is left for a later round (its request could
outlive the claim).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from standardwebhooks.webhooks import Webhook

from leadtrail.scheduling import Fence, FenceLost
from leadtrail.storage import Database
from leadtrail.webhooks import metrics
from leadtrail.webhooks.events import envelope, next_delay, slack_body
from leadtrail.webhooks.http import Client, PostError, new_client
from leadtrail.webhooks.outbox import Q
from leadtrail.webhooks.secrets import SecretBox

logger = logging.getLogger(__name__)
CLAIM_MARGIN = 5.0
FAN_OUT_BATCH = 1000
DUE_BATCH = 500
ENDPOINTS_REFRESH = 5.0
MAX_IN_FLIGHT = 256
#: claimed deliveries an endpoint may have waiting, per slot of its max_concurrency
QUEUE_PER_SLOT = 4
#: seconds a stepping-down sender waits for finished attempts to be recorded
RECORD_GRACE = 5.0


@dataclass(frozen=True)
class SenderConfig:
    timeout: float
    retry_base: float
    retry_cap: float
    retry_window: float
    busy_interval: float
    idle_interval: float
    dashboard_url: str


@dataclass(frozen=True)
class Outcome:
    """One finished attempt, waiting to be recorded."""

    endpoint: Endpoint
    d: dict[str, Any]
    at: datetime
    duration: float
    status: int | None
    error: str | None


@dataclass(frozen=True)
class Endpoint:
    site_id: UUID
    id: UUID
    url: str
    format: str
    signer: Webhook
    max_concurrency: int


class WebhookSender:
    name = "webhook-sender"

    def __init__(self, db: Database, box: SecretBox, config: SenderConfig) -> None:
        self._db = db
        self._box = box
        self.config = config
        self._fence: Fence | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: Client | None = None
        self._endpoints: dict[UUID, Endpoint] = {}
        self._endpoints_at = 0.0
        self._in_flight: dict[UUID, set[UUID]] = {}
        #: claimed, waiting for a slot: (start before this monotonic time, delivery)
        self._queued: dict[UUID, deque[tuple[float, dict[str, Any]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._recorder: asyncio.Task[None] | None = None
        #: seconds until the idle sender looks for work again (doubles while there is none)
        self._pause = config.idle_interval
        self.delivered = 0
        self.failures = 0
        self.last_error: str | None = None

    # -- leader service -----------------------------------------------------------------

    async def start_leading(self, fence: Fence) -> None:
        self._fence = fence
        self._pause = self.config.busy_interval  # a new leader looks for work at once, often
        self._client = new_client(self.config.timeout)
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop_leading(self) -> None:
        self._fence = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        recorder = self._recorder
        for task in list(self._tasks):
            if task is not recorder:
                task.cancel()
        for task in list(self._tasks):
            if task is not recorder:
                with contextlib.suppress(BaseException):
                    await task
        if recorder is not None and not recorder.done():
            # Attempts that were answered are recorded before stepping down (still under
            # this leader's fence); otherwise the next leader would send them again.
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(recorder, RECORD_GRACE)
        self._recorder = None
        self._in_flight.clear()
        self._queued.clear()  # still claimed: sent by whoever leads once the claims run out
        self._outcomes = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def in_flight(self) -> int:
        return sum(len(s) for s in self._in_flight.values())

    def wake(self) -> None:
        self._wake.set()

    # -- loop ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            busy = False
            try:
                busy = await self.round()
            except asyncio.CancelledError:
                raise
            except FenceLost:
                return  # the scheduler notices on its next renewal
            except Exception as exc:
                self._error(f"round: {exc}")
                logger.warning("webhooks: sender round failed: %s", exc)
            if busy:
                # Rounds at most every busy_interval: under load each round takes a batch
                # rather than one round per finished attempt.
                self._pause = self.config.busy_interval
                await asyncio.sleep(self.config.busy_interval)
            else:
                await self._idle_wait()
            self._wake.clear()

    async def _idle_wait(self) -> None:
        """Sleep until there is work: an outbox row, or a pending delivery that is due (a
        retry, a dead leader's claim running out); looks again after ``_pause`` seconds,
        which doubles up to ``idle_interval`` while there is none. ``wake()`` (a replay, a
        finished attempt) ends the wait at once."""
        while True:
            self._wake.clear()
            try:
                async with self._db.system() as conn:
                    probe = await conn.fetchrow(Q.probe)
            except Exception as exc:
                self._error(f"probe: {exc}")
                probe = None
            wait = self._pause
            self._pause = min(self._pause * 2, self.config.idle_interval)
            if probe is not None:
                if probe["outbox"]:
                    return
                if probe["due"] is not None:
                    wait = min(wait, (probe["due"] - datetime.now(UTC)).total_seconds())
                if wait <= 0:
                    return
            try:
                async with asyncio.timeout(wait):  # not wait_for: see realtime/stream.py
                    await self._wake.wait()
                return
            except TimeoutError:
                if probe is None:
                    return  # the database was unreachable: try a round again

    async def round(self) -> bool:
        """Fan out and start due deliveries; True when there was work."""
        fence = self._require_fence()
        async with self._db.system() as conn, conn.transaction():
            await fence.check(conn)
            row = await conn.fetchrow(Q.fan_out, FAN_OUT_BATCH)
        assert row is not None
        moved = int(row["taken"])
        started = await self._start_due(fence)
        return moved > 0 or started > 0

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._queued.values())

    async def _start_due(self, fence: Fence) -> int:
        """Claim due deliveries for the endpoints' free slots and queues; start what fits."""
        held = self.queued
        if held >= DUE_BATCH:
            return 0
        async with self._db.system() as conn:
            due = await conn.fetch(Q.due, DUE_BATCH)
        if not due:
            return 0
        await self._load_endpoints(force=any(r["endpoint_id"] not in self._endpoints for r in due))
        room = {
            eid: ep.max_concurrency * (1 + QUEUE_PER_SLOT)
            - len(self._in_flight.get(eid, ()))
            - len(self._queued.get(eid, ()))
            for eid, ep in self._endpoints.items()
        }
        picked: list[Any] = []
        for r in due:
            eid = r["endpoint_id"]
            if room.get(eid, 0) > 0 and held + len(picked) < DUE_BATCH:
                room[eid] -= 1
                picked.append(r)
        if not picked:
            return 0
        async with self._db.system() as conn, conn.transaction():
            await fence.check(conn)
            claimed = await conn.fetch(
                Q.claim,
                [r["site_id"] for r in picked],
                [r["id"] for r in picked],
                self.config.timeout + CLAIM_MARGIN,
            )
        start_by = time.monotonic() + CLAIM_MARGIN
        for d in claimed:
            if d["endpoint_id"] in self._endpoints:
                self._queued.setdefault(d["endpoint_id"], deque()).append((start_by, dict(d)))
        for eid in {d["endpoint_id"] for d in claimed}:
            self._feed(fence, eid)
        return len(claimed)

    def _feed(self, fence: Fence, endpoint_id: UUID) -> None:
        """Start the endpoint's queued deliveries while it has free slots."""
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None:  # deleted or disabled meanwhile: its claims simply run out
            self._queued.pop(endpoint_id, None)
            return
        queue = self._queued.get(endpoint_id)
        busy = self._in_flight.setdefault(endpoint_id, set())
        while queue and len(busy) < endpoint.max_concurrency:
            if len(self._tasks) >= MAX_IN_FLIGHT:
                break
            start_by, d = queue.popleft()
            if time.monotonic() > start_by:
                continue  # its request could outlive the claim: a later round claims it again
            busy.add(d["id"])
            task = asyncio.create_task(self._attempt(fence, endpoint, d))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        metrics.IN_FLIGHT.set(self.in_flight)

    async def _load_endpoints(self, *, force: bool) -> None:
        if not force and time.monotonic() - self._endpoints_at < ENDPOINTS_REFRESH:
            return
        async with self._db.system() as conn:
            rows = await conn.fetch(Q.endpoints)
        endpoints: dict[UUID, Endpoint] = {}
        for r in rows:
            try:
                secret = self._box.open(r["secret_ciphertext"])
            except Exception:
                self._error(f"endpoint {r['id']}: cannot decrypt its secret (secret key changed?)")
                continue
            endpoints[r["id"]] = Endpoint(
                r["site_id"], r["id"], r["url"], r["format"], Webhook(secret), r["max_concurrency"]
            )
        self._endpoints = endpoints
        self._endpoints_at = time.monotonic()

    # -- one attempt --------------------------------------------------------------------

    def body(self, endpoint: Endpoint, d: dict[str, Any]) -> bytes:
        if endpoint.format == "slack":
            return slack_body(d["event_type"], d["payload"], self.config.dashboard_url)
        return envelope(d["event_type"], d["event_at"], d["payload"])

    async def _attempt(self, fence: Fence, endpoint: Endpoint, d: dict[str, Any]) -> None:
        msg_id = f"msg_{d['id'].hex}"
        at = datetime.now(UTC)
        body = self.body(endpoint, d)
        headers = {
            "content-type": "application/json",
            "user-agent": "leadtrail-webhooks",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": endpoint.signer.sign(msg_id, at, body),
        }
        status: int | None = None
        error: str | None = None
        t0 = time.perf_counter()
        try:
            assert self._client is not None
            status = await self._client.post(endpoint.url, body, headers)
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except PostError as exc:
            error = str(exc)[:500] or "PostError"
        duration = (time.perf_counter() - t0) * 1000
        self._outcomes.append(Outcome(endpoint, d, at, duration, status, error))
        # The endpoint's slot is free once it has answered (see the module's docstring).
        self._in_flight.get(endpoint.id, set()).discard(d["id"])
        if self._fence is fence:
            self._feed(fence, endpoint.id)
        self._wake.set()
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._record_outcomes(fence))
            self._tasks.add(self._recorder)
            self._recorder.add_done_callback(self._tasks.discard)

    async def _record_outcomes(self, fence: Fence) -> None:
        """Write finished attempts in batches: one fenced transaction for all that finished
        meanwhile (under load, dozens), rather than one per request."""
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            try:
                await self._record(fence, batch)
            except FenceLost:
                pass
            except Exception as exc:
                self._error(f"recording {len(batch)} attempt(s): {exc}")
                logger.warning("webhooks: could not record %d attempt(s): %s", len(batch), exc)
            finally:
                for o in batch:
                    self._in_flight.get(o.endpoint.id, set()).discard(o.d["id"])
                metrics.IN_FLIGHT.set(self.in_flight)
                self._wake.set()

    async def _record(self, fence: Fence, batch: list[Outcome]) -> None:
        ok = [o for o in batch if o.error is None]
        async with self._db.system() as conn, conn.transaction():
            await fence.check(conn)
            if ok:
                await conn.execute(
                    Q.delivered_many,
                    [o.d["site_id"] for o in ok],
                    [o.d["id"] for o in ok],
                    [o.at for o in ok],
                    [o.status for o in ok],
                )
            for o in batch:
                if o.error is not None:
                    delay = next_delay(
                        int(o.d["attempts"]) + 1, self.config.retry_base, self.config.retry_cap
                    )
                    retry_at: datetime | None = o.at + timedelta(seconds=delay)
                    window_end = o.d["window_start"] + timedelta(seconds=self.config.retry_window)
                    if retry_at is not None and retry_at > window_end:
                        retry_at = None
                    await conn.execute(
                        Q.failed, o.d["site_id"], o.d["id"], o.at, o.status, retry_at, o.error
                    )
            await conn.execute(
                Q.attempts_many,
                [o.d["site_id"] for o in batch],
                [o.d["id"] for o in batch],
                [o.endpoint.id for o in batch],
                [int(o.d["attempts"]) + 1 for o in batch],
                [o.at for o in batch],
                [o.duration for o in batch],
                [o.status for o in batch],
                [o.error for o in batch],
            )
        now = datetime.now(UTC)
        for o in batch:
            if o.error is None:
                self.delivered += 1
                metrics.DELIVERIES.labels("delivered").inc()
                metrics.LATENCY.observe(max(0.0, (now - o.d["event_at"]).total_seconds()))
            else:
                self.failures += 1
                metrics.DELIVERIES.labels("failed").inc()
                self.last_error = f"{o.endpoint.url}: {o.error}"[:500]

    def _require_fence(self) -> Fence:
        if self._fence is None:
            raise FenceLost("not leading")
        return self._fence

    def _error(self, message: str) -> None:
        self.failures += 1
        self.last_error = message[:500]
