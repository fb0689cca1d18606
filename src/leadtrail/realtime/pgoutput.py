"""Decoder for PostgreSQL's built-in ``pgoutput`` logical replication messages (protocol 1).

Pure: bytes in, frozen values out; no I/O. Column values stay as the server's text output
(``None`` for NULL, ``UNCHANGED`` for an unchanged TOASTed value it did not resend);
``values.py`` turns them into JSON values. Message layouts follow the "Logical Replication
Message Formats" chapter of the PostgreSQL manual.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

#: microseconds between the Unix epoch and PostgreSQL's (2000-01-01)
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class Unchanged:
    """Marker for a TOASTed column an UPDATE did not touch (pgoutput does not resend it)."""

    _instance: Unchanged | None = None

    def __new__(cls) -> Unchanged:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()
Value = str | None | Unchanged


class DecodeError(ValueError):
    """The bytes are not a pgoutput message this decoder understands."""


@dataclass(frozen=True)
class Column:
    name: str
    type_oid: int
    type_modifier: int
    #: part of the replica identity (the key sent with UPDATE/DELETE)
    is_key: bool


@dataclass(frozen=True)
class Begin:
    final_lsn: int
    commit_time: datetime
    xid: int


@dataclass(frozen=True)
class Commit:
    flags: int
    commit_lsn: int
    end_lsn: int
    commit_time: datetime


@dataclass(frozen=True)
class Relation:
    relation_id: int
    namespace: str
    name: str
    replica_identity: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class TypeInfo:
    type_oid: int
    namespace: str
    name: str


@dataclass(frozen=True)
class Origin:
    lsn: int
    name: str


@dataclass(frozen=True)
class Insert:
    relation_id: int
    new: tuple[Value, ...]


@dataclass(frozen=True)
class Update:
    relation_id: int
    new: tuple[Value, ...]
    #: the old key ('K') or the whole old row ('O', REPLICA IDENTITY FULL); None when the
    #: key did not change and the identity is not FULL
    old: tuple[Value, ...] | None
    old_is_key_only: bool


@dataclass(frozen=True)
class Delete:
    relation_id: int
    old: tuple[Value, ...]
    old_is_key_only: bool


@dataclass(frozen=True)
class Truncate:
    relation_ids: tuple[int, ...]
    cascade: bool
    restart_identity: bool


@dataclass(frozen=True)
class LogicalMessage:
    transactional: bool
    lsn: int
    prefix: str
    content: bytes


Message = (
    Begin
    | Commit
    | Relation
    | TypeInfo
    | Origin
    | Insert
    | Update
    | Delete
    | Truncate
    | LogicalMessage
)


def pg_time(microseconds: int) -> datetime:
    """A pgoutput timestamp (µs since 2000-01-01 UTC) as an aware datetime."""
    return PG_EPOCH + timedelta(microseconds=microseconds)


def lsn_text(lsn: int) -> str:
    """``0x16B3748`` -> ``'0/16B3748'``, PostgreSQL's ``pg_lsn`` text form."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


def parse_lsn(text: str) -> int:
    high, _, low = text.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def _take(self, fmt: str, size: int) -> int:
        if self.pos + size > len(self.buf):
            raise DecodeError("message ends early")
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return int(value)

    def u8(self) -> int:
        return self._take("!B", 1)

    def i16(self) -> int:
        return self._take("!h", 2)

    def i32(self) -> int:
        return self._take("!i", 4)

    def u32(self) -> int:
        return self._take("!I", 4)

    def i64(self) -> int:
        return self._take("!q", 8)

    def u64(self) -> int:
        return self._take("!Q", 8)

    def byte(self) -> str:
        return chr(self.u8())

    def string(self) -> str:
        end = self.buf.find(b"\x00", self.pos)
        if end < 0:
            raise DecodeError("unterminated string")
        text = self.buf[self.pos : end].decode("utf-8")
        self.pos = end + 1
        return text

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.buf):
            raise DecodeError("message ends early")
        data = self.buf[self.pos : self.pos + size]
        self.pos += size
        return data

    def tuple_data(self) -> tuple[Value, ...]:
        count = self.i16()
        values: list[Value] = []
        for _ in range(count):
            kind = self.byte()
            if kind == "n":
                values.append(None)
            elif kind == "u":
                values.append(UNCHANGED)
            elif kind == "t":
                values.append(self.raw(self.i32()).decode("utf-8"))
            elif kind == "b":
                raise DecodeError("binary tuple values are not supported (binary = false)")
            else:
                raise DecodeError(f"unknown tuple value kind {kind!r}")
        return tuple(values)


def decode(data: bytes) -> Message:
    """One pgoutput message."""
    if not data:
        raise DecodeError("empty message")
    r = _Reader(data)
    tag = r.byte()
    if tag == "B":
        return Begin(r.u64(), pg_time(r.i64()), r.u32())
    if tag == "C":
        return Commit(r.u8(), r.u64(), r.u64(), pg_time(r.i64()))
    if tag == "R":
        rel_id = r.u32()
        namespace = r.string() or "pg_catalog"
        name = r.string()
        identity = r.byte()
        columns = []
        for _ in range(r.i16()):
            flags = r.u8()
            columns.append(Column(r.string(), r.u32(), r.i32(), bool(flags & 1)))
        return Relation(rel_id, namespace, name, identity, tuple(columns))
    if tag == "Y":
        return TypeInfo(r.u32(), r.string() or "pg_catalog", r.string())
    if tag == "O":
        return Origin(r.u64(), r.string())
    if tag == "I":
        rel_id = r.u32()
        if r.byte() != "N":
            raise DecodeError("insert without a new tuple")
        return Insert(rel_id, r.tuple_data())
    if tag == "U":
        rel_id = r.u32()
        kind = r.byte()
        old: tuple[Value, ...] | None = None
        key_only = False
        if kind in ("K", "O"):
            old = r.tuple_data()
            key_only = kind == "K"
            kind = r.byte()
        if kind != "N":
            raise DecodeError("update without a new tuple")
        return Update(rel_id, r.tuple_data(), old, key_only)
    if tag == "D":
        rel_id = r.u32()
        kind = r.byte()
        if kind not in ("K", "O"):
            raise DecodeError("delete without an old tuple")
        return Delete(rel_id, r.tuple_data(), kind == "K")
    if tag == "T":
        count = r.i32()
        options = r.u8()
        ids = tuple(r.u32() for _ in range(count))
        return Truncate(ids, bool(options & 1), bool(options & 2))
    if tag == "M":
        flags = r.u8()
        lsn = r.u64()
        prefix = r.string()
        return LogicalMessage(bool(flags & 1), lsn, prefix, r.raw(r.i32()))
    raise DecodeError(f"unknown pgoutput message {tag!r}")
