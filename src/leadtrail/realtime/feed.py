"""The change feed: a logical replication slot read with pgoutput, logged, then dispatched.

Each poll is one round trip on a dedicated owner connection (``leadtrail.realtime_poll``):
confirm the slot (``pg_replication_slot_advance``) up to what the previous poll
dispatched, now and then write a running-xacts record, note the current WAL position
``upto`` and peek the slot's changes committed before it (nothing is consumed yet). Then:

1. assemble them (``Assembler``): positions, tables and sites, no JSON yet; transactions
   already in the replay log are skipped (a crash between steps 2 and 4 makes the next peek
   return them again);
2. write them to the replay log, one row per site holding that site's raw pgoutput
   messages, and the node's progress, in one statement (one commit);
3. decode the changes some subscriber is waiting for, once each, and dispatch them
   (synchronous, see ``Hub.dispatch``);
4. confirm up to ``upto`` (at the start of the next poll).

So a change is confirmed only once it is durable in the replay log, and a subscriber that
lost changes in flight (a socket buffer at SIGKILL) gets them back by joining with
``since``. Positions are a function of the WAL alone, so a change re-read after a crash
gets the position it had. No NOTIFY is involved.

The feed's connection writes under a replication origin named like its slot and peeks with
``origin = 'none'`` (PostgreSQL 16+), so the log writes are not decoded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from uuid import UUID

from leadtrail.config import Settings
from leadtrail.realtime import metrics
from leadtrail.realtime.access import TableAccess, TablePolicy, decide_readers
from leadtrail.realtime.changes import (
    Assembler,
    Change,
    RawChange,
    from_micros,
    to_micros,
)
from leadtrail.realtime.hub import Hub
from leadtrail.realtime.logformat import Reader, split_by_site
from leadtrail.realtime.values import PgType
from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.storage.database import PostgresError
from leadtrail.storage.queries import load

logger = logging.getLogger(__name__)
Q = load(__package__)

BATCH_ROWS = 5000
#: seconds between running-xacts records written for the slot's restart point while WAL
#: is being written; when nothing else writes, one a second keeps the slot moving
SNAPSHOT_SECONDS = 0.05
IDLE_SNAPSHOT_SECONDS = 1.0
#: WAL growth between two polls, beyond the feed's own records, that counts as busy
BUSY_WAL_BYTES = 4096
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
    """Component: owns the slot, the replay log writes and the poll loop."""

    name = "realtime-feed"

    def __init__(self, settings: Settings, db: Database, hub: Hub) -> None:
        self.settings = settings
        self.db = db
        self.hub = hub
        self.slot = ""
        self.replay = ReplayLog(db, "")
        self._types: dict[int, PgType] = {}
        self._task: asyncio.Task[None] | None = None
        self._conn: Connection | None = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._assembler = Assembler()
        #: the slot is confirmed up to here; the next poll confirms up to ``_target``
        self._confirmed = 0
        self._target = 0
        self._durable_lsn = 0
        self._durable_position: datetime | None = None
        self._logged_total = 0
        self._last_upkeep = 0.0
        self._last_snapshot = 0.0
        self._can_log_snapshot = False
        #: the last poll saw changes or WAL written by others
        self._busy = True
        self._last_upto = 0
        self._last_full_poll = 0.0
        #: this connection writes under the node's replication origin
        self._has_origin = False
        #: the database has replication origins besides leadtrail's (for the log message)
        self._foreign_origins = False
        #: set after each poll; tests and benchmarks await it
        self.polled = asyncio.Event()

    # -- component -------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._open()
        except Exception as exc:
            self.hub.feed_problem = f"the change feed could not start: {exc}"
            logger.error("realtime: %s", self.hub.feed_problem)
            await self._close()
            if not isinstance(exc, PostgresError | OSError | ConnectionError):
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
        except PostgresError:  # not a superuser: the server log keeps the per-poll lines
            logger.info("realtime: cannot quiet the feed session's server log lines")
        wal_level = await conn.fetchval("SHOW wal_level")
        if wal_level != "logical":
            raise RuntimeError(f"wal_level is '{wal_level}', it must be 'logical'")
        database = await conn.fetchval("SELECT current_database()")
        self.slot = slot_name(database, self.settings.realtime_node)
        self.replay.slot = self.slot
        node = await conn.fetchrow(Q.node_open, self.slot)
        assert node is not None
        floor = node["pruned_through"]
        info = await conn.fetchrow(Q.slot_info, self.slot)
        if info is not None and info["database"] != database:
            raise RuntimeError(
                f"replication slot {self.slot} belongs to database {info['database']}"
            )
        if info is not None and info["wal_status"] == "lost":
            logger.error(
                "realtime: slot %s lost WAL it needed (max_slot_wal_keep_size); changes in "
                "between are gone, recreating it",
                self.slot,
            )
            await conn.execute(Q.drop_slot, self.slot)
            info = None
        if info is None:
            self._confirmed = int(await conn.fetchval(Q.create_slot, self.slot))
            floor = await conn.fetchval(Q.node_slot_recreated, self.slot)
            logger.info("realtime: created replication slot %s", self.slot)
        else:
            self._confirmed = int(info["confirmed"] or 0)
        self._target = self._confirmed
        self.replay.floor = floor
        self._can_log_snapshot = bool(await conn.fetchval(Q.can_log_snapshot))
        self._has_origin = bool(await conn.fetchval(Q.can_use_origins))
        if self._has_origin:
            # Everything this connection writes (the replay log) carries the origin, and
            # the peek leaves such transactions out before decoding their rows.
            await conn.execute(Q.create_origin, self.slot)
            await conn.execute(Q.use_origin, self.slot)
            await self._check_origins()
        else:
            logger.warning(
                "realtime: replication origins are unavailable (PostgreSQL 15, or no EXECUTE "
                "on pg_replication_origin_session_setup); the replay log's own writes are "
                "decoded too"
            )
        self._types = {
            r["oid"]: PgType(r["oid"], r["name"], r["category"], r["element"])
            for r in await conn.fetch(Q.types)
        }
        self.replay.types = self._types
        await self._load_catalog()
        self._durable_lsn = int(node["last_commit_lsn"])
        self._durable_position = node["last_position"]
        self._logged_total = int(node["logged_changes"])
        self._reset_assembler()
        self.hub.dispatched = node["last_position"] or floor
        self.hub.feed_problem = None

    def _reset_assembler(self) -> None:
        """A fresh decoder state that continues from what the replay log holds."""
        self._assembler = Assembler(
            types=dict(self._types),
            last_position=self._durable_position,
            skip_through_lsn=self._durable_lsn,
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

    async def _close(self) -> None:
        if self._stack is not None:
            with contextlib.suppress(Exception):
                await self._stack.aclose()
        self._stack = None
        self._conn = None

    def _require_conn(self) -> Connection:
        assert self._conn is not None
        return self._conn

    # -- loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.settings.realtime_poll_interval
        idle_interval = max(interval, self.settings.realtime_idle_poll_interval)
        while True:
            try:
                if self._conn is None:
                    await self._open()
                started = loop.time()
                if started - self._last_upkeep >= UPKEEP_SECONDS:
                    self._last_upkeep = started
                    await self._upkeep()
                if self._busy or await self._wal_moved(started):
                    await self.poll()
                # At most one poll per interval while busy: a busy feed gets batches worth a
                # round trip and a commit. Idle, a cheap look at the WAL position every
                # `realtime_idle_poll_interval` replaces the decoding peek.
                pause = interval if self._busy else idle_interval
                await asyncio.sleep(max(0.0, started + pause - loop.time()))
            except asyncio.CancelledError:
                raise
            except (PostgresError, OSError, ConnectionError, RuntimeError) as exc:
                logger.warning("realtime: feed interrupted (%s); reconnecting", exc)
                await self._close()
                await asyncio.sleep(RECONNECT_SECONDS)
            except Exception:
                logger.exception("realtime: feed failed; reconnecting")
                await self._close()
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _wal_moved(self, now: float) -> bool:
        """Whether an idle feed should poll: WAL was written since its last poll, a
        confirmation is owed, or a second passed (the slot's snapshot record)."""
        if self._target > self._confirmed or now - self._last_full_poll >= IDLE_SNAPSHOT_SECONDS:
            return True
        position = await self._require_conn().fetchval(Q.wal_position)
        return int(position) > self._last_upto

    async def poll(self) -> int:
        """One confirm/peek/log/dispatch round; returns the number of changes."""
        self._last_full_poll = asyncio.get_running_loop().time()
        conn = self._require_conn()
        clock = time.perf_counter
        now = asyncio.get_running_loop().time()
        since_snapshot = now - self._last_snapshot
        snapshot = self._can_log_snapshot and (
            since_snapshot >= IDLE_SNAPSHOT_SECONDS
            or (self._busy and since_snapshot >= SNAPSHOT_SECONDS)
        )
        if snapshot:
            self._last_snapshot = now
        confirm = self._target if self._target > self._confirmed else None
        t0 = clock()
        rows = await conn.fetch(Q.poll, self.slot, confirm, snapshot, BATCH_ROWS, self._has_origin)
        t1 = clock()
        if confirm is not None:
            self._confirmed = confirm
        upto = int(rows[-1]["lsn"])
        count = len(rows) - 1
        self._busy = count > 0 or upto - self._last_upto > BUSY_WAL_BYTES
        self._last_upto = upto
        try:
            done = self._assembler.take((r["lsn"], r["data"]) for r in rows[:count])
        except Exception:
            self._reset_assembler()
            raise
        changes = [c for t in done for c in t.changes]
        t2 = clock()
        metrics.POLLS.inc()
        metrics.PHASE_SECONDS.labels("peek").inc(t1 - t0)
        metrics.PHASE_SECONDS.labels("decode").inc(t2 - t1)
        if changes:
            try:
                await self._log(changes)
            except BaseException:
                # The assembler already moved on: rebuild it from what is durable.
                self._reset_assembler()
                raise
            t3 = clock()
            self._dispatch(changes)
            metrics.PHASE_SECONDS.labels("log").inc(t3 - t2)
            metrics.PHASE_SECONDS.labels("dispatch").inc(clock() - t3)
            metrics.CHANGES.inc(len(changes))
        target = upto if count < BATCH_ROWS else (done[-1].end_lsn if done else 0)
        self._target = max(self._target, target)
        self.polled.set()
        self.polled = asyncio.Event()
        return len(changes)

    async def _log(self, changes: list[RawChange]) -> None:
        """The batch, one row per site, and the node's progress: durable in one commit."""
        conn = self._require_conn()
        last = changes[-1]
        blobs = split_by_site(changes)
        data = [b.data() for b in blobs]
        total = self._logged_total + sum(b.count for b in blobs)
        batch_end = from_micros(last.position)
        await conn.execute(
            Q.log_batch,
            self.slot,
            batch_end,
            total,
            [b.site_id for b in blobs],
            [from_micros(b.first) for b in blobs],
            [from_micros(b.last) for b in blobs],
            [b.count for b in blobs],
            data,
            last.commit_lsn,
        )
        self._logged_total = total
        self._durable_lsn = self._assembler.skip_through_lsn = last.commit_lsn
        self._durable_position = batch_end
        metrics.LOG_ROWS.inc(len(blobs))
        metrics.LOG_BYTES.inc(sum(len(d) for d in data))

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
        lag = time.time() - PG_EPOCH_UNIX - changes[0].position / 1e6
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
        await drop_stale_slots(conn, self.slot, s.realtime_slot_max_idle)
        await self._load_catalog()
        if self._has_origin:
            await self._check_origins()

    async def _check_origins(self) -> None:
        """Say when origin-tagged transactions stop being skipped: ``realtime_poll`` peeks
        every origin while the database has origins other than leadtrail's feeds (rows that
        a subscription or a replication tool applies carry one and must be delivered)."""
        foreign = int(await self._require_conn().fetchval(Q.foreign_origins)) > 0
        if foreign and not self._foreign_origins:
            logger.warning(
                "realtime: this database has replication origins of its own (a subscription?); "
                "peeking every origin, so the replay log's writes are decoded too"
            )
        self._foreign_origins = foreign
