"""``config.postgres_changes`` of a join -> bindings, checked against the published tables.

Pure. Each binding gets a stable non-zero integer id (the same binding always gets the same
id) that the join reply echoes in order and every push names in ``ids``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadtrail.realtime import filters
from leadtrail.realtime.changes import EVENTS, Change
from leadtrail.realtime.values import PgType

SCHEMA = "public"
MAX_BINDINGS = 100


class BindingError(ValueError):
    """A binding the server refuses; the message is the join error's reason."""


@dataclass(frozen=True)
class Binding:
    id: int
    #: "*", "INSERT", "UPDATE" or "DELETE"
    event: str
    #: None: every published table
    table: str | None
    filter: filters.Filter | None
    #: the binding as the client sent it, echoed in the join reply with its id
    echo: Mapping[str, Any]

    def matches(self, change: Change) -> bool:
        if self.event != "*" and self.event != change.type:
            return False
        if self.table is not None and self.table != change.table:
            return False
        return self.filter is None or self.filter.matches(change.row)


def binding_id(event: str, schema: str, table: str | None, filter_text: str | None) -> int:
    key = f"{event}|{schema}|{table or '*'}|{filter_text or ''}".encode()
    return (zlib.crc32(key) & 0x7FFFFFFF) or 1


def parse_bindings(raw: Any, tables: Mapping[str, Mapping[str, PgType]]) -> tuple[Binding, ...]:
    """``tables``: published table -> its columns. Raise BindingError with a clear reason."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise BindingError("config.postgres_changes must be a list")
    if len(raw) > MAX_BINDINGS:
        raise BindingError(f"at most {MAX_BINDINGS} postgres_changes bindings per channel")
    return tuple(_binding(item, tables) for item in raw)


def _binding(item: Any, tables: Mapping[str, Mapping[str, PgType]]) -> Binding:
    if not isinstance(item, dict):
        raise BindingError("each postgres_changes binding must be an object")
    event = item.get("event", "*")
    if not isinstance(event, str) or (event.upper() not in EVENTS and event != "*"):
        raise BindingError(f"event must be *, INSERT, UPDATE or DELETE, not {event!r}")
    schema = item.get("schema") or SCHEMA
    if schema not in (SCHEMA, "*"):
        raise BindingError(f"schema {schema!r} has no published tables; use 'public'")
    table = item.get("table")
    if table in (None, "", "*"):
        table = None
    elif not isinstance(table, str) or table not in tables:
        raise BindingError(f"table {table!r} is not published for realtime")
    filter_text = item.get("filter")
    parsed: filters.Filter | None = None
    if filter_text not in (None, ""):
        if not isinstance(filter_text, str):
            raise BindingError("filter must be a string such as 'status=eq.open'")
        if table is None:
            raise BindingError("a filter needs a table")
        try:
            parsed = filters.parse(filter_text, tables[table])
        except filters.FilterError as exc:
            raise BindingError(str(exc)) from None
    echo = {k: item[k] for k in ("event", "schema", "table", "filter") if k in item}
    return Binding(
        id=binding_id(event.upper(), schema, table, filter_text),
        event=event.upper(),
        table=table,
        filter=parsed,
        echo=echo,
    )
