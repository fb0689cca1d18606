"""POST /api/leads, POST /api/call-event and the quick actions over real HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from leadtrail.storage import Database
from tests.integration.people_support import (
    Tenant,
    add_session,
    fetch,
    make_tenant,
    person_of,
    resolve_all,
    session_token,
)


@pytest.fixture(scope="module")
async def tenants(db: Database) -> dict[str, Tenant]:
    return {
        "a": await make_tenant(db, "leads-a", {"default_region": "US"}),
        "b": await make_tenant(db, "leads-b"),
    }


async def test_lead_is_attributed_to_its_session_and_idempotent(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    sid = await add_session(
        db,
        t.site_id,
        fingerprint="fp-lead-1",
        lead_score=65,
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="spring_sale",
        gclid="Cj0KCQiA-lead-1",
        attribution_source="First Click (Paid)",
    )
    body = {
        "site_id": str(t.site_id),
        "external_lead_id": "crm-1",
        "session_id": str(sid),
        "name": "John Doe",
        "email": "JOHN@example.com",
        "phone": "(419) 555-0134",
        "company": "Test Corp",
        "message": "Interested",
        "form_type": "contact",
    }
    first = await client.post("/api/leads", json=body, headers=t.auth())
    assert first.status_code == 201, first.text
    lead = first.json()
    assert lead["session_id"] == str(sid) and lead["lead_score"] == 65
    assert lead["attributed_campaign"] == "spring_sale" and lead["attributed_source"] == "google"
    assert lead["gclid"] == "Cj0KCQiA-lead-1" and lead["attribution_source"] == "First Click (Paid)"
    again = await client.post("/api/leads", json=body, headers=t.auth())
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["lead_id"] == lead["lead_id"]
    [row] = await fetch(
        db, "SELECT email, phone FROM leads WHERE id = $1", uuid.UUID(lead["lead_id"])
    )
    assert row["email"] == "john@example.com" and row["phone"] == "+14195550134"
    [user] = await fetch(
        db,
        "SELECT converted_to_lead, lead_id, attributes FROM canonical_users WHERE id = $1",
        uuid.UUID(lead["canonical_user_id"]),
    )
    assert user["converted_to_lead"] and str(user["lead_id"]) == lead["lead_id"]
    assert user["attributes"]["company"] == "Test Corp"
    [session] = await fetch(db, "SELECT converted FROM sessions WHERE id = $1", sid)
    assert session["converted"]


async def test_lead_without_session_uses_the_persons_recent_session(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    now = datetime.now(UTC)
    old = await add_session(
        db, t.site_id, fingerprint="fp-look", start=now - timedelta(hours=3), minutes=5
    )
    recent = await add_session(
        db,
        t.site_id,
        fingerprint="fp-look",
        start=now - timedelta(minutes=40),
        minutes=10,
        utm_campaign="retarget",
    )
    await add_session(
        db, t.site_id, fingerprint="fp-someone-else", start=now - timedelta(minutes=2), minutes=1
    )
    response = await client.post(
        "/api/leads",
        json={"site_id": t.public_id, "fingerprint": "fp-look", "email": "look@example.com"},
        headers=t.auth(),
    )
    assert response.status_code == 201, response.text
    assert response.json()["session_id"] == str(recent)
    assert response.json()["attributed_campaign"] == "retarget"
    await resolve_all(db)
    assert await person_of(db, t.site_id, old) == await person_of(db, t.site_id, recent)
    # Outside the lookback: no session, still stored.
    lonely = await client.post(
        "/api/leads", json={"site_id": t.public_id, "email": "nobody@example.com"}, headers=t.auth()
    )
    assert lonely.status_code == 201 and lonely.json()["session_id"] is None


async def test_tracker_mode_lead_needs_an_allowed_origin(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    sid = await add_session(db, t.site_id, fingerprint="fp-tracker-lead")
    payload = orjson.dumps(
        {
            "s": t.public_id,
            "sid": str(sid),
            "k": session_token(t.site_id, sid),
            "fp": "fp-tracker-lead",
            "eid": "evt_12345678",
            "form_type": "quote",
            "email": "form@example.com",
            "name": "Form",
        }
    )
    ok = await client.post(
        "/api/leads",
        content=payload,
        headers={"Content-Type": "text/plain", "Origin": f"https://www.{t.domain}"},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"status": "ok"}  # a browser is told nothing about the lead
    assert ok.headers["access-control-allow-origin"] == f"https://www.{t.domain}"
    retry = await client.post(
        "/api/leads",
        content=payload,
        headers={"Content-Type": "text/plain", "Origin": f"https://{t.domain}"},
    )
    assert retry.status_code == 200 and retry.json() == {"status": "ok"}
    stored = await fetch(
        db,
        "SELECT session_id FROM leads WHERE site_id = $1 AND external_lead_id = $2",
        t.site_id,
        "tracker:evt_12345678",
    )
    assert [r["session_id"] for r in stored] == [sid]  # once, on its session
    evil = await client.post(
        "/api/leads",
        content=payload,
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )
    assert evil.status_code == 403 and evil.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in evil.headers
    unknown = await client.post(
        "/api/leads",
        content=orjson.dumps({"s": "no_such_site", "email": "x@example.com"}),
        headers={"Content-Type": "text/plain", "Origin": f"https://{t.domain}"},
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == "site_not_found"
    preflight = await client.options(
        "/api/leads",
        headers={"Origin": f"https://{t.domain}", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204


@pytest.mark.parametrize(
    ("body", "status", "error", "field"),
    [
        ({"email": "not-an-email"}, 400, "invalid_email", "email"),
        ({"phone": "12"}, 400, "invalid_phone", "phone"),
        ({"name": "only a name"}, 400, "no_identifiers", "email"),
        (
            {"email": "a@example.com", "session_id": "not-a-uuid"},
            400,
            "invalid_request",
            "session_id",
        ),
        (
            {"email": "a@example.com", "value": 10, "currency": "EUR"},
            400,
            "currency_mismatch",
            "currency",
        ),
        ({"email": "a@example.com", "surprise": 1}, 400, "invalid_request", "surprise"),
    ],
)
async def test_bad_leads_get_clear_errors(
    tenants: dict[str, Tenant],
    client: httpx.AsyncClient,
    body: dict[str, object],
    status: int,
    error: str,
    field: str,
) -> None:
    t = tenants["a"]
    response = await client.post(
        "/api/leads", json={"site_id": t.public_id, **body}, headers=t.auth()
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] == error and response.json().get("field") == field


async def test_lead_keys_and_sites_are_checked(
    tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    a, b = tenants["a"], tenants["b"]
    body = {"email": "x@example.com"}
    other = await client.post("/api/leads", json={"site_id": b.public_id, **body}, headers=a.auth())
    assert other.status_code == 404 and other.json()["error"] == "site_not_found"
    unknown = await client.post(
        "/api/leads", json={"site_id": str(uuid.uuid4()), **body}, headers=a.auth()
    )
    assert unknown.status_code == 404 and unknown.json()["error"] == other.json()["error"]
    reader = await client.post(
        "/api/leads", json={"site_id": a.public_id, **body}, headers=a.auth(a.read_key)
    )
    assert reader.status_code == 403 and reader.json()["error"] == "insufficient_role"
    nokey = await client.post("/api/leads", json={"site_id": a.public_id, **body})
    assert nokey.status_code == 401


async def test_call_matches_highest_score_session_within_window(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    now = datetime.now(UTC)
    await add_session(
        db,
        t.site_id,
        fingerprint="fp-caller",
        start=now - timedelta(hours=2),
        minutes=5,
        lead_score=95,
    )
    low = await add_session(
        db,
        t.site_id,
        fingerprint="fp-caller",
        start=now - timedelta(minutes=20),
        minutes=5,
        lead_score=30,
    )
    high = await add_session(
        db,
        t.site_id,
        fingerprint="fp-caller",
        start=now - timedelta(minutes=25),
        minutes=8,
        lead_score=75,
        gclid="Cj0KCQiA-call-1",
        utm_campaign="brand",
    )
    response = await client.post(
        "/api/call-event",
        json={
            "site_id": str(t.site_id),
            "phone_number": "+90 555 123 45 67",
            "fingerprint": "fp-caller",
        },
        headers=t.auth(),
    )
    assert response.status_code == 201, response.text
    call = response.json()
    assert (
        call["status"] == "matched" and call["session_id"] == str(high) and call["lead_score"] == 75
    )
    assert call["phone_number"] == "+905551234567" and call["gclid"] == "Cj0KCQiA-call-1"
    await resolve_all(db)
    assert call["canonical_user_id"] == str(await person_of(db, t.site_id, low))
    miss = await client.post(
        "/api/call-event",
        json={"site_id": t.public_id, "phone_number": "+14195550100", "fingerprint": "fp-nobody"},
        headers=t.auth(),
    )
    assert miss.status_code == 201
    assert (
        miss.json()["status"] == "unmatched"
        and miss.json()["session_id"] is None
        and miss.json()["lead_score"] == 0
    )
    [stored] = await fetch(
        db, "SELECT match_status FROM calls WHERE id = $1", uuid.UUID(miss.json()["call_id"])
    )
    assert stored["match_status"] == "unmatched"


async def test_call_with_caller_number_links_the_phone(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    sid = await add_session(db, t.site_id, fingerprint="fp-caller-2", lead_score=40)
    response = await client.post(
        "/api/call-event",
        json={
            "site_id": t.public_id,
            "phone_number": "4195550100",
            "fingerprint": "fp-caller-2",
            "caller_number": "419-555-0199",
        },
        headers=t.auth(),
    )
    assert response.status_code == 201, response.text
    person = await person_of(db, t.site_id, sid)
    [link] = await fetch(
        db,
        "SELECT canonical_user_id FROM identity_links WHERE site_id = $1 AND kind = 'phone' AND value = '+14195550199'",
        t.site_id,
    )
    assert link["canonical_user_id"] == person


async def test_call_event_rejects_bad_input(
    tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    a, b = tenants["a"], tenants["b"]
    bad_phone = await client.post(
        "/api/call-event",
        json={"site_id": a.public_id, "phone_number": "call me"},
        headers=a.auth(),
    )
    assert bad_phone.status_code == 400 and bad_phone.json()["error"] == "invalid_phone"
    assert bad_phone.json()["field"] == "phone_number"
    no_region = await client.post(
        "/api/call-event",
        json={"site_id": b.public_id, "phone_number": "4195550100"},
        headers=b.auth(),
    )
    assert no_region.status_code == 400 and no_region.json()["error"] == "invalid_phone"
    missing = await client.post("/api/call-event", json={"site_id": a.public_id}, headers=a.auth())
    assert missing.status_code == 400 and missing.json()["field"] == "phone_number"
    foreign = await client.post(
        "/api/call-event",
        json={"site_id": b.public_id, "phone_number": "+14195550100"},
        headers=a.auth(),
    )
    assert foreign.status_code == 404
    reader = await client.post(
        "/api/call-event",
        json={"site_id": a.public_id, "phone_number": "+14195550100"},
        headers=a.auth(a.read_key),
    )
    assert reader.status_code == 403


async def test_call_status_quick_actions(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    a, b = tenants["a"], tenants["b"]
    made = await client.post(
        "/api/call-event",
        json={"site_id": a.public_id, "phone_number": "+14195550111"},
        headers=a.auth(),
    )
    call_id = made.json()["call_id"]
    login = await client.post(
        "/api/auth/login", json={"email": a.user_email, "password": a.password}
    )
    assert login.status_code == 200
    qualified = await client.patch(
        f"/api/calls/{call_id}", json={"status": "qualified", "value": 250}
    )
    assert qualified.status_code == 200, qualified.text
    assert qualified.json()["status"] == "qualified" and qualified.json()["value"] == 250
    cleared = await client.patch(f"/api/calls/{call_id}", json={"status": None})
    assert cleared.json()["status"] is None and cleared.json()["value"] == 250
    assert (
        await client.patch(f"/api/calls/{call_id}", json={"status": "maybe"})
    ).status_code == 400
    assert (await client.patch("/api/calls/not-a-uuid", json={"status": "junk"})).json()[
        "error"
    ] == "invalid_uuid"
    missing = await client.patch(f"/api/calls/{uuid.uuid4()}", json={"status": "junk"})
    assert missing.status_code == 404 and missing.json()["error"] == "call_not_found"
    await client.post("/api/auth/logout")
    # Another tenant's key cannot see or touch it: 404, the same as a call that does not exist.
    foreign = await client.patch(f"/api/calls/{call_id}", json={"status": "junk"}, headers=b.auth())
    assert foreign.status_code == 404 and foreign.json()["error"] == "call_not_found"
    reader = await client.patch(
        f"/api/calls/{call_id}", json={"status": "junk"}, headers=a.auth(a.read_key)
    )
    assert reader.status_code == 403
    [row] = await fetch(db, "SELECT status FROM calls WHERE id = $1", uuid.UUID(call_id))
    assert row["status"] is None


async def test_call_event_is_rate_limited_per_ip(
    tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["b"]
    answers = []
    for _ in range(52):
        response = await client.post(
            "/api/call-event",
            json={"site_id": t.public_id, "phone_number": "bad"},
            headers=t.auth(),
        )
        answers.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
            assert response.json()["error"] == "rate_limited"
            break
    assert answers[-1] == 429 and len(answers) <= 51
