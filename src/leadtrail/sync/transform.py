"""From a DynamoDB item to a mirror row, as the table's configuration says. Pure.

Values are unmarshalled with boto3's own ``TypeDeserializer`` and then made plain
(numbers as int or float, sets as sorted lists, binary as base64) so the whole item can
be kept as JSON next to the typed columns.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from boto3.dynamodb.types import Binary, TypeDeserializer

from leadtrail.sync.config import FieldSpec, TableSpec

_DESERIALIZER = TypeDeserializer()


class TransformError(ValueError):
    """The item does not fit the table's configuration; the reason goes to the DLQ."""


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value as JSON-ready Python."""
    if type(value) is str:  # the common case first: imports spend their time here
        return value
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        return float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((plain(v) for v in value), key=lambda v: (str(type(v)), v))
    if isinstance(value, Binary):
        return base64.b64encode(value.value).decode()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    return value


def _value(value: Any) -> Any:
    # a string attribute deserializes to itself: skip the dispatch for the most common type
    if type(value) is dict and len(value) == 1 and type(value.get("S")) is str:
        return value["S"]
    return plain(_DESERIALIZER.deserialize(value))


def unmarshal(image: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB-JSON item (``{"a": {"S": "x"}}``) as a plain dict."""
    try:
        return {k: _value(v) for k, v in image.items()}
    except (TypeError, ValueError, AttributeError, KeyError, InvalidOperation) as exc:
        raise TransformError(f"not DynamoDB JSON: {exc}") from None


def lookup(item: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` (missing steps give None)."""
    if len(path) == 1 and type(item) is dict:
        return item.get(path[0])
    value = item
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, list) or step >= len(value):
                return None
            value = value[step]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(step)
        if value is None:
            return None
    return value


def first_of(item: Any, paths: tuple[tuple[str | int, ...], ...]) -> Any:
    for path in paths:
        value = lookup(item, path)
        if value is not None and value != "":
            return value
    return None


def parse_location(text: str) -> tuple[str | None, str | None, str | None]:
    """``"Toledo, Ohio, USA"`` -> city, region, country; ``"Bangkok, Thailand"`` -> city and
    country; one part is a country."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None, None, None
    if len(parts) == 1:
        return None, None, parts[0]
    if len(parts) == 2:
        return parts[0], None, parts[1]
    return parts[0], parts[-2], parts[-1]


def to_timestamp(value: Any) -> datetime:
    """ISO 8601 text or epoch seconds/milliseconds."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise TransformError(f"{value!r} is not a time")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise TransformError(f"{value!r} is not a time")
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise TransformError(f"{value!r} is out of range for a time") from None
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return to_timestamp(float(text))
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise TransformError(f"{value!r} is not an ISO 8601 time") from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    raise TransformError(f"{type(value).__name__} is not a time")


def epoch_ms(value: Any) -> int:
    return int(to_timestamp(value).timestamp() * 1000)


def _number(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TransformError(f"{value!r} is not a number")
    try:
        number = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise TransformError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise TransformError(f"{value!r} is not a finite number")
    return number


_INT_LIMITS = {"integer": 2**31, "bigint": 2**63}


def convert(value: Any, kind: str) -> Any:
    """``value`` as the column type wants it (raises ``TransformError``)."""
    if kind == "jsonb":
        return value
    if kind == "text":
        if isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        return str(value)
    if kind in _INT_LIMITS:
        number = _number(value)
        if number != number.to_integral_value():
            raise TransformError(f"{value!r} is not a whole number")
        if not -_INT_LIMITS[kind] <= number < _INT_LIMITS[kind]:
            raise TransformError(f"{value!r} is out of range for {kind}")
        return int(number)
    if kind == "numeric":
        return _number(value)
    if kind == "double":
        return float(_number(value))
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise TransformError(f"{value!r} is not a boolean")
    if kind == "timestamptz":
        return to_timestamp(value)
    raise TransformError(f"unknown type {kind!r}")  # config validation prevents this


@dataclass(frozen=True, slots=True)
class Row:
    """One mirror row: its key, typed values, the plain item and its version (epoch ms)."""

    key: tuple[str, ...]
    values: tuple[Any, ...]
    item: dict[str, Any]
    version: int


def _key(spec: TableSpec, item: Mapping[str, Any]) -> tuple[str, ...]:
    out: list[str] = []
    for column, path in spec.key:
        value = lookup(item, path)
        if value is None or value == "" or isinstance(value, dict | list | bool):
            raise TransformError(f"key {column}: missing or not a string/number")
        out.append(str(value))
    return tuple(out)


def key_of(spec: TableSpec, item: Mapping[str, Any]) -> tuple[str, ...]:
    """The mirror key of an item (for REMOVE records that carry only keys)."""
    return _key(spec, item)


def _field(spec: FieldSpec, item: Mapping[str, Any]) -> list[Any]:
    value = item if spec.paths == ((),) else first_of(item, spec.paths)
    if value is None:
        if spec.required:
            raise TransformError(f"{spec.column}: required and missing")
        return [None] * len(spec.target_columns)
    try:
        if spec.type == "location":
            if not isinstance(value, str):
                raise TransformError(f"{type(value).__name__} is not a location string")
            return list(parse_location(value))
        return [convert(value, spec.type)]
    except TransformError as exc:
        raise TransformError(f"{spec.column}: {exc}") from None


def version_of(spec: TableSpec, item: Mapping[str, Any]) -> int:
    if spec.version is None:
        return 0
    value = lookup(item, spec.version)
    if value is None:
        return 0
    try:
        return epoch_ms(value)
    except TransformError as exc:
        raise TransformError(f"version: {exc}") from None


def transform(spec: TableSpec, item: dict[str, Any]) -> Row:
    """The mirror row for a plain item, or ``TransformError`` with the reason."""
    values: list[Any] = []
    for field in spec.fields:
        values.extend(_field(field, item))
    return Row(_key(spec, item), tuple(values), item, version_of(spec, item))
