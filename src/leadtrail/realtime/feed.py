"""The change feed: a logical replication slot read with pgoutput, logged, then dispatched.

Each poll, on a dedicated owner connection:

1. note the current WAL position ``upto`` and peek the slot's changes committed before it
   (``pg_logical_slot_peek_binary_changes``; nothing is consumed yet);
2. decode them (``Assembler``), skipping transactions already in the replay log (a crash
   between steps 3 and 5 makes the next peek return them again);
3. write the changes and the node's progress to the replay log in one transaction;
4. dispatch them to subscribers (synchronous, see ``Hub.dispatch``);
5. confirm the slot (``pg_replication_slot_advance``) up to ``upto``.

So a change is confirmed only once it is durable in the replay log, and a subscriber that
lost changes in flight (a socket buffer at SIGKILL) gets them back by joining with
``since``. Positions are a function of the WAL alone, so a change re-read after a crash
gets the position it had. No NOTIFY is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from leadtrail.config import Settings
from leadtrail.realtime.access import TableAccess, TablePolicy, decide_readers
from leadtrail.realtime.changes import Assembler, Change
from leadtrail.realtime.hub import Hub
from leadtrail.realtime.values import PgType
from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.storage.database import PostgresError
from leadtrail.storage.queries import load

logger = logging.getLogger(__name__)
Q = load(__package__)

BATCH_ROWS = 5000
#: seconds between running-xacts records written for the slot's restart point
SNAPSHOT_SECONDS = 0.2
UPKEEP_SECONDS = 30.0
RECONNECT_SECONDS = 1.0
LOG_COLUMNS = ("slot_name", "position", "commit_lsn", "table_name", "site_id", "change")


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

    def unavailable_before(self) -> datetime | None:
        return self.floor

    async def read(
        self, since: datetime, until: datetime, sites: frozenset[str], tables: frozenset[str]
    ) -> AsyncIterator[Change]:
        claims = Claims(
            role=DbRole.ANALYST, sub="realtime-replay", site_ids=tuple(UUID(s) for s in sites)
        )
        position = since
        while True:
            async with self._db.transaction(claims) as conn:
                rows = await conn.fetch(Q.replay, self.slot, position, until, sorted(tables), 1000)
            for row in rows:
                yield change_from_log(row)
            if len(rows) < 1000:
                return
            position = rows[-1]["position"]


def change_from_log(row: Any) -> Change:
    data = orjson.loads(row["change"])
    return Change(
        position=row["position"],
        commit_lsn=row["commit_lsn"],
        schema=data["schema"],
        table=row["table_name"],
        type=data["type"],
        site_id=row["site_id"],
        record=data.get("record"),
        old_record=data.get("old_record"),
        data_json=bytes(row["change"]).decode(),
    )


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
        self._confirmed = 0
        self._durable_lsn = 0
        self._durable_position: datetime | None = None
        self._last_upkeep = 0.0
        self._last_snapshot = 0.0
        self._can_log_snapshot = False
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
            return
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
        self.replay.floor = floor
        self._can_log_snapshot = int(await conn.fetchval("SHOW server_version_num")) >= 160000
        self._types = {
            r["oid"]: PgType(r["oid"], r["name"], r["category"], r["element"])
            for r in await conn.fetch(Q.types)
        }
        await self._load_catalog()
        self._durable_lsn = int(node["last_commit_lsn"])
        self._durable_position = node["last_position"]
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
        while True:
            try:
                if self._conn is None:
                    await self._open()
                if loop.time() - self._last_upkeep >= UPKEEP_SECONDS:
                    self._last_upkeep = loop.time()
                    await self._upkeep()
                got = await self.poll()
                if not got:
                    await asyncio.sleep(self.settings.realtime_poll_interval)
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

    async def poll(self) -> int:
        """One peek/log/dispatch/confirm round; returns the number of changes."""
        conn = self._require_conn()
        now = asyncio.get_running_loop().time()
        if self._can_log_snapshot and now - self._last_snapshot >= SNAPSHOT_SECONDS:
            self._last_snapshot = now
            try:
                await conn.execute(Q.log_snapshot)
            except PostgresError as exc:  # not a superuser, and EXECUTE not granted
                self._can_log_snapshot = False
                logger.warning(
                    "realtime: cannot call pg_log_standby_snapshot() (%s); peeks will re-read "
                    "up to 15 s of WAL each, grant EXECUTE on it to the owner",
                    exc,
                )
        upto = int(await conn.fetchval(Q.current_lsn))
        rows = await conn.fetch(Q.peek, self.slot, upto, BATCH_ROWS)
        try:
            done = self._assembler.feed((r["lsn"], bytes(r["data"])) for r in rows)
        except Exception:
            self._reset_assembler()
            raise
        changes = [c for _, cs in done for c in cs]
        if changes:
            last = changes[-1]
            try:
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "realtime_log",
                        schema_name="leadtrail",
                        columns=LOG_COLUMNS,
                        records=[
                            (
                                self.slot,
                                c.position,
                                c.commit_lsn,
                                c.table,
                                UUID(c.site_id) if c.site_id else None,
                                c.data_json.encode(),
                            )
                            for c in changes
                        ],
                    )
                    await conn.execute(Q.node_progress, self.slot, last.commit_lsn, last.position)
            except BaseException:
                # The assembler already moved on: rebuild it from what is durable.
                self._reset_assembler()
                raise
            self._durable_lsn = self._assembler.skip_through_lsn = last.commit_lsn
            self._durable_position = last.position
            self.hub.dispatch(changes)
        target = upto if len(rows) < BATCH_ROWS else (done[-1][0].end_lsn if done else 0)
        if target > self._confirmed:
            await conn.execute(Q.advance, self.slot, target)
            self._confirmed = target
        self.polled.set()
        self.polled = asyncio.Event()
        return len(changes)

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
