"""Shard lineage of a DynamoDB stream: which shards may be read now. Pure.

DynamoDB splits a shard into children when it closes; the records of one item continue in
a child, so a child is read only after its parent is finished (or gone from the stream,
trimmed after 24 hours), which keeps every item's records in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shard:
    shard_id: str
    parent_id: str | None
    #: the shard has an ending sequence number: no new records will be added to it
    closed: bool

    @classmethod
    def from_api(cls, raw: Mapping[str, Any]) -> Shard:
        seq_range = raw.get("SequenceNumberRange") or {}
        return cls(raw["ShardId"], raw.get("ParentShardId"), "EndingSequenceNumber" in seq_range)


@dataclass(frozen=True)
class Checkpoint:
    sequence_number: str | None
    finished: bool


def readable(shards: Sequence[Shard], checkpoints: Mapping[str, Checkpoint]) -> list[Shard]:
    """Unfinished shards whose parent is finished or no longer listed, parents first."""
    listed = {s.shard_id for s in shards}
    out: list[Shard] = []
    for shard in shards:
        done = checkpoints.get(shard.shard_id)
        if done is not None and done.finished:
            continue
        parent = shard.parent_id
        if parent is None or parent not in listed:
            out.append(shard)
            continue
        parent_done = checkpoints.get(parent)
        if parent_done is not None and parent_done.finished:
            out.append(shard)
    return out


def iterator_request(shard: Shard, checkpoint: Checkpoint | None) -> dict[str, str]:
    """Where to start reading a shard: after its checkpoint, else its oldest record."""
    if checkpoint is not None and checkpoint.sequence_number:
        return {
            "ShardId": shard.shard_id,
            "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
            "SequenceNumber": checkpoint.sequence_number,
        }
    return {"ShardId": shard.shard_id, "ShardIteratorType": "TRIM_HORIZON"}
