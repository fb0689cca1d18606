"""Keep-latest: a replayed stream with duplicates, redeliveries, reordered MODIFYs and
REMOVEs ends in exactly the state of ordered delivery, which is the source table's."""

from __future__ import annotations

import random
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from leadtrail.storage import Database
from leadtrail.sync import config as sync_config
from leadtrail.sync.service import apply_records
from tests.integration.sync.conftest import client, create_table, stream_records

CONFIG = """
[tables."replay-segments"]
target = "firespring_segments"
key = { segment_id = "segment_id" }
delete = "hard"
[tables."replay-segments".fields]
segment_name = { path = "name", type = "text", required = true }
member_count = { path = "value", type = "integer" }
segment_criteria = { path = "raw", type = "jsonb" }

[tables."replay-leads"]
target = "mmp_toledo_leads"
key = { lead_id = "id" }
version = "updatedAt"
delete = "soft"
[tables."replay-leads".fields]
name = { path = "name", type = "text" }
updated_at = { path = "updatedAt", type = "timestamptz" }
"""
CFG = sync_config.parse(CONFIG, "test")


async def new_site(owner: asyncpg.Connection, name: str) -> UUID:
    return await owner.fetchval(  # type: ignore[no-any-return]
        "INSERT INTO sites (public_id, name, domain) VALUES ($1, $1, $2) RETURNING id",
        name,
        f"{name}.example",
    )


def churn(url: str, table: str, rng: random.Random, ops: int, leads: bool = False) -> None:
    """Random puts, updates and deletes over a few keys (the source of truth)."""
    dynamo = client(url)
    for n in range(ops):
        key = f"k{rng.randrange(25):02d}"
        roll = rng.random()
        if roll < 0.2:
            dynamo.delete_item(TableName=table, Key={("id" if leads else "segment_id"): {"S": key}})
        elif leads:
            dynamo.put_item(
                TableName=table,
                Item={"id": {"S": key}, "name": {"S": f"v{n}"},
                      "updatedAt": {"S": f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"}},
            )  # fmt: skip
        else:
            dynamo.put_item(
                TableName=table,
                Item={"segment_id": {"S": key}, "name": {"S": f"v{n}"}, "value": {"N": str(n)},
                      "raw": {"M": {"n": {"N": str(n)}, "tags": {"SS": ["a", "b"]}}}},
            )  # fmt: skip


async def mirror(owner: asyncpg.Connection, table: str, site: UUID) -> dict[str, Any]:
    rows = await owner.fetch(f"SELECT * FROM {table} WHERE site_id = $1", site)
    out = {}
    for row in rows:
        values = dict(row)
        values.pop("site_id")
        values.pop("synced_at")
        out[row[1]] = values
    return out


def scrambled(records: list[dict[str, Any]], rng: random.Random) -> list[list[dict[str, Any]]]:
    """Batches as an unreliable pipe delivers them: duplicates, whole batches redelivered,
    everything reordered."""
    deliveries = list(records)
    deliveries += [rng.choice(records) for _ in range(len(records) // 3)]
    batches = [deliveries[i : i + 7] for i in range(0, len(deliveries), 7)]
    batches += [rng.choice(batches) for _ in range(len(batches) // 4)]
    rng.shuffle(batches)
    for batch in batches:
        rng.shuffle(batch)
    return batches


async def test_replay_with_duplicates_and_reordering_matches_ordered_delivery(
    dynamodb_url: str, db: Database, owner: asyncpg.Connection
) -> None:
    arn = create_table(dynamodb_url, "replay-segments", "segment_id")
    churn(dynamodb_url, "replay-segments", random.Random(1), 400)
    records = stream_records(dynamodb_url, arn)
    names = {r["eventName"] for r in records}
    assert names == {"INSERT", "MODIFY", "REMOVE"} and len(records) > 300
    spec = CFG.table("replay-segments")

    ordered = await new_site(owner, "replay_ordered")
    for start in range(0, len(records), 10):
        await apply_records(db, ordered, spec, records[start : start + 10])
    expected = await mirror(owner, "firespring_segments", ordered)

    # the ordered state is the table's state
    items = client(dynamodb_url).scan(TableName="replay-segments")["Items"]
    assert sorted(expected) == sorted(i["segment_id"]["S"] for i in items)
    for item in items:
        row = expected[item["segment_id"]["S"]]
        assert row["segment_name"] == item["name"]["S"]
        assert row["member_count"] == int(item["value"]["N"])
        assert orjson.loads(row["segment_criteria"]) == {
            "n": int(item["value"]["N"]),
            "tags": ["a", "b"],
        }

    for seed in (2, 3, 4):
        site = await new_site(owner, f"replay_scrambled_{seed}")
        for batch in scrambled(records, random.Random(seed)):
            await apply_records(db, site, spec, batch)
        assert await mirror(owner, "firespring_segments", site) == expected


async def test_soft_deletes_and_versions_survive_reordering(
    dynamodb_url: str, db: Database, owner: asyncpg.Connection
) -> None:
    arn = create_table(dynamodb_url, "replay-leads", "id")
    churn(dynamodb_url, "replay-leads", random.Random(5), 300, leads=True)
    records = stream_records(dynamodb_url, arn)
    spec = CFG.table("replay-leads")
    ordered = await new_site(owner, "soft_ordered")
    await apply_records(db, ordered, spec, records)
    expected = await mirror(owner, "mmp_toledo_leads", ordered)
    live = {k for k, v in expected.items() if v["deleted_at"] is None}
    items = client(dynamodb_url).scan(TableName="replay-leads")["Items"]
    assert live == {i["id"]["S"] for i in items}
    assert any(v["deleted_at"] is not None for v in expected.values())  # soft-deleted rows kept
    site = await new_site(owner, "soft_scrambled")
    for batch in scrambled(records, random.Random(6)):
        await apply_records(db, site, spec, batch)
    assert await mirror(owner, "mmp_toledo_leads", site) == expected


async def test_bad_records_go_to_the_dead_letter_queue(
    db: Database, owner: asyncpg.Connection
) -> None:
    site = await new_site(owner, "dlq_site")
    spec = CFG.table("replay-segments")
    good = {
        "eventID": "e1", "eventName": "INSERT",
        "dynamodb": {"ApproximateCreationDateTime": 1767225600, "SequenceNumber": "100",
                     "Keys": {"segment_id": {"S": "s1"}},
                     "NewImage": {"segment_id": {"S": "s1"}, "name": {"S": "ok"}}},
    }  # fmt: skip
    missing_name = {**good, "eventID": "e2", "dynamodb": {**good["dynamodb"], "SequenceNumber": "101",  # type: ignore[dict-item]
                    "NewImage": {"segment_id": {"S": "s2"}, "value": {"N": "x1"}}}}  # fmt: skip
    result = await apply_records(db, site, spec, [good, missing_name])
    assert result.applied.upserted == 1 and result.failed == 1
    letter = await owner.fetchrow(
        "SELECT event_id, reason, record FROM leadtrail.sync_dead_letters WHERE site_id = $1", site
    )
    assert letter["event_id"] == "e2"
    assert letter["reason"] == "segment_name: required and missing"
    assert orjson.loads(letter["record"])["dynamodb"]["NewImage"]["segment_id"] == {"S": "s2"}
