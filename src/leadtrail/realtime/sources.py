"""The nodes a change feed streams from: the database itself and, on Citus, every worker.

On Citus a distributed table's rows live in shards on the workers, and each node decodes
only its own WAL. With ``citus.enable_change_data_capture = on`` and Citus's pgoutput
wrapper first on ``dynamic_library_path`` (``'$libdir/citus_decoders:$libdir'``), a
worker's stream names the distributed table instead of the shard, and leaves out the rows
Citus copies when it moves or splits a shard (they carry a replication origin). So the feed
streams one slot per node, all with the same name, and merges the streams by commit time.
A site's shards live on one worker at a time, so one site's changes come in one stream, in
commit order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import asyncpg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from leadtrail.realtime.changes import Assembler, Transaction
from leadtrail.realtime.stream import ReplicationStream, StreamError
from leadtrail.realtime.values import PgType
from leadtrail.storage import Connection

#: the key of the database the feed connects to (a Citus worker's is ``host:port``)
LOCAL = ""


class CitusSetupError(RuntimeError):
    """A Citus node is not set up for change data capture (retrying will not help)."""


@dataclass
class Source:
    """One node's replication stream and what the feed keeps about it."""

    key: str
    #: libpq connection string of the node (the walsender connection uses it)
    dsn: str
    #: workers: an owner connection to the node (its slot, its WAL position, its types);
    #: the database's own source uses the feed's connection
    conn: Connection | None = None
    types: dict[int, PgType] = field(default_factory=dict)
    stream: ReplicationStream | None = None
    assembler: Assembler = field(default_factory=Assembler)
    #: the node's slot is confirmed (or will be with the next status update) up to here
    confirmed: int = 0
    #: commit LSN of this node's last transaction in the replay log
    durable_lsn: int = 0
    #: assembled, not yet merged: (monotonic time received, transaction)
    held: deque[tuple[float, Transaction]] = field(default_factory=deque)
    #: this node has sent every transaction committed before this time (micros since
    #: 2000-01-01 UTC): its last commit's time, or a probe's clock less a margin
    watermark: int = -(2**62)
    #: the node's WAL insert position and clock (micros) when last asked, until its stream
    #: has decoded past that position
    probe: tuple[int, int] | None = None
    #: when a keepalive was last asked for (monotonic)
    pinged: float = 0.0

    def require_stream(self) -> ReplicationStream:
        if self.stream is None:
            raise StreamError(f"the replication stream of {self.key or 'the database'} is closed")
        return self.stream

    def require_conn(self) -> Connection:
        assert self.conn is not None
        return self.conn


def worker_key(row: Mapping[str, object]) -> str:
    """A worker's key (``host:port``) from its ``pg_dist_node`` row."""
    return f"{row['host']}:{row['port']}"


def worker_dsn(dsn: str, host: str, port: int) -> str:
    """The feed's connection string pointed at a worker (same role, password and database:
    docs/scaling.md section 3 sets the owner up alike on every node)."""
    params = conninfo_to_dict(dsn)
    params.pop("hostaddr", None)
    params["host"], params["port"] = host, str(port)
    return make_conninfo(**params)  # type: ignore[arg-type]


async def connect(dsn: str) -> Connection:
    """An asyncpg owner connection from a libpq connection string (asyncpg reads only URLs)."""
    params = conninfo_to_dict(dsn)
    ssl = params.get("sslmode")
    port = params.get("port")
    return await asyncpg.connect(
        host=params.get("host"),
        port=int(str(port)) if port else None,
        user=params.get("user"),
        password=params.get("password"),
        database=params.get("dbname"),
        ssl=ssl if ssl else None,
        timeout=30,
    )


async def check_cdc(conn: Connection, where: str) -> None:
    """Fail clearly when a node would decode shard names, or nothing at all."""
    enabled = await conn.fetchval("SHOW citus.enable_change_data_capture")
    path = str(await conn.fetchval("SHOW dynamic_library_path"))
    if enabled != "on" or "citus_decoders" not in path:
        raise CitusSetupError(
            f"{where}: set citus.enable_change_data_capture = on and dynamic_library_path = "
            "'$libdir/citus_decoders:$libdir' on every node (docs/scaling.md section 3)"
        )
