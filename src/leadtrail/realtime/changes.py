"""Decoded pgoutput messages -> row changes in the Supabase payload shape. Pure.

``Assembler`` keeps the state a logical decoding stream needs (relations, types, the open
transaction) and turns each committed transaction into ``Change`` values. Each change gets
a **position**: its transaction's commit time, moved forward by a microsecond where needed
so that positions are unique and strictly increasing in commit order. It is sent as
``commit_timestamp``, so any client (even one that drops unknown payload keys) can hand it
back as ``since`` to resume exactly after the last change it received.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from leadtrail.realtime import pgoutput
from leadtrail.realtime.values import PgType, to_json, type_of

ONE_MICROSECOND = timedelta(microseconds=1)
EVENTS = ("INSERT", "UPDATE", "DELETE")


def format_position(position: datetime) -> str:
    """``commit_timestamp`` as sent: ISO 8601, UTC, always six fractional digits."""
    return position.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_position(text: str) -> datetime:
    """A ``since`` value back into a position; ValueError when it is not a timestamp."""
    parsed = datetime.fromisoformat(text.strip())
    if parsed.tzinfo is None:
        raise ValueError("since needs a time zone (use the commit_timestamp you received)")
    return parsed


@dataclass(frozen=True, slots=True)
class Change:
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


@dataclass
class _Table:
    relation: pgoutput.Relation
    types: tuple[PgType, ...]
    columns_json: str
    key_names: tuple[str, ...]


@dataclass
class Assembler:
    """Feed it ``(lsn, data)`` rows of ``pg_logical_slot_*_binary_changes`` in order."""

    #: extra types (oid -> type) besides the built-in ones, e.g. loaded from pg_type
    types: dict[int, PgType] = field(default_factory=dict)
    #: the last position handed out (restored from the replay log after a restart)
    last_position: datetime | None = None
    #: transactions committed at or before this LSN were already handled: skip them
    skip_through_lsn: int = 0
    _tables: dict[int, _Table] = field(default_factory=dict)
    _pending: list[tuple[_Table, str, dict[str, Any] | None, dict[str, Any] | None]] = field(
        default_factory=list
    )
    _begin: pgoutput.Begin | None = None
    _skipping: bool = False

    def feed(self, rows: Iterable[tuple[int, bytes]]) -> list[tuple[pgoutput.Commit, list[Change]]]:
        """Committed transactions completed by these rows, with their changes."""
        done: list[tuple[pgoutput.Commit, list[Change]]] = []
        for _lsn, data in rows:
            message = pgoutput.decode(data)
            result = self.apply(message)
            if result is not None:
                done.append(result)
        return done

    def apply(self, message: pgoutput.Message) -> tuple[pgoutput.Commit, list[Change]] | None:
        if isinstance(message, pgoutput.Begin):
            self._begin = message
            self._pending = []
            self._skipping = message.final_lsn <= self.skip_through_lsn
        elif isinstance(message, pgoutput.Relation):
            self._tables[message.relation_id] = self._table(message)
        elif isinstance(message, pgoutput.TypeInfo):
            self.types.setdefault(message.type_oid, PgType(message.type_oid, message.name, "U"))
        elif isinstance(message, pgoutput.Insert | pgoutput.Update | pgoutput.Delete):
            if not self._skipping:
                self._pending.append(self._row_change(message))
        elif isinstance(message, pgoutput.Commit):
            changes = [] if self._skipping else self._finish(message)
            self._begin, self._pending, self._skipping = None, [], False
            return message, changes
        # Truncate carries no rows (and no site_id to authorise): not delivered.
        # Origin and logical messages are not used.
        return None

    # -- internals ------------------------------------------------------------------

    def _table(self, relation: pgoutput.Relation) -> _Table:
        types = tuple(type_of(self.types, c.type_oid) for c in relation.columns)
        columns = [
            {"name": c.name, "type": t.name} for c, t in zip(relation.columns, types, strict=True)
        ]
        keys = tuple(c.name for c in relation.columns if c.is_key)
        return _Table(relation, types, orjson.dumps(columns).decode(), keys)

    def _values(self, table: _Table, values: tuple[pgoutput.Value, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for column, pg_type, value in zip(
            table.relation.columns, table.types, values, strict=False
        ):
            if value is pgoutput.UNCHANGED:
                continue
            if value is None:
                out[column.name] = None
                continue
            assert isinstance(value, str)
            try:
                out[column.name] = to_json(self.types, pg_type, value)
            except ValueError:
                out[column.name] = value
        return out

    def _old(
        self, table: _Table, values: tuple[pgoutput.Value, ...], key_only: bool
    ) -> dict[str, Any]:
        """An old tuple; a key-only one carries NULLs for the other columns: drop them."""
        old = self._values(table, values)
        return {k: old[k] for k in table.key_names if k in old} if key_only else old

    def _row_change(
        self, message: pgoutput.Insert | pgoutput.Update | pgoutput.Delete
    ) -> tuple[_Table, str, dict[str, Any] | None, dict[str, Any] | None]:
        table = self._tables.get(message.relation_id)
        if table is None:
            raise pgoutput.DecodeError(f"change for unknown relation {message.relation_id}")
        if isinstance(message, pgoutput.Insert):
            return table, "INSERT", self._values(table, message.new), None
        if isinstance(message, pgoutput.Delete):
            return table, "DELETE", None, self._old(table, message.old, message.old_is_key_only)
        record = self._values(table, message.new)
        if message.old is not None:
            old = self._old(table, message.old, message.old_is_key_only)
            if not message.old_is_key_only:
                # REPLICA IDENTITY FULL: unchanged TOASTed values come from the old row.
                for name, value in old.items():
                    record.setdefault(name, value)
        else:
            old = {k: record[k] for k in table.key_names if k in record}
        return table, "UPDATE", record, old

    def _finish(self, commit: pgoutput.Commit) -> list[Change]:
        changes = []
        position = commit.commit_time
        if self.last_position is not None and position <= self.last_position:
            position = self.last_position + ONE_MICROSECOND
        for table, kind, record, old in self._pending:
            stamp = format_position(position)
            relation = table.relation
            data: dict[str, Any] = {
                "schema": relation.namespace,
                "table": relation.name,
                "commit_timestamp": stamp,
                "type": kind,
                "columns": orjson.Fragment(table.columns_json),
                "errors": None,
            }
            if record is not None:
                data["record"] = record
            if old is not None:
                data["old_record"] = old
            row = old if kind == "DELETE" else record
            site = row.get("site_id") if row else None
            changes.append(
                Change(
                    position=position,
                    commit_lsn=commit.commit_lsn,
                    schema=relation.namespace,
                    table=relation.name,
                    type=kind,
                    site_id=str(site) if site is not None else None,
                    record=record,
                    old_record=old,
                    data_json=orjson.dumps(data).decode(),
                )
            )
            self.last_position = position
            position = position + ONE_MICROSECOND
        return changes


def column_types(
    types: Mapping[int, PgType], columns: Iterable[tuple[str, int]]
) -> dict[str, PgType]:
    """Column name -> type, for parsing filters against a table."""
    return {name: type_of(types, oid) for name, oid in columns}
