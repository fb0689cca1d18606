"""Connection pools and the two ways in: as a caller (RLS applies) or as the system.

``transaction(claims)`` is the request path: a pool logged in as ``leadtrail_app`` (no
privileges of its own) that switches, per transaction, into the caller's role and sets
``request.jwt.claims``. ``system()`` is for migrations, partition upkeep and operator
commands, with the owner's rights; request handlers never use it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import orjson

from leadtrail.config import Settings
from leadtrail.errors import ConfigError, Unavailable
from leadtrail.storage import migrator
from leadtrail.storage.citus import citus_version
from leadtrail.storage.claims import Claims
from leadtrail.storage.embedded import EmbeddedPostgres

logger = logging.getLogger(__name__)

#: What domain code receives; only ``storage`` imports the driver itself.
Connection = asyncpg.Connection
Record = asyncpg.Record
UniqueViolation = asyncpg.UniqueViolationError
PostgresError = asyncpg.PostgresError
#: the driver's own errors (connection closed, operation in progress, ...)
DriverError = asyncpg.InterfaceError
APP_ROLE = "leadtrail_app"
MIN_SERVER_VERSION = 150000
#: Seconds a client is told to wait when the database cannot be reached.
UNAVAILABLE_RETRY_AFTER = 5
#: Errors that mean "the server is gone or refusing connections", not "this query is wrong".
_UNREACHABLE = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


def database_unavailable(exc: BaseException) -> Unavailable | None:
    """The 503 for an error that means PostgreSQL cannot be reached, else None."""
    if isinstance(exc, _UNREACHABLE) or (
        isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)
    ):
        return Unavailable(
            "the database is not reachable; retry later",
            code="database_unavailable",
            retry_after=UNAVAILABLE_RETRY_AFTER,
        )
    return None


#: The array types leadtrail sends as parameters. asyncpg looks a type up the first time a
#: connection meets it, with one recursive query over pg_type per statement; on Citus that
#: query takes 0.1 to 0.35 s instead of ~1 ms (measured 2026-12-05), and a webhook retry round
#: on a fresh pool connection waited ~2 s for its lookups, past its retry window.
_ARRAY_TYPES = ("uuid", "timestamptz", "int4", "int8", "int2", "text", "date", "float8", "bool")
_ARRAY_WARM_UP = "SELECT " + ", ".join(f"${n}::{t}[]" for n, t in enumerate(_ARRAY_TYPES, 1))


async def _init_connection(conn: asyncpg.Connection) -> None:
    """JSON columns as Python values, encoded with orjson (binary, so COPY works too); on
    Citus, every array type looked up at once when the connection opens."""
    # jsonb's binary form is a version byte (1) followed by the JSON text.
    await conn.set_type_codec(
        "jsonb",
        schema="pg_catalog",
        encoder=lambda v: b"\x01" + orjson.dumps(v),
        decoder=lambda b: orjson.loads(b[1:]),
        format="binary",
    )
    await conn.set_type_codec(
        "json", schema="pg_catalog", encoder=orjson.dumps, decoder=orjson.loads, format="binary"
    )
    if await citus_version(conn) is not None:
        await conn.prepare(_ARRAY_WARM_UP)  # prepared only: the lookup is what it is for


@dataclass(frozen=True)
class ServerCheck:
    """What leadtrail needs from a PostgreSQL server and what this one lacks."""

    version: int
    problems: tuple[str, ...]
    warnings: tuple[str, ...]


async def check_server(conn: asyncpg.Connection) -> ServerCheck:
    version = int(await conn.fetchval("SHOW server_version_num"))
    problems: list[str] = []
    warnings: list[str] = []
    if version < MIN_SERVER_VERSION:
        problems.append(f"PostgreSQL {version // 10000} is too old; leadtrail needs 15 or newer")
    wal_level = await conn.fetchval("SHOW wal_level")
    if wal_level != "logical":
        warnings.append(
            f"wal_level is '{wal_level}': set wal_level = logical (and restart) for the realtime feed"
        )
    slots = int(await conn.fetchval("SHOW max_replication_slots"))
    if slots < 1:
        warnings.append("max_replication_slots is 0: the realtime feed needs at least 1")
    return ServerCheck(version, tuple(problems), tuple(warnings))


class Database:
    """Pools plus, when no URL was given, the embedded server they talk to."""

    def __init__(
        self,
        system_pool: asyncpg.Pool,
        app_pool: asyncpg.Pool,
        dsn: str,
        embedded: EmbeddedPostgres | None,
        app_login: tuple[str, str | None] | None = None,
    ) -> None:
        self._system_pool = system_pool
        self._app_pool = app_pool
        #: how request-path connections log in: (dsn, role to SET ROLE to, if any)
        self._app_login = app_login or (dsn, APP_ROLE)
        self.dsn = dsn
        self.embedded = embedded

    # -- opening -----------------------------------------------------------------

    @staticmethod
    async def resolve_dsn(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
        """The configured URL, or the embedded server started in the data directory."""
        if settings.database_url:
            return settings.database_url, None
        embedded = EmbeddedPostgres(
            settings.data_dir,
            shared_buffers=settings.embedded_shared_buffers,
            max_slot_wal_keep_size=settings.embedded_max_slot_wal_keep_size,
            log_rotation_size=settings.embedded_log_rotation_size,
        )
        dsn = await asyncio.to_thread(embedded.start)
        return dsn, embedded

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        migrate: bool = True,
        dsn: str | None = None,
        app_dsn: str | None = None,
    ) -> Database:
        """Start or reach the server, check it, migrate, create partitions, open pools."""
        embedded: EmbeddedPostgres | None = None
        if dsn is None:
            dsn, embedded = await cls.resolve_dsn(settings)
        try:
            conn = await _connect(dsn)
            try:
                check = await check_server(conn)
                if check.problems:
                    raise ConfigError("; ".join(check.problems))
                for warning in check.warnings:
                    logger.warning("database: %s", warning)
                if migrate:
                    for m in await migrator.migrate(conn):
                        logger.info("applied migration %04d_%s", m.version, m.name)
                    await conn.execute(
                        "SELECT leadtrail.ensure_partitions($1)", settings.partitions_ahead
                    )
            finally:
                await conn.close()
            system_pool = await _pool(dsn, settings)
            if app_dsn is None and embedded is not None:
                app_dsn = embedded.dsn(user=APP_ROLE)
            # With one URL only: log in as its user and drop to leadtrail_app for the session.
            app_login = (app_dsn, None) if app_dsn is not None else (dsn, APP_ROLE)
            app_pool = await _pool(app_login[0], settings, role=app_login[1])
        except BaseException:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            raise
        return cls(system_pool, app_pool, dsn, embedded, app_login)

    async def close(self) -> None:
        await asyncio.gather(self._app_pool.close(), self._system_pool.close())
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)

    # -- using -------------------------------------------------------------------

    @asynccontextmanager
    async def transaction(self, claims: Claims) -> AsyncIterator[asyncpg.Connection]:
        """A transaction running as ``claims``: RLS and the role's grants apply. A database
        that cannot be reached raises ``Unavailable`` (503 ``database_unavailable``)."""
        try:
            async with self._app_pool.acquire() as conn, transaction_on(conn, claims) as tx:
                yield tx
        except Exception as exc:
            unavailable = database_unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    async def app_connection(self) -> asyncpg.Connection:
        """A dedicated request-path connection (logged in like the app pool), made in the
        calling event loop: the ingest writer runs its own loop in a thread. Use it only
        through ``transaction_on``."""
        dsn, role = self._app_login
        conn = await _connect(dsn)
        if role is not None:
            await conn.execute(f"SET ROLE {role}")
        await _init_connection(conn)
        return conn

    @asynccontextmanager
    async def system(self) -> AsyncIterator[asyncpg.Connection]:
        """An owner connection for migrations, upkeep and operator commands."""
        try:
            async with self._system_pool.acquire() as conn:
                yield conn
        except Exception as exc:
            unavailable = database_unavailable(exc)
            if unavailable is None:
                raise
            raise unavailable from exc

    @asynccontextmanager
    async def owner_connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A dedicated owner connection, outside the pools, for a long-running system
        component (the realtime change feed reads its replication slot with it)."""
        conn = await _connect(self.dsn)
        try:
            await _init_connection(conn)
            yield conn
        finally:
            await conn.close()

    async def pending_migrations(self) -> list[str]:
        async with self.system() as conn:
            return [f"{m.version:04d}_{m.name}" for m in await migrator.pending(conn)]

    async def ensure_partitions(self, months_ahead: int) -> int:
        async with self.system() as conn:
            return int(await conn.fetchval("SELECT leadtrail.ensure_partitions($1)", months_ahead))


@asynccontextmanager
async def transaction_on(
    conn: asyncpg.Connection, claims: Claims, setup: str = ""
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on ``conn`` running as ``claims``. ``setup`` (trusted SQL) runs in the
    same round trip that opens the transaction and switches identity."""
    await conn.execute("BEGIN; " + claims.set_local_sql() + (f"; {setup}" if setup else ""))
    try:
        yield conn
    except BaseException:
        if not conn.is_closed():
            await conn.execute("ROLLBACK")
        raise
    else:
        await conn.execute("COMMIT")


async def _connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn, timeout=30)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        raise ConfigError(f"cannot connect to PostgreSQL: {exc}") from exc


async def _pool(dsn: str, settings: Settings, role: str | None = None) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        if role is not None:
            await conn.execute(f"SET ROLE {role}")
        await _init_connection(conn)

    try:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            init=init,
            # Session state must not leak between callers; asyncpg resets on release.
            max_inactive_connection_lifetime=300,
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise ConfigError(f"cannot open a connection pool: {exc}") from exc
    assert pool is not None
    return pool
