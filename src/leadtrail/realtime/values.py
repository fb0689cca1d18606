"""PostgreSQL text values -> JSON values, by type, as Supabase Realtime sends them.

Pure. ``to_json`` gives what goes in ``record`` (numbers, booleans, parsed JSON, ISO
timestamps like ``to_jsonb`` prints them, lists for arrays); ``comparable`` and
``parse_literal`` give values that filters can order (numbers, datetimes) so a filter
compares with the column's type, never as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import orjson


@dataclass(frozen=True)
class PgType:
    oid: int
    #: ``pg_type.typname``: int4, text, timestamptz, _text (arrays start with "_")
    name: str
    #: ``pg_type.typcategory``: A array, B bool, D date/time, E enum, N numeric, S string, U user
    category: str
    #: element type of an array
    element: int = 0


def _t(oid: int, name: str, category: str, element: int = 0) -> tuple[int, PgType]:
    return oid, PgType(oid, name, category, element)


#: Built-in types (their OIDs are fixed); the feed adds the rest from ``pg_type``.
BUILTIN: Mapping[int, PgType] = dict(
    [
        _t(16, "bool", "B"),
        _t(17, "bytea", "U"),
        _t(18, "char", "S"),
        _t(19, "name", "S"),
        _t(20, "int8", "N"),
        _t(21, "int2", "N"),
        _t(23, "int4", "N"),
        _t(25, "text", "S"),
        _t(26, "oid", "N"),
        _t(114, "json", "U"),
        _t(650, "cidr", "I"),
        _t(700, "float4", "N"),
        _t(701, "float8", "N"),
        _t(869, "inet", "I"),
        _t(1042, "bpchar", "S"),
        _t(1043, "varchar", "S"),
        _t(1082, "date", "D"),
        _t(1083, "time", "D"),
        _t(1114, "timestamp", "D"),
        _t(1184, "timestamptz", "D"),
        _t(1186, "interval", "T"),
        _t(1700, "numeric", "N"),
        _t(2950, "uuid", "U"),
        _t(3802, "jsonb", "U"),
        _t(1000, "_bool", "A", 16),
        _t(1005, "_int2", "A", 21),
        _t(1007, "_int4", "A", 23),
        _t(1009, "_text", "A", 25),
        _t(1015, "_varchar", "A", 1043),
        _t(1016, "_int8", "A", 20),
        _t(1021, "_float4", "A", 700),
        _t(1022, "_float8", "A", 701),
        _t(1182, "_date", "A", 1082),
        _t(1185, "_timestamptz", "A", 1184),
        _t(1231, "_numeric", "A", 1700),
        _t(2951, "_uuid", "A", 2950),
        _t(3807, "_jsonb", "A", 3802),
    ]
)

UNKNOWN = PgType(0, "unknown", "X")
_INTEGERS = frozenset({"int2", "int4", "int8", "oid"})
_FLOATS = frozenset({"float4", "float8", "numeric"})
_DIGITS = frozenset("0123456789")


def type_of(types: Mapping[int, PgType], oid: int) -> PgType:
    return types.get(oid) or BUILTIN.get(oid) or UNKNOWN


def to_json(types: Mapping[int, PgType], pg_type: PgType, text: str) -> Any:
    """The JSON value of one column's text output."""
    name = pg_type.name
    if name in _INTEGERS:
        return int(text)
    if name in _FLOATS:
        return _number(text)
    if name == "bool":
        return text == "t"
    if name in ("json", "jsonb"):
        return orjson.loads(text)
    if name == "timestamptz":
        return iso_timestamptz(text)
    if name == "timestamp":
        return text.replace(" ", "T", 1)
    if pg_type.category == "A" and pg_type.element:
        element = type_of(types, pg_type.element)
        return _map_array(parse_array(text), lambda v: to_json(types, element, v))
    return text


