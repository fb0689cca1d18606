"""Heartbeats, system health and the seed's session-correlator function over real HTTP."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from leadtrail.config import Settings
from leadtrail.storage import Database
from tests.conftest import make_settings
from tests.integration.people_support import Tenant, add_session, make_tenant

FN = "/functions/v1/session-correlator"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(tmp_path_factory, heartbeat_dead_after=60)


@pytest.fixture(scope="module")
async def tenants(db: Database) -> dict[str, Tenant]:
    return {
        "a": await make_tenant(db, "ops-a", {"default_region": "US"}),
        "b": await make_tenant(db, "ops-b"),
    }


def beat(component_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "component_type": "edge_function",
        "component_id": component_id,
        "component_name": "Session Correlator",
        "status": "healthy",
        "metrics": {"memory_usage": 45.2, "requests_per_minute": 150, "is_leader": True,
                    "quorum_size": 3, "version": "1.0.0", "region": "us-east-1"},
        **extra,
    }  # fmt: skip


async def test_heartbeats_and_health_per_site(
    client: httpx.AsyncClient, tenants: dict[str, Tenant], owner: asyncpg.Connection
) -> None:
    a, b = tenants["a"], tenants["b"]
    posted = await client.post("/api/heartbeats", json=beat("fn-1"), headers=a.auth())
    assert posted.status_code == 201, posted.text
    via_fn = await client.post(
        FN, json={"action": "publish_heartbeat", "data": beat("fn-2")}, headers=a.auth()
    )
    assert via_fn.status_code == 200 and via_fn.json()["status"] == "ok"
    await client.post("/api/heartbeats", json=beat("fn-b"), headers=b.auth())
    # fn-1 went silent three minutes ago: dead (no beat for more than dead_after).
    await owner.execute(
        "UPDATE realtime_heartbeats SET heartbeat_timestamp = now() - interval '3 minutes' "
        "WHERE component_id = 'fn-1'"
    )
    health = await client.get("/api/system/health", headers=a.auth(a.read_key))
    assert health.status_code == 200
    out = health.json()
    comps = {c["component_id"]: c for c in out["components"]}
    assert set(comps) == {"fn-1", "fn-2"}  # never site b's
    assert comps["fn-1"]["is_dead"] and comps["fn-1"]["status"] == "dead"
    assert comps["fn-2"]["status"] == "healthy" and comps["fn-2"]["is_leader"]
    assert comps["fn-2"]["metrics"]["region"] == "us-east-1"
    assert out["status"] == "unhealthy" and out["counts"]["dead"] == 1
    row = await owner.fetchrow(
        "SELECT quorum_size, memory_usage, region FROM realtime_heartbeats WHERE component_id = 'fn-2'"
    )
    assert row is not None and row["quorum_size"] == 3 and row["region"] == "us-east-1"

    bad = await client.post(
        "/api/heartbeats", json={"component_id": "x", "status": "fine"}, headers=a.auth()
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_heartbeat"
    anon = await client.get("/api/system/health")
    assert anon.status_code == 401


async def test_superuser_sees_leadtrail_components(
    client: httpx.AsyncClient, server: Any, owner: asyncpg.Connection, tenants: dict[str, Tenant]
) -> None:
    svc = server.app.state.services
    assert await svc.heartbeats.publish_once() >= 5
    await owner.execute(
        "UPDATE app_users SET is_superuser = true WHERE email = $1", tenants["a"].user_email
    )
    login = await client.post(
        "/api/auth/login",
        json={"email": tenants["a"].user_email, "password": tenants["a"].password},
    )
    assert login.status_code == 200, login.text
    health = (await client.get("/api/system/health")).json()
    kinds = {c["component_type"] for c in health["components"] if c["site_id"] is None}
    assert {"api_server", "ingest_writer", "scheduler", "webhook_sender", "rollups"} <= kinds
    sched = await client.get("/api/system/scheduler")
    assert sched.status_code == 200 and sched.json()["this_node_leads"] is True
    assert {"rollups", "partition-upkeep", "heartbeat-cleanup"} <= set(
        sched.json()["registered_jobs"]
    )
    client.cookies.clear()


async def test_session_correlator_actions(
    db: Database, client: httpx.AsyncClient, tenants: dict[str, Tenant]
) -> None:
    a = tenants["a"]
    sid = await add_session(
        db, a.site_id, fingerprint="fp-corr", lead_score=40, utm_campaign="spring"
    )
    lead = await client.post(
        FN,
        json={"action": "correlate_lead_submission", "data": {
            "name": "John Doe", "email": "john@example.com", "phone": "+14195550134",
            "company": "Test Corp", "message": "Interested in services", "mmp_lead_id": "lead_12345",
            "session_id": str(sid)}},
        headers=a.auth(),
    )  # fmt: skip
    assert lead.status_code == 200, lead.text
    out = lead.json()
    assert out["canonical_session_id"] == str(sid) and out["mmp_lead_id"] == "lead_12345"
    assert out["attributed_campaign"] == "spring"
    journey = await client.post(
        FN,
        json={
            "action": "get_user_journey",
            "data": {"canonical_user_id": out["canonical_user_id"]},
        },
        headers=a.auth(),
    )
    assert journey.status_code == 200, journey.text
    j = journey.json()
    assert {"user", "sessions", "events", "leads", "ad_spend", "journey_summary"} <= set(j)
    assert j["journey_summary"]["total_leads"] == 1 and j["journey_summary"]["converted"] is True

    # the Firespring actions are the DynamoDB sync's (tests/integration/test_sync_*.py)
    r = await client.post(
        FN, json={"action": "correlate_firespring_session", "data": {}}, headers=a.auth()
    )
    assert r.status_code == 400 and r.json()["field"] == "data.session_id"
    r = await client.post(
        FN, json={"action": "batch_populate_from_firespring", "data": {}}, headers=a.auth()
    )
    assert r.status_code == 200 and r.json()["sessions"] == 0  # nothing mirrored on this site
    unknown = await client.post(FN, json={"action": "nope"}, headers=a.auth())
    assert unknown.status_code == 400 and unknown.json()["error"] == "unknown_action"
    other = await client.post(
        FN, json={"action": "get_user_journey", "data": {"canonical_user_id": out["canonical_user_id"]}},
        headers=tenants["b"].auth(),
    )  # fmt: skip
    assert other.status_code == 404
    assert (await client.post(FN, json={"action": "get_user_journey"})).status_code == 401


async def test_status_cli(
    test_database: Any, cli_env: dict[str, str], server: Any, tenants: dict[str, Tenant]
) -> None:
    from tests.conftest import leadtrail_cli

    await server.app.state.services.heartbeats.publish_once()
    code, out, err = await leadtrail_cli(test_database, cli_env, "status", "--json")
    assert code == 0, err
    state = orjson.loads(out)
    kinds = {c["component_type"] for c in state["health"]["components"]}
    assert {"api_server", "scheduler", "webhook_sender"} <= kinds
    assert state["leases"][0]["name"] == "scheduler" and state["leases"][0]["live"]
    assert "outbox" in state["queues"] and any(j["job"] == "rollups" for j in state["jobs"])
    code, text, _ = await leadtrail_cli(test_database, cli_env, "status")
    assert code == 0 and "leader (scheduler):" in text and "jobs:" in text
