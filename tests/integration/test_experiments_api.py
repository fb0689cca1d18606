"""Experiments over real HTTP: lifecycle, exposures from tracker events, results with a winner,
auto-completion, the SRM warning, guardrails, CSV, server-side assignment."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from leadtrail.experiments import job
from leadtrail.experiments.assignment import Context, assign, bounds
from leadtrail.storage import Database
from tests.integration.experiments_support import seed_arm
from tests.integration.people_support import Tenant, make_tenant

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "exp")


def spec(t: Tenant, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "site_id": str(t.site_id),
        "test_id": key,
        "test_name": f"Test {key}",
        "variants": [{"name": "A"}, {"name": "B", "payload": {"headline": "Call now"}}],
        "goal": {"type": "form_lead"},
        **extra,
    }


async def test_lifecycle_and_validation(tenant: Tenant, client: httpx.AsyncClient) -> None:
    h = tenant.auth()
    bad = await client.post(
        "/api/experiments", json=spec(tenant, "life", goal={"type": "x"}), headers=h
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_goal"
    bad = await client.post(
        "/api/experiments", json=spec(tenant, "life", targeting={"devices": ["fridge"]}), headers=h
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_targeting"
    one = await client.post(
        "/api/experiments", json={**spec(tenant, "life"), "variants": [{"name": "A"}]}, headers=h
    )
    assert one.status_code == 400
    made = await client.post("/api/experiments", json=spec(tenant, "life"), headers=h)
    assert made.status_code == 201, made.text
    test = made.json()
    assert test["status"] == "draft" and test["sample_size"] == 1000
    assert test["confidence_threshold"] == 0.95
    again = await client.post("/api/experiments", json=spec(tenant, "life"), headers=h)
    assert again.status_code == 409 and again.json()["error"] == "experiment_exists"
    site = {"site_id": str(tenant.site_id)}
    steps = [
        ("pause", 409),
        ("start", 200),
        ("start", 409),
        ("pause", 200),
        ("resume", 200),
        ("complete", 200),
        ("pause", 409),
        ("archive", 200),
        ("archive", 409),
    ]
    for action, status in steps:
        r = await client.post(f"/api/experiments/life/{action}", params=site, headers=h)
        assert r.status_code == status, (action, r.text)
        if status == 409:
            assert r.json()["error"] == "invalid_transition"
    final = (await client.get("/api/experiments/life", params=site, headers=h)).json()
    assert final["status"] == "archived" and final["winner_variant"] == "none"
    assert final["start_date"] is not None and final["completed_at"] is not None
    missing = await client.get("/api/experiments/nope", params=site, headers=h)
    assert missing.status_code == 404 and missing.json()["error"] == "experiment_not_found"


async def start(client: httpx.AsyncClient, t: Tenant, key: str, **extra: Any) -> dict[str, Any]:
    r = await client.post(
        "/api/experiments", json={**spec(t, key, **extra), "start": True}, headers=t.auth()
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_winner_completes_the_test_and_fills_the_proposal(
    tenant: Tenant, client: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    h, site = tenant.auth(), {"site_id": str(tenant.site_id)}
    await start(client, tenant, "hero", sample_size=300)
    at = datetime.now(UTC)  # after the start
    await seed_arm(owner, tenant.site_id, "hero", "A", 400, converters=40, at=at)
    await seed_arm(owner, tenant.site_id, "hero", "B", 400, converters=100, rage_clicks=60, at=at)
    # a proposal that this test measures
    p = {
        "site_id": str(tenant.site_id),
        "proposal_id": "p-hero",
        "friction_point": "weak hero",
        "change_description": "new headline",
        "expected_impact": 0.2,
        "ai_confidence": 0.7,
    }
    assert (await client.post("/api/proposals", json=p, headers=h)).status_code == 201
    for to, extra in (("approved", {}), ("implemented", {}), ("testing", {"test_id": "hero"})):
        r = await client.post(
            "/api/proposals/p-hero/transition", params=site, json={"to": to, **extra}, headers=h
        )
        assert r.status_code == 200, r.text
    res = await client.get("/api/experiments/hero/results", params=site, headers=h)
    assert res.status_code == 200, res.text
    out = res.json()
    a, b = out["primary"]["variants"]
    assert (a["n"], b["n"]) == (400, 400)
    assert a["mean"] == pytest.approx(0.1) and b["mean"] == pytest.approx(0.25)
    assert b["lift"] == pytest.approx(1.5)
    assert b["ci_low"] > 0 and b["sequential_ci_low"] > 0 and b["chance_to_beat"] > 0.99
    assert b["sequential_ci_low"] < b["ci_low"]  # always-valid intervals are wider
    assert out["srm"]["mismatch"] is False
    assert out["winner"] == "B" and out["status"] == "completed"
    assert out["completed_proposals"] == ["p-hero"]
    assert out["guardrails"]["rage_clicks"]["worse"] == ["B"]
    assert out["guardrails"]["js_errors"]["worse"] == []
    test = (await client.get("/api/experiments/hero", params=site, headers=h)).json()
    assert test["winner_variant"] == "B" and test["status"] == "completed"
    impact = (await client.get("/api/proposals/impact", params=site, headers=h)).json()["proposals"]
    row = next(r for r in impact if r["proposal_id"] == "p-hero")
    assert row["actual_impact"] == pytest.approx(1.5) and row["expected_impact"] == 0.2
    assert row["test_status"] == "completed"
    text = (
        await client.get(
            "/api/experiments/hero/results", params={**site, "format": "csv"}, headers=h
        )
    ).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["metric"] for r in rows} == {"form_lead", "bounce_rate", "rage_clicks", "js_errors"}
    assert next(r for r in rows if r["metric"] == "form_lead" and r["variant"] == "B")["n"] == "400"


async def test_srm_is_flagged_and_blocks_completion(
    tenant: Tenant, client: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    h, site = tenant.auth(), {"site_id": str(tenant.site_id)}
    await start(client, tenant, "skewed", sample_size=100)
    at = datetime.now(UTC)  # after the start
    await seed_arm(owner, tenant.site_id, "skewed", "A", 300, converters=30, at=at)
    await seed_arm(owner, tenant.site_id, "skewed", "B", 200, converters=80, at=at)
    out = (await client.get("/api/experiments/skewed/results", params=site, headers=h)).json()
    assert out["srm"]["mismatch"] is True and out["srm"]["p_value"] < 0.001
    assert out["winner"] == "B" and out["status"] == "active"  # not trusted, so not completed


async def test_exposure_sent_through_sync_and_server_assignment(
    tenant: Tenant, client: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    h, site = tenant.auth(), {"site_id": str(tenant.site_id)}
    await start(
        client, tenant, "cta", variants=[{"name": "A"}, {"name": "B"}, {"name": "C", "weight": 2}]
    )
    sid = uuid.uuid4()
    events = [
        {
            "s": tenant.public_id,
            "u": f"https://{tenant.domain}/",
            "sid": str(sid),
            "ec": "acquisition",
            "ea": "view",
            "eid": f"v-{sid.hex[:12]}",
            "meta": {"fp": "fp-cta-1"},
        },
        *[
            {
                "s": tenant.public_id,
                "u": f"https://{tenant.domain}/",
                "sid": str(sid),
                "ec": "system",
                "ea": "experiment_exposure",
                "el": "cta",
                "eid": f"x{i}-{sid.hex[:12]}",
                "meta": {"fp": "fp-cta-1", "xu": "fp-cta-1", "xv": "C"},
            }
            for i in range(2)  # a second exposure in the same session is not counted again
        ],
    ]
    r = await client.post(
        "/api/sync",
        content=orjson.dumps({"batch": events}),
        headers={
            "Content-Type": "text/plain",
            "Origin": f"https://{tenant.domain}",
            "User-Agent": UA,
        },
    )
    assert r.status_code == 200, r.text
    out = (await client.get("/api/experiments/cta/results", params=site, headers=h)).json()
    assert [v["n"] for v in out["primary"]["variants"]] == [0, 0, 1]
    rows = await owner.fetch("SELECT unit, variant FROM variant_assignments WHERE test_id = 'cta'")
    assert [(r["unit"], r["variant"]) for r in rows] == [("fp-cta-1", "C")]
    # the server gives what the pure function (and the browser module) gives
    for visitor in ("fp-1", "fp-2", "abc", "çağ"):
        got = await client.get(
            "/api/experiments/cta/assignment", params={**site, "visitor": visitor}, headers=h
        )
        assert got.status_code == 200, got.text
        expected = assign("cta", visitor, ["A", "B", "C"], bounds([1, 1, 2]), 1.0, {}, Context())
        assert got.json()["variant"] == expected
    rec = await client.get(
        "/api/experiments/cta/assignment",
        params={**site, "session_id": str(sid), "record": "true"},
        headers=h,
    )
    assert rec.status_code == 200 and rec.json()["unit"] == "fp-cta-1"
    bad = await client.get(
        "/api/experiments/cta/assignment",
        params={**site, "record": "true", "visitor": "x"},
        headers=h,
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"


async def test_targeted_assignment_and_sample_size(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    h, site = tenant.auth(), {"site_id": str(tenant.site_id)}
    await start(
        client, tenant, "mobile-only", targeting={"devices": ["mobile"], "pages": ["/pricing*"]}
    )
    url = "/api/experiments/mobile-only/assignment"
    off = await client.get(
        url, params={**site, "visitor": "v1", "device": "desktop", "page": "/pricing"}, headers=h
    )
    assert off.json()["variant"] is None
    on = await client.get(
        url, params={**site, "visitor": "v1", "device": "mobile", "page": "/pricing/x"}, headers=h
    )
    assert on.json()["variant"] in ("A", "B")
    n = await client.get(
        "/api/experiments/sample-size", params={"baseline": 0.05, "mde": 0.2}, headers=h
    )
    assert n.status_code == 200 and n.json()["visitors_per_variant"] > 7000
    m = await client.get(
        "/api/experiments/sample-size", params={"baseline": 0.05, "visitors": 8000}, headers=h
    )
    assert 0.18 < m.json()["mde"] < 0.22
    both = await client.get("/api/experiments/sample-size", params={"baseline": 0.05}, headers=h)
    assert both.status_code == 400
    big = await client.get(
        "/api/experiments/sample-size", params={"baseline": 0.9, "mde": 0.5}, headers=h
    )
    assert big.status_code == 400 and big.json()["error"] == "invalid_request"


async def test_other_tenants_see_nothing(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    other = await make_tenant(db, "exp-other")
    r = await client.get(
        "/api/experiments/hero", params={"site_id": str(tenant.site_id)}, headers=other.auth()
    )
    assert r.status_code == 404
    listed = await client.get(
        "/api/experiments", params={"site_id": str(other.site_id)}, headers=other.auth()
    )
    assert listed.json()["experiments"] == []


async def test_the_periodic_job_completes_a_test_with_a_winner(
    db: Database, tenant: Tenant, client: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    await start(client, tenant, "jobbed", sample_size=100, goal={"type": "lead_value"})
    at = datetime.now(UTC)
    await seed_arm(owner, tenant.site_id, "jobbed", "A", 200, converters=10, at=at)
    await seed_arm(owner, tenant.site_id, "jobbed", "B", 200, converters=60, at=at)
    assert await job.run_once(db) >= 1
    row = await owner.fetchrow(
        "SELECT status, winner_variant FROM a_b_tests WHERE site_id = $1 AND test_id = 'jobbed'",
        tenant.site_id,
    )
    assert (row["status"], row["winner_variant"]) == ("completed", "B")
    out = (
        await client.get(
            "/api/experiments/jobbed/results",
            params={"site_id": str(tenant.site_id)},
            headers=tenant.auth(),
        )
    ).json()
    b = out["primary"]["variants"][1]
    assert out["goal"]["binary"] is False and b["mean"] == pytest.approx(30.0)  # revenue/visitor