def _number(text: str) -> int | float | str:
    try:
        if "." not in text and "e" not in text.lower() and text.lstrip("-").isdigit():
            return int(text)
        value = float(text)
    except ValueError:
        return text
    # NaN and infinities are not JSON numbers: keep PostgreSQL's spelling.
    return value if value == value and value not in (float("inf"), float("-inf")) else text


def iso_timestamptz(text: str) -> str:
    """``2026-11-03 10:00:00.5+00`` -> ``2026-11-03T10:00:00.5+00:00`` (``to_jsonb``'s form)."""
    if text in ("infinity", "-infinity"):
        return text
    out = text.replace(" ", "T", 1)
    # ends with a whole-hour offset ("+00", "-05"): to_jsonb writes "+00:00"
    if len(out) > 3 and out[-3] in "+-" and out[-2] in _DIGITS and out[-1] in _DIGITS:
        return out + ":00"
    return out


def _map_array(value: Any, fn: Any) -> Any:
    if isinstance(value, list):
        return [_map_array(v, fn) for v in value]
    return None if value is None else fn(value)


def parse_array(text: str) -> list[Any]:
    """A PostgreSQL array literal (``{a,"b c",NULL,{1,2}}``) as nested lists of strings."""
    pos = 0
    if text.startswith("["):  # explicit bounds: [0:2]={...}
        pos = text.index("=") + 1

    def parse(i: int) -> tuple[list[Any], int]:
        if text[i] != "{":
            raise ValueError("array literal must start with {")
        i += 1
        items: list[Any] = []
        if text[i] == "}":
            return items, i + 1
        while True:
            if text[i] == "{":
                sub, i = parse(i)
                items.append(sub)
            elif text[i] == '"':
                i += 1
                chars = []
                while text[i] != '"':
                    if text[i] == "\\":
                        i += 1
                    chars.append(text[i])
                    i += 1
                items.append("".join(chars))
                i += 1
            else:
                start = i
                while text[i] not in ",}":
                    i += 1
                raw = text[start:i].strip()
                items.append(None if raw.upper() == "NULL" else raw)
            if text[i] == ",":
                i += 1
                continue
            if text[i] == "}":
                return items, i + 1
            raise ValueError("malformed array literal")

    try:
        items, _ = parse(pos)
    except IndexError:
        raise ValueError("malformed array literal") from None
    return items


# -- comparison (filters) ------------------------------------------------------------------


def comparable(pg_type: PgType, value: Any) -> Any:
    """A record value as something that orders like the column's type (None stays None)."""
    if value is None:
        return None
    name = pg_type.name
    try:
        if name in ("timestamptz", "timestamp") and isinstance(value, str):
            return _datetime(value, aware=name == "timestamptz")
        if name == "date" and isinstance(value, str):
            return date.fromisoformat(value)
        if name == "uuid" and isinstance(value, str):
            return value.lower()
    except ValueError:
        return value
    return value


def parse_literal(pg_type: PgType, text: str) -> Any:
    """A filter's value (text from the client) in the column's type; ValueError if it
    cannot be one."""
    name = pg_type.name
    if name in _INTEGERS:
        return int(text)
    if name in _FLOATS:
        value = float(text)
        return int(value) if value.is_integer() and "." not in text else value
    if name == "bool":
        lowered = text.lower()
        if lowered in ("t", "true", "1", "yes", "on"):
            return True
        if lowered in ("f", "false", "0", "no", "off"):
            return False
        raise ValueError(f"{text!r} is not a boolean")
    if name in ("timestamptz", "timestamp"):
        return _datetime(text, aware=name == "timestamptz")
    if name == "date":
        return date.fromisoformat(text)
    if name == "uuid":
        return str(UUID(text))
    if name in ("json", "jsonb") or pg_type.category == "A":
        raise ValueError(f"filters on {name} columns are not supported")
    return text


def _datetime(text: str, *, aware: bool) -> datetime:
    parsed = datetime.fromisoformat(text.replace(" ", "T", 1))
    if aware and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if not aware and parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed
