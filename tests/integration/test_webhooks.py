"""Outbound webhooks end to end over real HTTP: facts write the outbox in their own
transaction, deliveries are signed (verified with ``standardwebhooks``), retried until the
endpoint recovers (delivered exactly once), dead-lettered, replayed, and logged."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from leadtrail.auth.api_keys import create_key
from leadtrail.config import Settings
from leadtrail.storage import Claims, Database, DbRole
from leadtrail.webhooks import outbox
from tests.conftest import free_port, make_settings
from tests.integration.people_support import Tenant, make_tenant
from tests.integration.webhook_receiver import Receiver, running


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        webhook_retry_base=0.05,
        webhook_retry_cap=0.2,
        webhook_retry_window=3,
        webhook_idle_interval=0.05,
        heartbeat_interval=0,
    )


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "hooks", {"default_region": "US"})


@pytest.fixture(scope="module")
async def admin_key(db: Database, tenant: Tenant) -> str:
    async with db.system() as conn:
        return (await create_key(conn, tenant.site_id, name="admin", scopes=["admin"])).key


async def add_endpoint(
    client: httpx.AsyncClient, key: str, url: str, events: list[str], **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/webhooks",
        json={"url": url, "events": events, **extra},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert body["secret"].startswith("whsec_")
    return body


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running(Receiver()) as r:
        yield r


async def _disable(client: httpx.AsyncClient, key: str, endpoint: dict[str, Any]) -> None:
    response = await client.patch(
        f"/api/webhooks/{endpoint['id']}",
        json={"enabled": False},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text


async def test_lead_and_call_are_delivered_signed(
    client: httpx.AsyncClient, tenant: Tenant, admin_key: str, receiver: Receiver
) -> None:
    endpoint = await add_endpoint(
        client, admin_key, receiver.url, ["lead.created", "call.received", "call.matched"]
    )
    receiver.secret = endpoint["secret"]
    lead = await client.post(
        "/api/leads",
        json={"email": "ada@example.com", "name": "Ada", "external_lead_id": "crm-hook-1"},
        headers=tenant.auth(),
    )
    assert lead.status_code == 201, lead.text
    call = await client.post(
        "/api/call-event", json={"phone_number": "(419) 555-0100"}, headers=tenant.auth()
    )
    assert call.status_code == 201, call.text
    await receiver.wait_for(lambda r: len(r.delivered()) >= 2)
    assert receiver.bad_signatures == 0
    by_type = {r.payload["type"]: r for r in receiver.delivered()}
    assert set(by_type) == {"lead.created", "call.received"}  # unmatched: no call.matched
    data = by_type["lead.created"].payload["data"]
    assert data["email"] == "ada@example.com" and data["mmp_lead_id"] == "crm-hook-1"
    assert data["lead_id"] == lead.json()["lead_id"]
    assert by_type["call.received"].payload["data"]["call_id"] == call.json()["call_id"]
    for r in receiver.delivered():
        assert r.webhook_id.startswith("msg_") and r.headers["webhook-signature"].startswith("v1,")
    # The repeat of an idempotent lead is no new fact: nothing more is sent.
    again = await client.post(
        "/api/leads",
        json={"email": "ada@example.com", "external_lead_id": "crm-hook-1"},
        headers=tenant.auth(),
    )
    assert again.status_code == 200
    # The sender records answered attempts in batches just after the receiver's answer.
    for _ in range(600):
        log = await client.get(
            f"/api/webhooks/{endpoint['id']}/deliveries",
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert log.status_code == 200
        if all(d["status"] != "pending" for d in log.json()):
            break
    assert sorted(d["status"] for d in log.json()) == ["delivered", "delivered"]
    assert all(len(d["attempt_log"]) == 1 for d in log.json())
    await _disable(client, admin_key, endpoint)


async def test_rolled_back_fact_sends_nothing(
    db: Database, client: httpx.AsyncClient, tenant: Tenant, admin_key: str, receiver: Receiver,
    owner: asyncpg.Connection,
) -> None:  # fmt: skip
    endpoint = await add_endpoint(client, admin_key, receiver.url, ["lead.created"])
    receiver.secret = endpoint["secret"]
    claims = Claims(role=DbRole.ADMIN, sub="test", site_ids=(tenant.site_id,))
    with pytest.raises(RuntimeError):
        async with db.transaction(claims) as conn:
            await outbox.emit(conn, tenant.site_id, "lead.created", {"n": "rolled back"})
            raise RuntimeError("the fact's transaction fails")
    async with db.transaction(claims) as conn:
        await outbox.emit(conn, tenant.site_id, "lead.created", {"n": "committed"})
    await receiver.wait_for(lambda r: len(r.delivered()) >= 1)
    assert [r.payload["data"]["n"] for r in receiver.delivered()] == ["committed"]
    assert await owner.fetchval("SELECT count(*) FROM webhook_outbox") == 0
    await _disable(client, admin_key, endpoint)


async def test_failing_endpoint_gets_it_exactly_once_after_recovering(
    db: Database, client: httpx.AsyncClient, tenant: Tenant, admin_key: str
) -> None:
    async with running(Receiver(fail_first=3)) as receiver:
        endpoint = await add_endpoint(client, admin_key, receiver.url, ["lead.created"])
        receiver.secret = endpoint["secret"]
        claims = Claims(role=DbRole.ADMIN, sub="test", site_ids=(tenant.site_id,))
        async with db.transaction(claims) as conn:
            await outbox.emit(conn, tenant.site_id, "lead.created", {"n": 1})
        await receiver.wait_for(lambda r: len(r.delivered()) >= 1)
        for _ in range(600):  # recorded in a batch just after the receiver's answer
            log = await client.get(
                f"/api/webhooks/{endpoint['id']}/deliveries",
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            if log.json() and log.json()[0]["status"] != "pending":
                break
        await _disable(client, admin_key, endpoint)
    assert [r.answered for r in receiver.requests] == [500, 500, 500, 204]
    assert len({r.webhook_id for r in receiver.requests}) == 1  # one message, retried
    (delivery,) = log.json()
    assert delivery["status"] == "delivered" and delivery["attempts"] == 4
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 500, 204]


async def test_dead_endpoint_is_dead_lettered_then_replayed(
    db: Database, client: httpx.AsyncClient, tenant: Tenant, admin_key: str
) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}/nobody"
    endpoint = await add_endpoint(client, admin_key, dead_url, ["lead.created"], format="slack")
    claims = Claims(role=DbRole.ADMIN, sub="test", site_ids=(tenant.site_id,))
    async with db.transaction(claims) as conn:
        await outbox.emit(conn, tenant.site_id, "lead.created", {"email": "x@example.com"})
    auth = {"Authorization": f"Bearer {admin_key}"}
    url = f"/api/webhooks/{endpoint['id']}/deliveries"
    deadline = time.monotonic() + 60  # the retry window is 3 s in this module
    while time.monotonic() < deadline:
        rows = (await client.get(url, headers=auth)).json()
        if rows and rows[0]["status"] == "dead":
            break
        await client.get("/healthz")  # pace the loop on a round trip, not a sleep
    (dead,) = rows
    assert dead["status"] == "dead" and dead["attempts"] >= 2
    assert all(a["status_code"] is None and a["error"] for a in dead["attempt_log"])

    # A slow or dead endpoint never holds up the others: the receiver below gets its event.
    async with running(Receiver()) as receiver:
        live = await add_endpoint(client, admin_key, receiver.url, ["lead.created"], format="slack")
        replay = await client.post(f"{url}/{dead['webhook_id']}/replay", headers=auth)
        assert replay.status_code == 200 and replay.json()["status"] == "pending"
        async with db.transaction(claims) as conn:
            await outbox.emit(conn, tenant.site_id, "lead.created", {"email": "y@example.com"})
        await receiver.wait_for(lambda r: len(r.delivered()) >= 1)
        body = receiver.delivered()[0].body
        assert b'"text"' in body and b"y@example.com" in body  # Slack message format
        await _disable(client, admin_key, live)
    missing = await client.post(f"{url}/{uuid.uuid4()}/replay", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"] == "delivery_not_found"
    await _disable(client, admin_key, endpoint)


async def test_bad_endpoints_are_refused(
    client: httpx.AsyncClient, admin_key: str, tenant: Tenant
) -> None:
    auth = {"Authorization": f"Bearer {admin_key}"}
    bad_url = await client.post(
        "/api/webhooks", json={"url": "ftp://x", "events": ["lead.created"]}, headers=auth
    )
    assert bad_url.status_code == 400 and bad_url.json()["error"] == "invalid_webhook"
    bad_event = await client.post(
        "/api/webhooks", json={"url": "http://x.example/", "events": ["nope"]}, headers=auth
    )
    assert bad_event.status_code == 400 and bad_event.json()["error"] == "invalid_webhook"
    ingest = await client.post(
        "/api/webhooks",
        json={"url": "http://x.example/", "events": ["lead.created"]},
        headers=tenant.auth(),
    )
    assert ingest.status_code == 403
