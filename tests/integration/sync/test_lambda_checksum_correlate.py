"""POST /api/sync/dynamodb with a Lambda event, the checksum API, and mirrored Firespring
visitors flowing into sessions, events and people."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from bench.import_data import dynamo_json, tables

from leadtrail.config import Settings
from leadtrail.identity.resolver import IdentityResolver
from leadtrail.storage import Database
from tests.conftest import make_settings
from tests.integration.people_support import Tenant, make_tenant
from tests.integration.sync.conftest import client as aws
from tests.integration.sync.conftest import create_table, stream_records

VISITORS = "firespring-backdoor-visitors-dev"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, dynamodb_url: str) -> Settings:
    return make_settings(tmp_path_factory, dynamodb_endpoint_url=dynamodb_url)


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "dynsync-a")


def lambda_event(records: list[dict[str, Any]], arn: str) -> bytes:
    """Records as a DynamoDB Streams trigger hands them to a Lambda function."""
    out = []
    for record in records:
        body = dict(record["dynamodb"])
        created = body["ApproximateCreationDateTime"]
        body["ApproximateCreationDateTime"] = (
            created.timestamp() if isinstance(created, datetime) else created
        )
        out.append({**record, "dynamodb": body, "eventSourceARN": arn})
    return orjson.dumps({"Records": out})


async def test_lambda_event_checksum_and_correlation(
    dynamodb_url: str,
    db: Database,
    tenant: Tenant,
    client: httpx.AsyncClient,
    owner: asyncpg.Connection,
) -> None:
    arn = create_table(dynamodb_url, VISITORS, "session_id", "timestamp")
    items = tables()[VISITORS][:40]
    dynamo = aws(dynamodb_url)
    for item in items:
        dynamo.put_item(TableName=VISITORS, Item=dynamo_json(item))
    records = stream_records(dynamodb_url, arn)
    event = lambda_event(records, arn)
    headers = {**tenant.auth(), "Content-Type": "application/json"}

    first = await client.post("/api/sync/dynamodb", content=event, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["records"] == 40 and first.json()["dead_letters"] == 0
    again = await client.post("/api/sync/dynamodb", content=event, headers=headers)
    assert again.json()["applied"] == 0 and again.json()["stale"] == 40  # a redelivery

    unique = {i["session_id"] for i in items}
    rows = await owner.fetch(
        "SELECT * FROM firespring_visitors_detailed WHERE site_id = $1", tenant.site_id
    )
    assert {r["visitor_id"] for r in rows} == unique
    first_visitor = next(r for r in rows if r["visitor_id"] == items[0]["session_id"])
    latest = max((i for i in items if i["session_id"] == items[0]["session_id"]),
                 key=lambda i: i["timestamp"])  # fmt: skip
    assert first_visitor["page_views"] == latest["pages_viewed"]
    assert (first_visitor["city"], first_visitor["state"], first_visitor["country"]) == (
        "Toledo", "Ohio", "USA",
    )  # fmt: skip

    # visitors became sessions with events, and people once the resolver ran
    sessions = await owner.fetchval(
        "SELECT count(*) FROM sessions WHERE site_id = $1 AND entry_page = 'https://www.mmptoledo.com/'",
        tenant.site_id,
    )
    assert sessions == len(unique)
    # the server's own resolver may hold the site's lock: run passes until it is free
    for _ in range(200):
        await IdentityResolver(db, 0, 1000).run_once()
        people = await owner.fetchval(
            "SELECT count(DISTINCT canonical_user_id) FROM sessions WHERE site_id = $1",
            tenant.site_id,
        )
        if people:
            break
        await asyncio.sleep(0.05)
    assert 0 < people <= len(unique)

    report = await client.get(
        "/api/sync/dynamodb/checksum",
        params={"table": VISITORS},
        headers=tenant.auth(tenant.read_key),
    )
    assert report.status_code == 200, report.text
    body = report.json()
    assert body["matches"] is True and body["source"]["rows"] == len(unique)
    assert body["source"]["items"] == 40 and body["source"]["digest"] == body["mirror"]["digest"]

    gone, changed = sorted(unique)[:2]
    await owner.execute(
        "DELETE FROM firespring_visitors WHERE site_id = $1 AND visitor_id = $2",
        tenant.site_id,
        gone,
    )
    await owner.execute(
        'UPDATE firespring_visitors SET item = item || \'{"browser": "Lynx"}\' '
        "WHERE site_id = $1 AND visitor_id = $2",
        tenant.site_id,
        changed,
    )
    await owner.execute(
        "INSERT INTO firespring_visitors (site_id, visitor_id, item) VALUES ($1, 'ghost', '{}')",
        tenant.site_id,
    )
    body = (
        await client.get(
            "/api/sync/dynamodb/checksum",
            params={"table": VISITORS},
            headers=tenant.auth(tenant.read_key),
        )
    ).json()
    assert body["matches"] is False
    assert (body["missing"], body["extra"], body["different"]) == (
        [[gone]],
        [["ghost"]],
        [[changed]],
    )


async def test_lambda_endpoint_refuses_bad_calls(
    tenant: Tenant, client: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    no_key = await client.post("/api/sync/dynamodb", json={"Records": []})
    assert no_key.status_code == 401
    bad = await client.post("/api/sync/dynamodb", content=b"{nope", headers=tenant.auth())
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_json")
    shape = await client.post("/api/sync/dynamodb", json={"records": []}, headers=tenant.auth())
    assert (shape.status_code, shape.json()["error"]) == (400, "invalid_request")
    unknown = await client.post(
        "/api/sync/dynamodb",
        json={"Records": [{"eventName": "INSERT",
                           "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/nope/stream/x"}]},
        headers=tenant.auth(),
    )  # fmt: skip
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unknown_source_table")
    broken = await client.post(
        "/api/sync/dynamodb",
        params={"table": VISITORS},
        json={"Records": [{"eventID": "x1", "eventName": "INSERT", "dynamodb": {}}]},
        headers=tenant.auth(),
    )
    assert broken.status_code == 200 and broken.json()["dead_letters"] == 1
    reason = await owner.fetchval(
        "SELECT reason FROM leadtrail.sync_dead_letters WHERE site_id = $1 AND event_id = 'x1'",
        tenant.site_id,
    )
    assert reason == "dynamodb.SequenceNumber missing or not digits"
    missing = await client.get(
        "/api/sync/dynamodb/checksum",
        params={"table": "nope"},
        headers=tenant.auth(tenant.read_key),
    )
    assert (missing.status_code, missing.json()["error"]) == (400, "unknown_source_table")
