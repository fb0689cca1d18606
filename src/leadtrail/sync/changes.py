"""Stream records (from DynamoDB Streams or a Lambda event) as ordered changes. Pure.

A change's order is ``(version, time, seq)``: the item's own version field (epoch ms, when
the table declares one, so the latest of several items mapping to one key wins), the
record's ApproximateCreationDateTime in ms, and its SequenceNumber. Applying only the
greatest order per key is what makes duplicates, redeliveries and reordered batches end
in the state of ordered delivery.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from leadtrail.sync.config import TableSpec
from leadtrail.sync.transform import Row, TransformError, key_of, transform, unmarshal, version_of

EVENT_NAMES = frozenset({"INSERT", "MODIFY", "REMOVE"})
Order = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Change:
    """One record of a source table: an upsert (``row``) or a removal (``removed``)."""

    key: tuple[str, ...]
    order: Order
    row: Row | None
    #: for REMOVE: the old item (may be only its keys)
    removed: dict[str, Any] | None = None

    @property
    def is_remove(self) -> bool:
        return self.row is None


@dataclass(frozen=True, slots=True)
class Failure:
    """A record that could not become a change, kept whole for the dead-letter queue."""

    event_id: str | None
    record: dict[str, Any]
    reason: str


def table_of(record: Mapping[str, Any]) -> str | None:
    """The source table named by a Lambda record's ``eventSourceARN``."""
    arn = record.get("eventSourceARN")
    if not isinstance(arn, str) or ":table/" not in arn:
        return None
    return arn.split(":table/", 1)[1].split("/", 1)[0] or None


def _time_ms(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # AWS sends epoch seconds (with a fraction when the stream asks for ms precision)
        return int(value * 1000) if value < 1e11 else int(value)
    raise TransformError("dynamodb.ApproximateCreationDateTime missing or not a number")


def change_from_record(spec: TableSpec, record: Mapping[str, Any]) -> Change:
    """One stream record (boto3 ``get_records`` or Lambda shape) as a change."""
    name = record.get("eventName")
    if name not in EVENT_NAMES:
        raise TransformError(f"eventName {name!r} is not INSERT, MODIFY or REMOVE")
    body = record.get("dynamodb")
    if not isinstance(body, Mapping):
        raise TransformError("record has no dynamodb object")
    seq_text = body.get("SequenceNumber")
    if not isinstance(seq_text, str) or not seq_text.isdigit():
        raise TransformError("dynamodb.SequenceNumber missing or not digits")
    time_ms = _time_ms(body.get("ApproximateCreationDateTime"))
    if name == "REMOVE":
        old = body.get("OldImage")
        keys = body.get("Keys")
        image = old if isinstance(old, Mapping) else keys
        if not isinstance(image, Mapping):
            raise TransformError("REMOVE without Keys or OldImage")
        item = unmarshal(image)
        if spec.version is not None and not isinstance(old, Mapping):
            raise TransformError(
                "REMOVE without OldImage on a table with a version field; "
                "enable the stream with NEW_AND_OLD_IMAGES"
            )
        return Change(
            key_of(spec, item), (version_of(spec, item), time_ms, int(seq_text)), None, item
        )
    new = body.get("NewImage")
    if not isinstance(new, Mapping):
        raise TransformError(f"{name} without NewImage; enable the stream with NEW_AND_OLD_IMAGES")
    row = transform(spec, unmarshal(new))
    return Change(row.key, (row.version, time_ms, int(seq_text)), row)


def change_from_item(spec: TableSpec, item: dict[str, Any], snapshot_ms: int) -> Change:
    """An item read by a Scan or from an export file, as of ``snapshot_ms``."""
    row = transform(spec, item)
    return Change(row.key, (row.version, snapshot_ms, 0), row)


def parse_records(
    spec: TableSpec, records: Iterable[Mapping[str, Any]]
) -> tuple[list[Change], list[Failure]]:
    changes: list[Change] = []
    failures: list[Failure] = []
    for record in records:
        try:
            changes.append(change_from_record(spec, record))
        except TransformError as exc:
            event_id = record.get("eventID")
            failures.append(
                Failure(event_id if isinstance(event_id, str) else None, dict(record), str(exc))
            )
    return changes, failures


def latest(changes: Iterable[Change]) -> list[Change]:
    """The greatest-ordered change per key (ties: the later one in the input)."""
    best: dict[tuple[str, ...], Change] = {}
    for change in changes:
        current = best.get(change.key)
        if current is None or change.order >= current.order:
            best[change.key] = change
    return list(best.values())
