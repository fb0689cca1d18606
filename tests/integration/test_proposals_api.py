"""Optimisation proposals over real HTTP: external posts, the state machine (every refused
move answers 409), transitions with actor and reason, pull requests, the rule-based generator
reading friction events, tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from leadtrail.proposals import machine
from leadtrail.storage import Database
from tests.integration.people_support import Tenant, make_tenant

# the shortest way to reach each status from 'proposed'
PATHS = {
    "proposed": [],
    "approved": ["approved"],
    "rejected": ["rejected"],
    "implemented": ["approved", "implemented"],
    "testing": ["approved", "implemented", "testing"],
    "deployed": ["approved", "implemented", "testing", "deployed"],
    "rolled_back": ["approved", "implemented", "testing", "rolled_back"],
    "archived": ["rejected", "archived"],
}


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "prop")


def body(t: Tenant, pid: str, **extra: Any) -> dict[str, Any]:
    return {
        "site_id": str(t.site_id),
        "proposal_id": pid,
        "friction_point": "rage clicks on the hero image",
        "change_description": "link the hero image to the offer",
        "ai_confidence": 0.8,
        "expected_impact": 0.1,
        **extra,
    }


async def move(
    client: httpx.AsyncClient, t: Tenant, pid: str, to: str, **extra: Any
) -> httpx.Response:
    data: dict[str, Any] = {"to": to, **extra}
    if to == "testing":
        data.setdefault("test_id", "exp-for-proposals")
    if to == "rolled_back":
        data.setdefault("reason", "conversions fell")
    return await client.post(
        f"/api/proposals/{pid}/transition",
        params={"site_id": str(t.site_id)},
        json=data,
        headers=t.auth(),
    )


async def test_post_validate_and_attach_a_pull_request(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    h = tenant.auth()
    made = await client.post("/api/proposals", json=body(tenant, "ai-1"), headers=h)
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "proposed" and made.json()["source"] == "api"
    dup = await client.post("/api/proposals", json=body(tenant, "ai-1"), headers=h)
    assert dup.status_code == 409 and dup.json()["error"] == "proposal_exists"
    bad = await client.post(
        "/api/proposals", json=body(tenant, "ai-2", ai_confidence=1.5), headers=h
    )
    assert bad.status_code == 400
    pr = await client.patch(
        "/api/proposals/ai-1",
        params={"site_id": str(tenant.site_id)},
        json={"pr_url": "https://github.com/acme/site/pull/42", "pr_number": 42},
        headers=h,
    )
    assert pr.status_code == 200 and pr.json()["pr_number"] == 42
    bad_pr = await client.patch(
        "/api/proposals/ai-1",
        params={"site_id": str(tenant.site_id)},
        json={"pr_url": "javascript:x"},
        headers=h,
    )
    assert bad_pr.status_code == 400
    reader = await client.post(
        "/api/proposals", json=body(tenant, "ai-3"), headers=tenant.auth(tenant.read_key)
    )
    assert reader.status_code == 403


async def test_every_refused_move_answers_409_and_allowed_ones_are_recorded(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    h = tenant.auth()
    exp = {
        "site_id": str(tenant.site_id),
        "test_id": "exp-for-proposals",
        "test_name": "E",
        "variants": [{"name": "A"}, {"name": "B"}],
        "goal": {"type": "call"},
    }
    assert (await client.post("/api/experiments", json=exp, headers=h)).status_code == 201
    for n, (status, path) in enumerate(PATHS.items()):
        for target in machine.STATUSES:
            if target in machine.TRANSITIONS[status]:
                continue
            pid = f"sm-{n}-{target}"
            assert (
                await client.post("/api/proposals", json=body(tenant, pid), headers=h)
            ).status_code == 201
            for step in path:
                assert (await move(client, tenant, pid, step)).status_code == 200, (pid, step)
            refused = await move(client, tenant, pid, target)
            assert refused.status_code == 409, (status, target, refused.text)
            assert refused.json()["error"] == "invalid_transition"
    # the full path of one proposal, with actor, time and reason per move
    for step in PATHS["rolled_back"]:
        assert (await move(client, tenant, "ai-1", step)).status_code == 200
    got = (
        await client.get("/api/proposals/ai-1", params={"site_id": str(tenant.site_id)}, headers=h)
    ).json()
    assert got["status"] == "rolled_back" and got["rollback_reason"] == "conversions fell"
    assert got["test_id"] == "exp-for-proposals" and got["tested_at"] is not None
    moves = [(m["from_status"], m["to_status"]) for m in got["transitions"]]
    assert moves == [
        (None, "proposed"),
        ("proposed", "approved"),
        ("approved", "implemented"),
        ("implemented", "testing"),
        ("testing", "rolled_back"),
    ]
    assert all(m["actor"].startswith("api_key:lt_") and m["at"] for m in got["transitions"])
    assert got["transitions"][-1]["reason"] == "conversions fell"


async def test_testing_needs_a_real_experiment_and_rollback_a_reason(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    h = tenant.auth()
    assert (
        await client.post("/api/proposals", json=body(tenant, "needs-test"), headers=h)
    ).status_code == 201
    for step in ("approved", "implemented"):
        await move(client, tenant, "needs-test", step)
    r = await client.post(
        "/api/proposals/needs-test/transition",
        params={"site_id": str(tenant.site_id)},
        json={"to": "testing"},
        headers=h,
    )
    assert r.status_code == 400 and r.json()["error"] == "test_required"
    r = await move(client, tenant, "needs-test", "testing", test_id="no-such-test")
    assert r.status_code == 404 and r.json()["error"] == "experiment_not_found"
    assert (await move(client, tenant, "needs-test", "testing")).status_code == 200
    r = await move(client, tenant, "needs-test", "rolled_back", reason="")
    assert r.status_code == 400 and r.json()["error"] == "reason_required"


async def test_generator_reads_friction_events(
    db: Database, tenant: Tenant, client: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    at = datetime.now(UTC) - timedelta(hours=2)
    month = at.date().replace(day=1)
    await owner.execute(
        """INSERT INTO sessions (site_id, id, created_month, created_at, fingerprint)
           SELECT $1, gen_random_uuid(), $2, $3, 'gen-' || i FROM generate_series(1, 60) i""",
        tenant.site_id,
        month,
        at,
    )
    # every session views /pricing; 20 rage-click the (non-interactive) hero image; 12 leave
    # the quote form at the phone field, 3 at email
    await owner.execute(
        """INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category,
                               event_action, event_label, metadata)
           SELECT site_id, id, created_month, $2::timestamptz, 'https://prop.example/pricing?x=1', 'acquisition', 'view', NULL::text, '{}'::jsonb
           FROM sessions WHERE site_id = $1 AND fingerprint LIKE 'gen-%'
           UNION ALL
           SELECT site_id, id, created_month, $2::timestamptz, 'https://prop.example/pricing', 'interaction', 'rage_click', 'IMG', '{}'::jsonb
           FROM sessions WHERE site_id = $1 AND fingerprint LIKE 'gen-%' AND substring(fingerprint, 5)::int <= 20
           UNION ALL
           SELECT site_id, id, created_month, $2::timestamptz, 'https://prop.example/pricing', 'interaction', 'form_abandon', 'quote',
                  jsonb_build_object('field', CASE WHEN substring(fingerprint, 5)::int <= 12 THEN 'phone' ELSE 'email' END)
           FROM sessions WHERE site_id = $1 AND fingerprint LIKE 'gen-%' AND substring(fingerprint, 5)::int <= 15""",
        tenant.site_id,
        at,
    )
    h = tenant.auth()
    r = await client.post(
        "/api/proposals/generate", json={"site_id": str(tenant.site_id)}, headers=h
    )
    assert r.status_code == 200, r.text
    created = {p["rule"]: p for p in r.json()["created"]}
    assert set(created) == {"rage_click_not_interactive", "form_field_abandon"}
    rage = created["rage_click_not_interactive"]
    assert rage["page_url"] == "https://prop.example/pricing" and rage["source"] == "generator"
    assert rage["expected_impact"] == pytest.approx(0.1)  # 20 of 60 sessions x 30 % recovery
    assert "20 of 60 sessions" in rage["explanation"]
    assert created["form_field_abandon"]["proposed_changes"]["field"] == "phone"
    again = await client.post(
        "/api/proposals/generate", json={"site_id": str(tenant.site_id)}, headers=h
    )
    assert again.json()["candidates"] == 2 and again.json()["created"] == []


async def test_other_tenant_sees_no_proposal(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    other = await make_tenant(db, "prop-other")
    r = await client.get(
        "/api/proposals/ai-1", params={"site_id": str(tenant.site_id)}, headers=other.auth()
    )
    assert r.status_code == 404
    mine = await client.get(
        "/api/proposals", params={"site_id": str(other.site_id)}, headers=other.auth()
    )
    assert mine.json()["proposals"] == []
