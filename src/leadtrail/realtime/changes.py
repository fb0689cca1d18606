"""Decoded pgoutput messages -> row changes in the Supabase payload shape. Pure.

``Assembler`` keeps the state a logical decoding stream needs (relations, types, the open
transaction) and turns each committed transaction into ``RawChange`` values: the change's
table, kind, site and position, with its pgoutput message kept as bytes. Turning one into
the JSON payload (``RawChange.decode`` -> ``Change``) is most of the cost, so the feed does
it only for changes some subscriber is waiting for, once for all of them; the replay log
stores the raw message and decodes it when a ``since`` join reads it.

Each change gets a **position**: its transaction's commit time, moved forward by a
microsecond where needed so that positions are unique and strictly increasing in commit
order. It is sent as ``commit_timestamp``, so any client (even one that drops unknown
payload keys) can hand it back as ``since`` to resume exactly after the last change it
received. Internally a position is an integer: microseconds since 2000-01-01 UTC, the unit
pgoutput uses.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from leadtrail.realtime import pgoutput
from leadtrail.realtime.values import PgType, iso_timestamptz, to_json, type_of

ONE_MICROSECOND = timedelta(microseconds=1)
EVENTS = ("INSERT", "UPDATE", "DELETE")
_KINDS = {ord("I"): "INSERT", ord("U"): "UPDATE", ord("D"): "DELETE"}


def format_position(position: datetime) -> str:
    """``commit_timestamp`` as sent: ISO 8601, UTC, always six fractional digits."""
    return position.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_position(text: str) -> datetime:
    """A ``since`` value back into a position; ValueError when it is not a timestamp."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        raise ValueError("since needs a time zone (use the commit_timestamp you received)")
    return parsed


def to_micros(position: datetime) -> int:
    """A position as microseconds since 2000-01-01 UTC (pgoutput's clock)."""
    return (position - pgoutput.PG_EPOCH) // ONE_MICROSECOND


def from_micros(micros: int) -> datetime:
    return pgoutput.PG_EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class Change:
    """A change as subscribers receive it."""

    position: datetime
    commit_lsn: int
    schema: str
    table: str
    type: str
    site_id: str | None
    record: dict[str, Any] | None
    old_record: dict[str, Any] | None
    #: the ``data`` object of a postgres_changes push, serialised once
    data_json: str

    @property
    def row(self) -> dict[str, Any] | None:
        """The values filters look at: the new row, or the old one for a DELETE."""
        return self.old_record if self.type == "DELETE" else self.record


def _json_value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits
        return text


def column_converter(types: Mapping[int, PgType], pg_type: PgType) -> Callable[[str], Any]:
    """The fastest function that gives ``to_json``'s answer for one column's type."""
    name = pg_type.name
    if name in ("text", "varchar", "bpchar", "uuid", "name", "char", "date", "inet", "cidr"):
        return str
    if name in ("int2", "int4", "int8", "oid"):
        return int
    if name == "bool":
        return "t".__eq__
    if name in ("json", "jsonb"):
        return _json_value
    if name == "timestamptz":
        return iso_timestamptz

    def convert(text: str) -> Any:
        try:
            return to_json(types, pg_type, text)
        except ValueError:
            return text

    return convert


_second_text: dict[int, str] = {}


def format_micros(micros: int) -> str:
    """``format_position(from_micros(micros))``, computed once per second of positions."""
    second, fraction = divmod(micros, 1_000_000)
    prefix = _second_text.get(second)
    if prefix is None:
        if len(_second_text) > 4096:
            _second_text.clear()
        prefix = _second_text[second] = from_micros(second * 1_000_000).strftime(
            "%Y-%m-%dT%H:%M:%S."
        )
    return f"{prefix}{fraction:06d}Z"


_U16 = struct.Struct("!H")
_I32 = struct.Struct("!i")


