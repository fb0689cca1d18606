"""The change feed: a logical replication stream (pgoutput) read, logged, then dispatched.

The feed holds two connections as the owner: a walsender connection streaming the node's
slot (``START_REPLICATION … LOGICAL``, see ``stream.py``) and an ordinary one that writes
the replay log. Whenever the stream has data, the feed:

1. reads what libpq holds (up to ``BATCH_ROWS`` messages) and assembles it
   (``Assembler``): positions, tables and sites, no JSON yet; transactions already in the
   replay log are skipped (a crash between steps 2 and 4 makes the server send them again);
2. writes them to the replay log, one row per site holding that site's raw pgoutput
   messages, and the node's progress, in one statement (one commit);
3. decodes the changes some subscriber is waiting for, once each, and dispatches them
   (synchronous, see ``Hub.dispatch``);
4. confirms (standby status update, flush position) up to the end of the last logged
   transaction; while nothing is open, up to where the server's keepalives say it decoded.

So a change is confirmed only once it is durable in the replay log, and a subscriber that
lost changes in flight (a socket buffer at SIGKILL) gets them back by joining with
``since``. Positions are a function of the WAL alone, so a change re-read after a crash
gets the position it had. No NOTIFY and no polling: a quiet feed sleeps in ``epoll`` and
wakes every ``STATUS_SECONDS`` to report its position.

Each server running a feed is a **node** with its own slot and replication origin, named
``leadtrail_rt_<database>_<node>``. The node name is ``realtime_node`` or, when a live
server holds that one (a session-level advisory lock on the owner connection),
``<realtime_node>_2``, ``_3`` …; a restarted server takes its old name back. The slot of
a node silent for ``realtime_slot_max_idle`` seconds is dropped by another node.

The log writes carry the node's replication origin and the stream is started with
``origin 'none'`` (PostgreSQL 16+), so they are not decoded again; while the database has
origins besides leadtrail's (a subscription applying rows), the stream takes every origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from operator import attrgetter
from uuid import UUID

import orjson
import psycopg

from leadtrail.config import Settings
from leadtrail.realtime import metrics
from leadtrail.realtime.access import TableAccess, TablePolicy, decide_readers
from leadtrail.realtime.changes import (
    Assembler,
    Change,
    RawChange,
    Transaction,
    from_micros,
    place,
    to_micros,
)
from leadtrail.realtime.hub import Hub
from leadtrail.realtime.logformat import Reader, split_by_site
from leadtrail.realtime.sources import (
    LOCAL,
    CitusSetupError,
    Source,
    check_cdc,
    connect,
    worker_dsn,
    worker_key,
)
from leadtrail.realtime.stream import ReplicationStream, StreamError
from leadtrail.realtime.values import PgType
from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.storage.citus import citus_version
from leadtrail.storage.database import PostgresError
from leadtrail.storage.queries import load

logger = logging.getLogger(__name__)
Q = load(__package__)

#: pgoutput messages handled per batch at most (one replay log commit each)
BATCH_ROWS = 5000
PUBLICATION = "leadtrail_realtime"
#: a quiet stream reports its position (and learns the server's) this often
STATUS_SECONDS = 10.0
#: a busy stream sends its confirmed position at most this often
CONFIRM_SECONDS = 0.5
#: how long a restarted stream waits for its previous walsender to let go of the slot
SLOT_RELEASE_SECONDS = 5.0
POLL_TIMEOUT_SECONDS = 30.0
#: several streams (Citus): a node's clock at a WAL position, less this, bounds the commit
#: times of what its stream has yet to send once it has decoded past that position (a
#: commit's timestamp is taken just before its commit record goes into the WAL)
MERGE_MARGIN_US = 5_000
#: a transaction waits at most this long for the other nodes' streams to pass its time (a
#: node whose stream lags more does not hold the others up longer; its own order holds)
MERGE_MAX_HOLD_SECONDS = 0.5
#: how often a lagging stream is asked for a keepalive, at most
MERGE_PING_SECONDS = 0.005
#: node names tried: realtime_node, realtime_node_2 … realtime_node_<MAX_NODES>
MAX_NODES = 16
UPKEEP_SECONDS = 30.0
RECONNECT_SECONDS = 1.0
#: replay log rows read per query
REPLAY_PAGE = 200
_NO_SITE = UUID(int=0)
#: 2000-01-01 UTC in Unix seconds (positions count microseconds from it)
PG_EPOCH_UNIX = 946_684_800


def slot_name(database: str, node: str) -> str:
    """``leadtrail_rt_<database>_<node>``: slots are cluster-wide, so the database is in it."""
    clean = re.sub(r"[^a-z0-9_]", "_", f"{database}_{node}".lower())
    return f"leadtrail_rt_{clean}"[:63]


class ReplayLog:
    """Reads for ``since`` joins, under the subscriber's claims (RLS applies)."""

    def __init__(self, db: Database, slot: str) -> None:
        self._db = db
        self.slot = slot
        #: changes at or before this position are no longer kept
        self.floor: datetime | None = None
        #: pg_type, to decode values (set by the feed)
        self.types: dict[int, PgType] = {}

    def unavailable_before(self) -> datetime | None:
        return self.floor

    async def read(
        self, since: datetime, until: datetime, sites: frozenset[str], tables: frozenset[str]
    ) -> AsyncIterator[Change]:
        """Changes after ``since`` up to ``until`` in position order, for these tables.

        Rows come ordered by (batch, site); a batch's rows are merged by position before
        anything of it is yielded, so a page may end in the middle of a batch."""
        claims = Claims(
            role=DbRole.ANALYST, sub="realtime-replay", site_ids=tuple(UUID(s) for s in sites)
        )
        reader = Reader(self.types)
        low, high = to_micros(since), to_micros(until)
        cursor: tuple[datetime, UUID | str] = (since, _NO_SITE)
        batch_end: datetime | None = None
        batch: list[RawChange] = []
        while True:
            async with self._db.transaction(claims) as conn:
                rows = await conn.fetch(
                    Q.replay, self.slot, cursor[0], cursor[1], until, since, REPLAY_PAGE
                )
            for row in rows:
                if row["batch_end"] != batch_end:
                    for change in _merged(batch, low, high, tables):
                        yield change
                    batch, batch_end = [], row["batch_end"]
                batch.extend(reader.changes(bytes(row["data"]), row["site_id"]))
            if len(rows) < REPLAY_PAGE:
                break
            cursor = (rows[-1]["batch_end"], rows[-1]["site_id"])
        for change in _merged(batch, low, high, tables):
            yield change
        if self.floor is not None and self.floor > since:
            # Pruned while we read: what was served is right, but it may have a hole.
            raise RuntimeError("the replay log was pruned past since during the read")


