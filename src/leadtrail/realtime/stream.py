"""A walsender connection streaming one logical slot with pgoutput, read on the event loop.

asyncpg has no replication protocol. psycopg 3 (libpq) opens the connection
(``replication=database``, so scram passwords and Unix sockets work as for any libpq
client) and runs ``START_REPLICATION``; from then on this module speaks the COPY BOTH
sub-protocol through libpq's non-blocking calls:

- ``XLogData`` (``w``): one pgoutput message and the WAL position it came from;
- primary keepalive (``k``): how far the server has decoded, maybe asking for a reply;
- standby status update (``r``, sent): the position the client has made durable.

Nothing here confirms anything by itself: the feed says what is durable (``confirm``), and a
status update carries only that. (psycopg2's replication cursor moves its flush position on
keepalives by itself, which is why it is not used.)
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Mapping

import psycopg
from psycopg import pq

XLOG_DATA = 0x77  # 'w'
KEEPALIVE = 0x6B  # 'k'
_XLOG_HEADER = struct.Struct(">QQq")
_KEEPALIVE = struct.Struct(">QqB")
_STATUS = struct.Struct(">cQQQqB")
#: 2000-01-01 UTC in Unix seconds: the protocol's clock
PG_EPOCH_UNIX = 946_684_800


class StreamError(ConnectionError):
    """The stream ended or failed: the feed reconnects."""


def lsn_text(lsn: int) -> str:
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class ReplicationStream:
    """One ``START_REPLICATION SLOT … LOGICAL`` stream; ``read`` never blocks."""

    def __init__(self, dsn: str, slot: str, start_lsn: int, options: Mapping[str, str]):
        self.dsn = dsn
        self.slot = slot
        self.start_lsn = start_lsn
        self.options = dict(options)
        #: the server has decoded (and sent what it had) up to here (keepalives)
        self.server_lsn = 0
        #: the last position the feed confirmed (status updates carry it)
        self.confirmed = start_lsn
        #: the confirmed position the last status update carried
        self.sent_confirmed = start_lsn
        #: the last XLogData position received
        self.received = start_lsn
        #: stopped at the limit: libpq holds more messages, no need to wait for the socket
        self.more = False
        self._conn: psycopg.AsyncConnection[object] | None = None
        self._pgconn: pq.abc.PGconn | None = None
        self._readable = asyncio.Event()
        self._watching = False
        self._reply_owed = False
        self.last_status = 0.0

    async def open(self) -> None:
        """Connect and start streaming from ``start_lsn`` (errors when the slot is in use)."""
        self._conn = await psycopg.AsyncConnection.connect(
            self.dsn, replication="database", autocommit=True, connect_timeout=30
        )
        options = ", ".join(f'"{k}" {_literal(v)}' for k, v in self.options.items())
        command = (
            f'START_REPLICATION SLOT "{self.slot}" LOGICAL {lsn_text(self.start_lsn)} ({options})'
        )
        await self._conn.execute(command.encode())
        self._pgconn = self._conn.pgconn
        if self._pgconn.nonblocking == 0:
            self._pgconn.nonblocking = 1
        self.last_status = time.monotonic()

    async def close(self) -> None:
        self._unwatch()
        conn, self._conn, self._pgconn = self._conn, None, None
        if conn is not None:
            await conn.close()

    # -- reading ---------------------------------------------------------------------

    def read(self, limit: int) -> list[tuple[int, bytes]]:
        """The pgoutput messages libpq has now (at most ``limit``), as ``(lsn, data)``."""
        pgconn = self._require()
        out: list[tuple[int, bytes]] = []
        consumed = False
        self.more = False
        while True:
            if len(out) >= limit:
                self.more = True
                break
            size, data = pgconn.get_copy_data(1)
            if size == 0:
                if consumed:
                    break
                pgconn.consume_input()
                consumed = True
                continue
            if size < 0:
                raise StreamError(self._ended(size))
            buf = bytes(data)
            tag = buf[0]
            if tag == XLOG_DATA:
                start, _end, _clock = _XLOG_HEADER.unpack_from(buf, 1)
                out.append((start, buf[25:]))
                self.received = max(self.received, start)
            elif tag == KEEPALIVE:
                end, _clock, reply = _KEEPALIVE.unpack_from(buf, 1)
                self.server_lsn = max(self.server_lsn, end)
                if reply:
                    self._reply_owed = True
        return out

    def _ended(self, size: int) -> str:
        pgconn = self._require()
        if size == -1:
            result = pgconn.get_result()
            message = result.error_message.decode(errors="replace") if result else ""
            return f"the replication stream ended {message}".strip()
        return "the replication stream failed: " + pgconn.get_error_message("utf-8").strip()

    async def wait(self, timeout: float) -> bool:
        """Until the socket has data (True) or ``timeout`` seconds passed (False)."""
        if self.more:
            return True
        self._readable.clear()
        if not self._watching:
            asyncio.get_running_loop().add_reader(self._require().socket, self._on_readable)
            self._watching = True
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
        # arrives as the socket turns readable, and the feed's task then never stops.
        try:
            async with asyncio.timeout(timeout):
                await self._readable.wait()
        except TimeoutError:
            return False
        return True

    def _on_readable(self) -> None:
        # Level-triggered: stop watching until the next wait, or the loop would spin while
        # the feed writes its log with data pending on the socket.
        self._unwatch()
        self._readable.set()

    def _unwatch(self) -> None:
        if self._watching and self._pgconn is not None:
            asyncio.get_running_loop().remove_reader(self._pgconn.socket)
        self._watching = False

    # -- status ----------------------------------------------------------------------

    @property
    def reply_owed(self) -> bool:
        return self._reply_owed

    def confirm(self, lsn: int) -> None:
        """Note that everything before ``lsn`` is durable (sent with the next status)."""
        self.confirmed = max(self.confirmed, lsn)

    def send_status(self, *, reply: bool = False) -> None:
        """A standby status update: received up to ``received``, durable to ``confirmed``."""
        pgconn = self._require()
        clock = int((time.time() - PG_EPOCH_UNIX) * 1_000_000)
        written = max(self.received, self.confirmed)
        message = _STATUS.pack(
            b"r", written, self.confirmed, self.confirmed, clock, 1 if reply else 0
        )
        if pgconn.put_copy_data(message) != 1:
            raise StreamError(
                "cannot send a status update: " + pgconn.get_error_message("utf-8").strip()
            )
        while pgconn.flush() == 1:  # the socket buffer is full: rare, and short
            time.sleep(0.001)
        self._reply_owed = False
        self.sent_confirmed = self.confirmed
        self.last_status = time.monotonic()

    def _require(self) -> pq.abc.PGconn:
        if self._pgconn is None:
            raise StreamError("the replication stream is not open")
        return self._pgconn