def tuple_values(message: bytes, pos: int) -> tuple[list[pgoutput.Value], int]:
    """pgoutput TupleData at ``pos``: the values (text, None, UNCHANGED) and the end."""
    (count,) = _U16.unpack_from(message, pos)
    pos += 2
    values: list[pgoutput.Value] = []
    append = values.append
    size_at = _I32.unpack_from
    try:
        for _ in range(count):
            kind = message[pos]
            if kind == 0x74:  # 't'
                (size,) = size_at(message, pos + 1)
                start = pos + 5
                pos = start + size
                append(message[start:pos].decode())
            elif kind == 0x6E:  # 'n'
                pos += 1
                append(None)
            elif kind == 0x75:  # 'u'
                pos += 1
                append(pgoutput.UNCHANGED)
            else:
                raise pgoutput.DecodeError(f"unsupported tuple value kind {kind!r}")
    except (IndexError, struct.error):
        raise pgoutput.DecodeError("message ends early") from None
    if pos > len(message):
        raise pgoutput.DecodeError("message ends early")
    return values, pos


class TableCodec:
    """One published table as a Relation message describes it, ready to decode its rows."""

    __slots__ = (
        "columns",
        "columns_fragment",
        "columns_json",
        "converters",
        "key_names",
        "name",
        "namespace",
        "raw",
        "relation_id",
        "site_index",
    )

    def __init__(self, raw: bytes, relation: pgoutput.Relation, types: Mapping[int, PgType]):
        #: the Relation message itself (the replay log stores it with the rows)
        self.raw = raw
        self.relation_id = relation.relation_id
        self.namespace = relation.namespace
        self.name = relation.name
        self.columns = tuple(c.name for c in relation.columns)
        pg_types = tuple(type_of(types, c.type_oid) for c in relation.columns)
        self.converters = tuple(column_converter(types, t) for t in pg_types)
        self.columns_json = orjson.dumps(
            [{"name": n, "type": t.name} for n, t in zip(self.columns, pg_types, strict=True)]
        ).decode()
        self.columns_fragment = orjson.Fragment(self.columns_json)
        self.key_names = tuple(c.name for c in relation.columns if c.is_key)
        #: where site_id is in a tuple; -1: the table has none (never delivered)
        self.site_index = self.columns.index("site_id") if "site_id" in self.columns else -1

    def values(self, values: Sequence[pgoutput.Value]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, convert, value in zip(self.columns, self.converters, values, strict=False):
            if value is pgoutput.UNCHANGED:
                continue
            out[name] = None if value is None else convert(value)  # type: ignore[arg-type]
        return out

    def old(self, values: Sequence[pgoutput.Value], key_only: bool) -> dict[str, Any]:
        """An old tuple; a key-only one carries NULLs for the other columns: drop them."""
        old = self.values(values)
        return {k: old[k] for k in self.key_names if k in old} if key_only else old

    def site_of(self, message: bytes) -> str | None:
        """The site_id of an Insert/Update/Delete message, read without decoding the rest:
        the new tuple of an insert or update, the old one of a delete."""
        index = self.site_index
        if index < 0:
            return None
        tag = message[0]
        pos = 5
        if tag == 0x55:  # 'U': skip an old tuple if there is one
            if message[pos] in (0x4B, 0x4F):  # 'K', 'O'
                pos = _skip_tuple(message, pos + 1)
        return _tuple_text(message, pos + 1, index)


def _skip_tuple(message: bytes, pos: int) -> int:
    count = int.from_bytes(message[pos : pos + 2], "big")
    pos += 2
    for _ in range(count):
        kind = message[pos]
        pos += 1
        if kind == 0x74:  # 't'
            pos += 4 + int.from_bytes(message[pos : pos + 4], "big")
    return pos


def _tuple_text(message: bytes, pos: int, index: int) -> str | None:
    """The text of column ``index`` of the tuple data at ``pos``; None for NULL/unchanged."""
    count = int.from_bytes(message[pos : pos + 2], "big")
    if index >= count:
        return None
    pos += 2
    for _ in range(index):
        kind = message[pos]
        pos += 1
        if kind == 0x74:
            pos += 4 + int.from_bytes(message[pos : pos + 4], "big")
    if message[pos] != 0x74:
        return None
    size = int.from_bytes(message[pos + 1 : pos + 5], "big")
    return message[pos + 5 : pos + 5 + size].decode()


class RawChange:
    """A committed change with its position, not yet turned into a payload."""

    __slots__ = ("codec", "commit_lsn", "kind", "message", "position", "site_id")

    def __init__(
        self,
        position: int,
        commit_lsn: int,
        codec: TableCodec,
        kind: str,
        site_id: str | None,
        message: bytes,
    ) -> None:
        #: microseconds since 2000-01-01 UTC
        self.position = position
        self.commit_lsn = commit_lsn
        self.codec = codec
        self.kind = kind
        self.site_id = site_id
        #: the pgoutput Insert/Update/Delete message
        self.message = message

    @property
    def table(self) -> str:
        return self.codec.name

    def decode(self) -> Change:
        """The Supabase payload (``data_json``) and the values filters look at."""
        codec = self.codec
        message = self.message
        kind = self.kind
        record: dict[str, Any] | None = None
        old: dict[str, Any] | None = None
        tag = message[5] if len(message) > 5 else 0
        if kind == "INSERT":
            if tag != 0x4E:
                raise pgoutput.DecodeError("insert without a new tuple")
            record = codec.values(tuple_values(message, 6)[0])
        elif kind == "DELETE":
            if tag not in (0x4B, 0x4F):
                raise pgoutput.DecodeError("delete without an old tuple")
            old = codec.old(tuple_values(message, 6)[0], tag == 0x4B)
        else:
            pos = 6
            old_values: list[pgoutput.Value] | None = None
            if tag in (0x4B, 0x4F):
                old_values, pos = tuple_values(message, 6)
                tag, pos = message[pos], pos + 1
            if tag != 0x4E:
                raise pgoutput.DecodeError("update without a new tuple")
            record = codec.values(tuple_values(message, pos)[0])
            if old_values is not None:
                key_only = message[5] == 0x4B
                old = codec.old(old_values, key_only)
                if not key_only:
                    # REPLICA IDENTITY FULL: unchanged TOASTed values come from the old row.
                    for name, value in old.items():
                        record.setdefault(name, value)
            else:
                old = {k: record[k] for k in codec.key_names if k in record}
        data: dict[str, Any] = {
            "schema": codec.namespace,
            "table": codec.name,
            "commit_timestamp": format_micros(self.position),
            "type": kind,
            "columns": codec.columns_fragment,
            "errors": None,
        }
        if record is not None:
            data["record"] = record
        if old is not None:
            data["old_record"] = old
        return Change(
            position=from_micros(self.position),
            commit_lsn=self.commit_lsn,
            schema=codec.namespace,
            table=codec.name,
            type=kind,
            site_id=self.site_id,
            record=record,
            old_record=old,
            data_json=orjson.dumps(data).decode(),
        )


@dataclass(frozen=True, slots=True)
class Transaction:
    commit_lsn: int
    end_lsn: int
    changes: list[RawChange]
    #: the commit's timestamp, microseconds since 2000-01-01 UTC
    commit_time: int = 0


def place(transactions: Iterable[Transaction], last: int) -> int:
    """Give the changes of transactions merged from several streams their positions (commit
    time, moved forward where needed: unique and increasing in this order); returns the
    last position handed out."""
    for transaction in transactions:
        position = max(transaction.commit_time, last + 1)
        for change in transaction.changes:
            change.position = position
            position += 1
        if transaction.changes:
            last = position - 1
    return last


@dataclass
class Assembler:
    """Feed it ``(lsn, data)`` pgoutput messages in order (a replication stream's XLogData,
    or rows of ``pg_logical_slot_*_binary_changes``)."""

    #: extra types (oid -> type) besides the built-in ones, e.g. loaded from pg_type
    types: dict[int, PgType] = field(default_factory=dict)
    #: the last position handed out (restored from the replay log after a restart)
    last_position: datetime | None = None
    #: transactions committed at or before this LSN were already handled: skip them
    skip_through_lsn: int = 0
    #: a Begin was read and its Commit not yet (nothing before it may be confirmed past it)
    in_transaction: bool = False
    #: False: changes keep their commit time as position until ``place`` orders them with
    #: other streams' (a Citus worker's stream is one of several)
    placed: bool = True
    #: the commit time of the transaction being read (a Begin carries it: pgoutput sends a
    #: transaction once it has committed)
    open_commit_time: int = -(2**62)
    _tables: dict[int, TableCodec] = field(default_factory=dict)
    _pending: list[tuple[TableCodec, str, str | None, bytes]] = field(default_factory=list)
    _skipping: bool = False
    _last: int = -(2**62)

    def __post_init__(self) -> None:
        if self.last_position is not None:
            self._last = to_micros(self.last_position)

    def take(self, rows: Iterable[tuple[int, bytes]]) -> list[Transaction]:
        """Committed transactions completed by these rows, with their raw changes."""
        done: list[Transaction] = []
        pending = self._pending
        tables = self._tables
        for _lsn, data in rows:
            tag = data[0]
            kind = _KINDS.get(tag)
            if kind is not None:
                if self._skipping:
                    continue
                codec = tables.get(int.from_bytes(data[1:5], "big"))
                if codec is None:
                    raise pgoutput.DecodeError(
                        f"change for unknown relation {int.from_bytes(data[1:5], 'big')}"
                    )
                pending.append((codec, kind, codec.site_of(data), data))
            elif tag == 0x42:  # 'B'egin
                message = pgoutput.decode(data)
                assert isinstance(message, pgoutput.Begin)
                pending.clear()
                self.in_transaction = True
                self.open_commit_time = int.from_bytes(data[9:17], "big", signed=True)
                self._skipping = message.final_lsn <= self.skip_through_lsn
            elif tag == 0x43:  # 'C'ommit
                commit_lsn = int.from_bytes(data[2:10], "big")
                end_lsn = int.from_bytes(data[10:18], "big")
                commit_time = int.from_bytes(data[18:26], "big", signed=True)
                changes = [] if self._skipping else self._finish(commit_time, commit_lsn)
                done.append(Transaction(commit_lsn, end_lsn, changes, commit_time))
                pending.clear()
                self.in_transaction = False
                self._skipping = False
            elif tag == 0x52:  # 'R'elation
                relation = pgoutput.decode(data)
                assert isinstance(relation, pgoutput.Relation)
                tables[relation.relation_id] = TableCodec(bytes(data), relation, self.types)
            elif tag == 0x59:  # 'Y' type
                info = pgoutput.decode(data)
                assert isinstance(info, pgoutput.TypeInfo)
                self.types.setdefault(info.type_oid, PgType(info.type_oid, info.name, "U"))
            else:
                # Truncate carries no rows (and no site_id to authorise): not delivered.
                # Origin and logical messages are not used. Unknown ones are errors.
                pgoutput.decode(data)
        return done

    def _finish(self, commit_time: int, commit_lsn: int) -> list[RawChange]:
        if not self.placed:
            return [
                RawChange(commit_time, commit_lsn, codec, kind, site, message)
                for codec, kind, site, message in self._pending
            ]
        position = max(commit_time, self._last + 1)
        out = []
        for codec, kind, site, message in self._pending:
            out.append(RawChange(position, commit_lsn, codec, kind, site, message))
            position += 1
        if out:
            self._last = position - 1
        return out

    def feed(self, rows: Iterable[tuple[int, bytes]]) -> list[tuple[Transaction, list[Change]]]:
        """Like ``take``, with every change decoded (tests, tools)."""
        return [(t, [c.decode() for c in t.changes]) for t in self.take(rows)]


def column_types(
    types: Mapping[int, PgType], columns: Iterable[tuple[str, int]]
) -> dict[str, PgType]:
    """Column name -> type, for parsing filters against a table."""
    return {name: type_of(types, oid) for name, oid in columns}