def _merged(
    batch: Sequence[RawChange], low: int, high: int, tables: frozenset[str]
) -> list[Change]:
    """One batch's changes of the wanted tables in (low, high], by position."""
    keep = [c for c in batch if low < c.position <= high and c.codec.name in tables]
    keep.sort(key=lambda c: c.position)
    return [c.decode() for c in keep]


async def drop_stale_slots(conn: Connection, own_slot: str, max_idle: float) -> list[str]:
    """Drop the slots (and replay logs) of nodes silent for longer than ``max_idle`` seconds:
    a slot nobody reads keeps WAL forever."""
    dropped = []
    for stale in await conn.fetch(Q.stale_nodes, own_slot, float(max_idle)):
        name = stale["slot_name"]
        logger.warning(
            "realtime: dropping slot %s: its node has been gone longer than %ss", name, max_idle
        )
        await conn.execute(Q.drop_slot, name)
        await conn.execute(Q.forget_node, name)
        with contextlib.suppress(PostgresError):  # no origin (PostgreSQL 15), or in use
            await conn.execute(Q.drop_origin, name)
        dropped.append(name)
    return dropped


class ChangeFeed:
    """Component: owns the node's slots, the replication streams and the replay log writes."""

    name = "realtime-feed"

    def __init__(self, settings: Settings, db: Database, hub: Hub) -> None:
        self.settings = settings
        self.db = db
        self.hub = hub
        #: this server's node name (``realtime_node``, or a free ``<realtime_node>_N``)
        self.node = ""
        self.slot = ""
        self.replay = ReplayLog(db, "")
        self._types: dict[int, PgType] = {}
        self._task: asyncio.Task[None] | None = None
        self._conn: Connection | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        #: the database's own stream first, then (on Citus) one per worker
        self._sources: list[Source] = []
        #: the last position handed out across streams (several streams only)
        self._last = -(2**62)
        #: the streams the first held transaction waits for, and its commit time
        self._behind: tuple[list[Source], int] | None = None
        #: when a stream too far behind to wait for was last logged (monotonic)
        self._warned_hold = -STATUS_SECONDS
        self._durable_position: datetime | None = None
        self._logged_total = 0
        self._last_upkeep = 0.0
        #: this connection writes under the node's replication origin
        self._has_origin = False
        #: the database has replication origins besides leadtrail's feeds
        self._foreign_origins = False
        #: the stream leaves out origin-tagged transactions (``origin 'none'``)
        self._skipping_origins = False
        #: set after each batch and each quiet status round; tests and benchmarks await it
        self.polled = asyncio.Event()

    @property
    def sources(self) -> list[Source]:
        """The streamed nodes: the database's own first (tests look at them)."""
        return self._sources

    # -- component -------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._open()
        except Exception as exc:
            self.hub.feed_problem = f"the change feed could not start: {exc}"
            logger.error("realtime: %s", self.hub.feed_problem)
            await self._close()
            if isinstance(exc, CitusSetupError) or not isinstance(
                exc, PostgresError | psycopg.Error | OSError | ConnectionError
            ):
                return  # e.g. wal_level is not logical: retrying will not help
            # e.g. the backend of a killed predecessor still holds the replication origin
            # for a moment: the loop opens again until it works.
        self._task = asyncio.create_task(self._run(), name="realtime-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()

    # -- setup -----------------------------------------------------------------------

    async def _open(self) -> None:
        self._stack = contextlib.AsyncExitStack()
        conn = await self._stack.enter_async_context(self.db.owner_connection())
        self._conn = conn
        try:
            await conn.execute(Q.quiet_session)
        except PostgresError:  # not a superuser: the server log keeps the feed's lines
            logger.info("realtime: cannot quiet the feed session's server log lines")
        wal_level = await conn.fetchval("SHOW wal_level")
        if wal_level != "logical":
            raise RuntimeError(f"wal_level is '{wal_level}', it must be 'logical'")
        database = await conn.fetchval("SELECT current_database()")
        await self._claim_node(conn, database)
        self.replay.slot = self.slot
        node = await conn.fetchrow(Q.node_open, self.slot)
        assert node is not None
        floor = node["pruned_through"]
        local = Source(LOCAL, self.db.dsn, conn)
        self._sources = [local]
        if await citus_version(conn) is not None:
            await check_cdc(conn, "the coordinator")
            for row in await conn.fetch(Q.citus_workers):
                dsn = worker_dsn(self.db.dsn, row["host"], row["port"])
                worker = await connect(dsn)
                self._stack.push_async_callback(worker.close)
                key = worker_key(row)
                await check_cdc(worker, f"the worker {key}")
                self._sources.append(Source(key, dsn, worker))
        stream_lsns = orjson.loads(node["stream_lsns"] or "{}")
        for source in self._sources:
            recreated = await self._ensure_slot(source, database)
            if recreated and source.key == LOCAL:
                floor = await conn.fetchval(Q.node_slot_recreated, self.slot)
            elif recreated:
                # a fresh slot on a worker: its old LSNs say nothing about the new stream
                await conn.execute(Q.forget_stream, self.slot, source.key)
                stream_lsns.pop(source.key, None)
            source.durable_lsn = (
                int(node["last_commit_lsn"])
                if source.key == LOCAL
                else int(stream_lsns.get(source.key, 0))
            )
        self.replay.floor = floor
        self._has_origin = bool(await conn.fetchval(Q.can_use_origins))
        if self._has_origin:
            # Everything this connection writes (the replay log) carries the origin, and
            # the stream leaves such transactions out before decoding their rows.
            await conn.execute(Q.create_origin, self.slot)
            await conn.execute(Q.use_origin, self.slot)
            await self._check_origins()
        else:
            logger.warning(
                "realtime: replication origins are unavailable (PostgreSQL 15, or no EXECUTE "
                "on pg_replication_origin_session_setup); the replay log's own writes are "
                "decoded too"
            )
        self._types = await _load_types(conn)
        for source in self._sources:
            source.types = (
                self._types if source.conn is conn else await _load_types(source.require_conn())
            )
        self.replay.types = self._types
        await self._load_catalog()
        self._durable_position = node["last_position"]
        self._logged_total = int(node["logged_changes"])
        await self._open_stream()
        self.hub.dispatched = node["last_position"] or floor
        self.hub.feed_problem = None
        self._signal()

    async def _ensure_slot(self, source: Source, database: str) -> bool:
        """The node's slot, created when missing or when it lost WAL; True when created."""
        conn = source.require_conn()
        where = f" on {source.key}" if source.key else ""
        info = await conn.fetchrow(Q.slot_info, self.slot)
        if info is not None and info["database"] != database:
            raise RuntimeError(
                f"replication slot {self.slot}{where} belongs to database {info['database']}"
            )
        if info is not None and info["wal_status"] == "lost":
            logger.error(
                "realtime: slot %s%s lost WAL it needed (max_slot_wal_keep_size); changes in "
                "between are gone, recreating it",
                self.slot,
                where,
            )
            await conn.execute(Q.drop_slot, self.slot)
            info = None
        if info is None:
            source.confirmed = int(await conn.fetchval(Q.create_slot, self.slot))
            logger.info("realtime: created replication slot %s%s", self.slot, where)
            return True
        source.confirmed = int(info["confirmed"] or 0)
        return False

    async def _claim_node(self, conn: Connection, database: str) -> None:
        """Take the first node name no live server holds (the lock lives as long as the
        owner connection; a restarted server gets its old name, so its replay log, back)."""
        base = self.settings.realtime_node
        preferred = [self.node] if self.node else []
        candidates = [base] + [f"{base}_{n}" for n in range(2, MAX_NODES + 1)]
        for name in preferred + [c for c in candidates if c not in preferred]:
            slot = slot_name(database, name)
            if await conn.fetchval(Q.claim_node, slot):
                if self.node and name != self.node:
                    logger.warning(
                        "realtime: node %s is taken, this server is now %s", self.node, name
                    )
                elif name != base:
                    logger.info(
                        "realtime: node %s is held by a live server; this one is %s", base, name
                    )
                self.node, self.slot = name, slot
                return
        raise RuntimeError(
            f"all {MAX_NODES} realtime node names {base}[_N] are held by live servers"
        )

    async def _open_stream(self) -> None:
        """Start streaming every node's slot from what is confirmed (the server sends what
        follows again; the assemblers skip what the replay log already holds)."""
        await self._close_stream()
        options = {"proto_version": "1", "publication_names": PUBLICATION}
        self._skipping_origins = self._has_origin and not self._foreign_origins
        if self._skipping_origins:
            options["origin"] = "none"
        for source in self._sources:
            stream = ReplicationStream(source.dsn, self.slot, source.confirmed, options)
            deadline = time.monotonic() + SLOT_RELEASE_SECONDS
            while True:
                try:
                    await stream.open()
                    break
                except psycopg.errors.ObjectInUse:
                    # Our own previous walsender has not exited yet (this server holds the
                    # node, so nobody else streams its slot): it will in a moment.
                    await stream.close()
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.05)
            source.stream = stream
        self._reset_assembler()

    def _reset_assembler(self) -> None:
        """Fresh decoder states that continue from what the replay log holds."""
        merged = len(self._sources) > 1
        if self._durable_position is not None:
            self._last = to_micros(self._durable_position)
        for source in self._sources:
            source.held.clear()
            source.probe = None
            source.assembler = Assembler(
                types=dict(source.types),
                last_position=self._durable_position,
                skip_through_lsn=source.durable_lsn,
                placed=not merged,
            )

    async def _load_catalog(self) -> None:
        """Published tables, their columns, and who may read them (fail closed)."""
        conn = self._require_conn()
        tables: dict[str, dict[str, PgType]] = {}
        for r in await conn.fetch(Q.published_columns):
            oid = r["type_oid"]
            tables.setdefault(r["table_name"], {})[r["column_name"]] = self._types.get(
                oid, PgType(oid, "unknown", "X")
            )
        names = sorted(tables)
        policies: dict[str, list[tuple[str, tuple[str, ...], str, bool, str]]] = {}
        for r in await conn.fetch(Q.table_policies, names):
            policies.setdefault(r["table_name"], []).append(
                (r["name"], tuple(r["roles"]), r["cmd"], r["permissive"], r["using_expr"])
            )
        readers = {}
        for r in await conn.fetch(Q.table_security, names):
            table = r["table_name"]
            readers[table] = decide_readers(
                TablePolicy(
                    table=table,
                    rls_enabled=r["rls_enabled"],
                    rls_forced=r["rls_forced"],
                    select_grants={
                        DbRole.ANALYST: r["analyst_select"],
                        DbRole.ADMIN: r["admin_select"],
                    },
                    policies=tuple(policies.get(table, ())),
                )
            )
            if not readers[table]:
                logger.error(
                    "realtime: table %s is published but its RLS is not the tenant policy "
                    "alone; nobody receives its changes",
                    table,
                )
        self.hub.tables = tables
        self.hub.access = TableAccess(readers)

    async def _close_stream(self) -> None:
        """Close the streams and wait (briefly) until their walsenders let go of the slots,
        so whoever comes next (this feed again, a test dropping a slot) finds them free."""
        for source in self._sources:
            stream, source.stream = source.stream, None
            if stream is None:
                continue
            with contextlib.suppress(Exception):
                await stream.close()
            if source.conn is None or source.conn.is_closed():
                continue
            deadline = time.monotonic() + SLOT_RELEASE_SECONDS
            with contextlib.suppress(Exception):
                while await source.conn.fetchval(Q.slot_active, self.slot):
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.01)

    async def _close(self) -> None:
        await self._close_stream()
        if self._stack is not None:
            with contextlib.suppress(Exception):
                await self._stack.aclose()
        self._stack = None
        self._conn = None
        for source in self._sources:
            source.conn = None

    def _require_conn(self) -> Connection:
        assert self._conn is not None
        return self._conn

    def _require_stream(self) -> ReplicationStream:
        if not self._sources:
            raise StreamError("the replication stream is not open")
        return self._sources[0].require_stream()

    def _signal(self) -> None:
        self.polled.set()
        self.polled = asyncio.Event()

    # -- loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                if self._conn is None:
                    await self._open()
                now = loop.time()
                if now - self._last_upkeep >= UPKEEP_SECONDS:
                    self._last_upkeep = now
                    await self._upkeep()
                last_status = min(s.require_stream().last_status for s in self._sources)
                quiet = STATUS_SECONDS - (time.monotonic() - last_status)
                upkeep = self._last_upkeep + UPKEEP_SECONDS - loop.time()
                timeout = max(0.0, min(quiet, upkeep))
                if self._holding:
                    timeout = min(timeout, 0.01)
                if await self._wait(timeout) or self._holding:
                    await self.step()
                elif time.monotonic() - last_status >= STATUS_SECONDS:
                    await self._report()
            except asyncio.CancelledError:
                raise
            except (PostgresError, psycopg.Error, OSError, ConnectionError, RuntimeError) as exc:
                logger.warning("realtime: feed interrupted (%s); reconnecting", exc)
                await self._close()
                await asyncio.sleep(RECONNECT_SECONDS)
            except Exception:
                logger.exception("realtime: feed failed; reconnecting")
                await self._close()
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _wait(self, timeout: float) -> bool:
        """Until some stream has data (True) or ``timeout`` seconds passed (False)."""
        if len(self._sources) == 1:
            return await self._require_stream().wait(timeout)
        waits = [asyncio.ensure_future(s.require_stream().wait(timeout)) for s in self._sources]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        return any(w.result() for w in done if not w.cancelled() and w.exception() is None)

    def _take(self) -> list[tuple[Source, list[Transaction]]]:
        """What the streams have now, assembled. Several streams are merged by commit time:
        a transaction is released once every other node has sent what it committed before
        it (its watermark is past), and its changes get their positions in that order."""
        taken = []
        try:
            for source in self._sources:
                stream = source.require_stream()
                done = source.assembler.take(stream.read(BATCH_ROWS))
                taken.append((source, done))
        except Exception:
            self._reset_assembler()
            raise
        if len(taken) == 1:
            return taken
        now = time.monotonic()
        for source, done in taken:
            source.held.extend((now, t) for t in done)
            if done:
                source.watermark = max(source.watermark, done[-1].commit_time)
            stream = source.require_stream()
            if source.assembler.in_transaction:
                # what follows in this stream committed after the transaction being read
                source.watermark = max(source.watermark, source.assembler.open_commit_time)
            elif source.probe is not None and (
                max(stream.server_lsn, stream.received) >= source.probe[0]
            ):
                # decoded past the node's WAL insert position of the probe: every commit
                # timestamped before it (less the margin) has been sent
                source.watermark = max(source.watermark, source.probe[1] - MERGE_MARGIN_US)
                source.probe = None
        released: dict[str, list[Transaction]] = {s.key: [] for s in self._sources}
        order: list[Transaction] = []
        self._behind = None
        while True:
            heads = [s for s in self._sources if s.held]
            if not heads:
                break
            first = min(heads, key=lambda s: s.held[0][1].commit_time)
            received, transaction = first.held[0]
            behind = [
                o
                for o in self._sources
                if o is not first and not o.held and o.watermark < transaction.commit_time
            ]
            if behind and now - received < MERGE_MAX_HOLD_SECONDS:
                self._behind = (behind, transaction.commit_time)
                break
            if behind and now - self._warned_hold >= STATUS_SECONDS:
                self._warned_hold = now
                logger.warning(
                    "realtime: the stream of %s is more than %.1fs behind; releasing changes "
                    "of the other nodes without waiting for it (logged every %.0fs at most)",
                    ", ".join(o.key or "the coordinator" for o in behind),
                    MERGE_MAX_HOLD_SECONDS,
                    STATUS_SECONDS,
                )
            first.held.popleft()
            released[first.key].append(transaction)
            order.append(transaction)
        self._last = place(order, self._last)
        return [(s, released[s.key]) for s in self._sources]

    @property
    def _holding(self) -> bool:
        return any(s.held for s in self._sources)

    async def _probe(self) -> None:
        """Ask the nodes a held transaction waits for where their WAL is now (insert
        position and clock), then for a keepalive: once a stream has decoded past that
        position, it has sent everything committed before that time."""
        if self._behind is None:
            return
        behind, commit_time = self._behind
        now = time.monotonic()
        for source in behind:
            if source.probe is not None and source.probe[1] - MERGE_MARGIN_US >= commit_time:
                continue  # a probe late enough is waiting for its stream
            if now - source.pinged < MERGE_PING_SECONDS:
                continue
            source.pinged = now
            row = await source.require_conn().fetchrow(Q.wal_probe)
            assert row is not None
            source.probe = (int(row["lsn"]), int(row["clock"]))
            source.require_stream().send_status(reply=True)

    async def step(self) -> int:
        """Read what the streams have now, log it, dispatch it, confirm it; returns the
        number of changes (0 when nothing complete arrived)."""
        clock = time.perf_counter
        t0 = clock()
        taken = self._take()
        await self._probe()
        changes = sorted(
            (c for _, done in taken for t in done for c in t.changes),
            key=attrgetter("position"),
        )
        t1 = clock()
        foreign: bool | None = None
        any_done = any(done for _, done in taken)
        if changes:
            metrics.POLLS.inc()
            metrics.PHASE_SECONDS.labels("decode").inc(t1 - t0)
            try:
                foreign = await self._log(changes, taken)
            except BaseException:
                # The assemblers already moved on: rebuild them from what is durable.
                self._reset_assembler()
                raise
            t2 = clock()
            self._dispatch(changes)
            metrics.PHASE_SECONDS.labels("log").inc(t2 - t1)
            metrics.PHASE_SECONDS.labels("dispatch").inc(clock() - t2)
            metrics.CHANGES.inc(len(changes))
        if any_done:
            if foreign is None and self._skipping_origins:
                foreign = await self._foreign_origin_count() > 0
            if foreign and self._skipping_origins:
                # An origin appeared: transactions under it may have been left out since
                # the last confirmation. Stream again from there, taking every origin.
                await self._check_origins()
                await self._open_stream()
                self._signal()
                return len(changes)
            for source, done in taken:
                if done:
                    self._confirm(source, max(t.end_lsn for t in done))
        for source in self._sources:
            stream = source.require_stream()
            if (
                stream.reply_owed
                and not self._skipping_origins
                and not source.assembler.in_transaction
                and not source.held
            ):
                # The server asks where we are (a shutting-down walsender waits until the
                # client has confirmed all it sent): all it sent before its keepalive is
                # read and logged, so confirm up to there.
                self._confirm(source, stream.server_lsn)
            if stream.reply_owed or (
                stream.confirmed > stream.sent_confirmed
                and time.monotonic() - stream.last_status >= CONFIRM_SECONDS
            ):
                stream.send_status()
        self._signal()
        return len(changes)

    def _confirm(self, source: Source, lsn: int) -> None:
        source.confirmed = max(source.confirmed, lsn)
        source.require_stream().confirm(source.confirmed)

    async def _report(self) -> None:
        """Quiet streams: confirm up to where each server said it decoded (nothing of ours
        is pending), then send a status update asking where it is now."""
        if await self._origins_changed():
            await self._open_stream()
            self._signal()
            return
        for source in self._sources:
            stream = source.require_stream()
            if (
                stream.server_lsn > source.confirmed
                and not source.assembler.in_transaction
                and not source.held
            ):
                self._confirm(source, stream.server_lsn)
            stream.send_status(reply=True)
        self._signal()

    async def poll(self) -> int:
        """Handle everything committed before this call (tests and tools): reads until
        every server reports having decoded past its WAL flush position of now."""
        if await self._origins_changed():
            await self._open_stream()
        targets = [
            int(await s.require_conn().fetchval(Q.wal_flush_position)) for s in self._sources
        ]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + POLL_TIMEOUT_SECONDS
        total = 0
        while True:
            total += await self.step()
            behind = [
                s
                for s, target in zip(self._sources, targets, strict=True)
                if s.require_stream().server_lsn < target
                or s.require_stream().more
                or s.assembler.in_transaction
                or s.held
            ]
            if not behind and not self._holding:
                return total
            if loop.time() > deadline:
                raise TimeoutError("the replication stream did not catch up")
            for source in behind:
                source.require_stream().send_status(reply=True)
            await self._wait(0.05)

    async def _log(
        self, changes: list[RawChange], taken: list[tuple[Source, list[Transaction]]]
    ) -> bool:
        """The batch, one row per site, and each node's progress: durable in one commit.
        Returns whether the database has replication origins besides leadtrail's."""
        conn = self._require_conn()
        last = changes[-1]
        blobs = split_by_site(changes)
        data = [b.data() for b in blobs]
        total = self._logged_total + sum(b.count for b in blobs)
        batch_end = from_micros(last.position)
        lsns = {
            source.key: max(t.commit_lsn for t in done if t.changes)
            for source, done in taken
            if any(t.changes for t in done)
        }
        local = self._sources[0]
        foreign = await conn.fetchval(
            Q.log_batch,
            self.slot,
            batch_end,
            total,
            [b.site_id for b in blobs],
            [from_micros(b.first) for b in blobs],
            [from_micros(b.last) for b in blobs],
            [b.count for b in blobs],
            data,
            lsns.get(LOCAL, local.durable_lsn),
            {k: v for k, v in lsns.items() if k != LOCAL},
        )
        self._logged_total = total
        for source in self._sources:
            if source.key in lsns:
                source.durable_lsn = source.assembler.skip_through_lsn = lsns[source.key]
        self._durable_position = batch_end
        metrics.LOG_ROWS.inc(len(blobs))
        metrics.LOG_BYTES.inc(sum(len(d) for d in data))
        return bool(foreign)

    def _dispatch(self, changes: list[RawChange]) -> None:
        """Decode what someone waits for (once for all its subscribers), then fan out.

        Synchronous from the decision to the hand-over: a channel that joins while the
        log is written is either already in the hub here, or serves this batch from the
        log (its ``until`` is taken after this runs)."""
        hub = self.hub
        wanted = []
        for change in changes:
            site = change.site_id
            if site is not None and hub.wants(site, change.codec.name):
                try:
                    wanted.append(change.decode())
                except Exception:
                    logger.exception(
                        "realtime: cannot decode a change of %s; not delivered live",
                        change.codec.name,
                    )
        before = hub.deliveries
        hub.dispatch(wanted, through=from_micros(changes[-1].position))
        lag = time.time() - PG_EPOCH_UNIX - min(c.position for c in changes) / 1e6
        metrics.LAG_SECONDS.observe(max(0.0, lag))
        metrics.DECODED.inc(len(wanted))
        metrics.DELIVERIES.inc(hub.deliveries - before)

    async def _upkeep(self) -> None:
        conn = self._require_conn()
        s = self.settings
        row = await conn.fetchrow(
            Q.prune, self.slot, float(s.realtime_replay_seconds), s.realtime_replay_max_changes
        )
        if row is not None:
            self.replay.floor = row["pruned_through"]
        dropped = await drop_stale_slots(conn, self.slot, s.realtime_slot_max_idle)
        for source in self._sources[1:]:
            for name in dropped:
                with contextlib.suppress(PostgresError):
                    await source.require_conn().execute(Q.drop_slot, name)
        await self._load_catalog()
        if len(self._sources) > 1 and await self._workers_changed():
            raise ConnectionError("the Citus workers changed: streaming from the new set")
        if await self._origins_changed():
            await self._open_stream()

    async def _workers_changed(self) -> bool:
        rows = await self._require_conn().fetch(Q.citus_workers)
        return [worker_key(r) for r in rows] != [s.key for s in self._sources[1:]]

    async def _foreign_origin_count(self) -> int:
        return int(await self._require_conn().fetchval(Q.foreign_origins))

    async def _origins_changed(self) -> bool:
        """Whether the stream must start again with other origin options."""
        if not self._has_origin:
            return False
        await self._check_origins()
        return self._skipping_origins == self._foreign_origins

    async def _check_origins(self) -> None:
        """Say when origin-tagged transactions stop being skipped: the stream takes every
        origin while the database has origins other than leadtrail's feeds (rows that a
        subscription or a replication tool applies carry one and must be delivered)."""
        foreign = await self._foreign_origin_count() > 0
        if foreign and not self._foreign_origins:
            logger.warning(
                "realtime: this database has replication origins of its own (a subscription?); "
                "streaming every origin, so the replay log's writes are decoded too"
            )
        self._foreign_origins = foreign


async def _load_types(conn: Connection) -> dict[int, PgType]:
    return {
        r["oid"]: PgType(r["oid"], r["name"], r["category"], r["element"])
        for r in await conn.fetch(Q.types)
    }
