"""Issue 11 over real HTTP: credit follows the person into leads, calls and the exports;
provider calls (idempotent, matched at their start time, Twilio- and HMAC-signed webhooks);
dynamic number insertion; the site's one attribution model."""

from __future__ import annotations

import contextlib
import csv
import io
import json as jsonlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from twilio.request_validator import RequestValidator

from leadtrail.callproviders.signatures import generic_signature
from leadtrail.storage import Database
from tests.integration.people_support import Tenant, add_session, fetch, make_tenant

TWILIO_TOKEN = "twilio-auth-token-0123456789abcdef"
HMAC_SECRET = "callrail-signing-key-0123456789"


@pytest.fixture(scope="module")
async def tenants(db: Database) -> dict[str, Tenant]:
    return {
        "a": await make_tenant(db, "loop-a", {"default_region": "US"}),
        "b": await make_tenant(db, "loop-b", {"default_region": "US"}),
    }


@contextlib.asynccontextmanager
async def logged_in(client: httpx.AsyncClient, t: Tenant) -> AsyncIterator[httpx.AsyncClient]:
    """A dashboard user's cookie session against the same server."""
    async with httpx.AsyncClient(base_url=client.base_url) as http:
        login = await http.post(
            "/api/auth/login", json={"email": t.user_email, "password": t.password}
        )
        assert login.status_code == 200, login.text
        yield http


def export_rows(text: str, skip: int) -> list[list[str]]:
    return list(csv.reader(io.StringIO("\n".join(text.splitlines()[skip:]))))


async def test_return_visit_after_an_ad_click_carries_the_gclid_into_lead_call_and_export(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    now = datetime.now(UTC)
    ad = await add_session(
        db,
        t.site_id,
        fingerprint="fp-return-1",
        start=now - timedelta(days=2),
        gclid="Cj0KCQiA-return-1",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="spring_sale",
        referrer_type="paid",
        attribution_source="First Click (Paid)",
    )
    back = await add_session(
        db,
        t.site_id,
        fingerprint="fp-return-1",
        start=now - timedelta(minutes=10),
        attribution_source="Return Visitor (Ads Assisted)",
    )
    lead = await client.post(
        "/api/leads",
        headers=t.auth(),
        json={"site_id": t.public_id, "session_id": str(back), "email": "ret@example.com"},
    )
    assert lead.status_code == 201, lead.text
    body = lead.json()
    assert body["session_id"] == str(back)  # the form was sent on the return visit
    assert body["gclid"] == "Cj0KCQiA-return-1" and body["credited_session_id"] == str(ad)
    assert body["attributed_campaign"] == "spring_sale" and body["channel"] == "Paid Search"
    assert body["attribution_model"] == "last_non_direct"
    assert body["attribution_source"] == "Return Visitor (Ads Assisted)"

    started = now - timedelta(minutes=3)
    call = await client.post(
        "/api/call-event",
        headers=t.auth(),
        json={
            "site_id": t.public_id,
            "tracking_number": "+14195550100",
            "session_id": str(back),
            "external_call_id": "CA-return-1",
            "started_at": started.isoformat(),
            "duration_s": 95,
            "provider": "test",
        },
    )
    assert call.status_code == 201, call.text
    c = call.json()
    assert c["match_method"] == "session" and c["session_id"] == str(back)
    assert c["gclid"] == "Cj0KCQiA-return-1" and c["utm_campaign"] == "spring_sale"
    await client.patch(f"/api/calls/{c['call_id']}", json={"status": "qualified"}, headers=t.auth())

    export = await client.get(
        "/api/exports/google-ads-offline-conversions.csv",
        params={"site_id": t.public_id, "conversion_name": "Phone call"},
        headers=t.auth(t.read_key),
    )
    rows = export_rows(export.text, 1)
    mine = [r for r in rows[1:] if r[0] == "Cj0KCQiA-return-1"]
    assert len(mine) == 2  # the lead and the qualified call
    times = sorted(datetime.strptime(r[2], "%Y-%m-%d %H:%M:%S%z") for r in mine)
    # the real conversion times: the call's start, the lead's submission
    assert abs(times[0] - started) < timedelta(seconds=1)
    assert times[1] > started


async def test_msclkid_lead_reaches_the_microsoft_ads_export(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    sid = await add_session(
        db, t.site_id, fingerprint="fp-ms-1", msclkid="msclk-0123456789", utm_campaign="bing_x"
    )
    lead = await client.post(
        "/api/leads",
        headers=t.auth(),
        json={"site_id": t.public_id, "session_id": str(sid), "email": "ms@example.com"},
    )
    assert lead.json()["click_ids"] == {"msclkid": "msclk-0123456789"}
    export = await client.get(
        "/api/exports/microsoft-ads-offline-conversions.csv",
        params={"site_id": t.public_id, "conversion_name": "Lead"},
        headers=t.auth(t.read_key),
    )
    assert export.status_code == 200, export.text
    rows = export_rows(export.text, 0)
    assert rows[0][0] == "Type" and rows[0][-1] == "Microsoft Click Id"
    assert rows[1][:1] == ["Format Version"] and rows[1][5] == "6.0"
    assert [(r[0], r[7], r[10]) for r in rows[2:]] == [
        ("Offline Conversion", "Lead", "msclk-0123456789")
    ]


async def test_a_retried_call_post_is_stored_once(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    body = {
        "site_id": t.public_id,
        "tracking_number": "+14195550101",
        "caller_number": "+14195550777",
        "external_call_id": "CA-retry-1",
    }
    first = await client.post("/api/call-event", headers=t.auth(), json=body)
    again = await client.post("/api/call-event", headers=t.auth(), json=body)
    assert first.status_code == 201 and again.status_code == 200, again.text
    assert again.json()["call_id"] == first.json()["call_id"] and again.json()["created"] is False
    rows = await fetch(
        db,
        "SELECT count(*) AS n FROM calls WHERE site_id = $1 AND external_call_id = $2",
        t.site_id,
        "CA-retry-1",
    )
    assert rows[0]["n"] == 1


async def test_a_late_call_is_matched_at_its_start_time(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    now = datetime.now(UTC)
    sid = await add_session(
        db,
        t.site_id,
        fingerprint="fp-late-1",
        start=now - timedelta(minutes=55),
        minutes=5,
        lead_score=40,
    )  # active until 50 minutes ago: outside a 30-minute window from now
    base = {"site_id": t.public_id, "tracking_number": "+14195550102", "fingerprint": "fp-late-1"}
    on_arrival = await client.post("/api/call-event", headers=t.auth(), json=base)
    assert on_arrival.json()["status"] == "unmatched" and on_arrival.json()["match_method"] is None
    late = await client.post(
        "/api/call-event",
        headers=t.auth(),
        json={**base, "started_at": (now - timedelta(minutes=45)).isoformat()},
    )
    assert late.json()["status"] == "matched" and late.json()["session_id"] == str(sid)
    assert late.json()["match_method"] == "fingerprint"


async def test_a_tel_link_click_matches_a_call_to_that_number(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    sid = await add_session(
        db, t.site_id, fingerprint=None, utm_source="newsletter", utm_medium="email"
    )
    await fetch(
        db,
        """INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category,
                               event_action, event_label)
           VALUES ($1, $2, date_trunc('month', now())::date, now() - interval '2 minutes',
                   'https://shop.example/contact', 'conversion', 'phone_call', 'tel:(419) 555-0142')""",
        t.site_id,
        sid,
    )
    call = await client.post(
        "/api/call-event",
        headers=t.auth(),
        json={"site_id": t.public_id, "tracking_number": "+1 419 555 0142"},
    )
    assert call.json()["match_method"] == "tel_click" and call.json()["session_id"] == str(sid)
    assert call.json()["channel"] == "Email"  # utm_medium=email is Email


async def test_twilio_status_callback_is_verified_with_the_auth_token(
    server: object, db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    async with logged_in(client, t) as admin:
        put = await admin.put(
            f"/api/sites/{t.public_id}/call-providers/twilio", json={"secret": TWILIO_TOKEN}
        )
        assert put.status_code == 200, put.text
        path = put.json()["webhook_path"]
        listed = await admin.get(f"/api/sites/{t.public_id}/call-providers")
        assert [p["kind"] for p in listed.json()["providers"]] == ["twilio"]
        assert TWILIO_TOKEN not in listed.text
    stored = await fetch(
        db, "SELECT secret_encrypted FROM call_providers WHERE site_id = $1", t.site_id
    )
    assert TWILIO_TOKEN not in stored[0]["secret_encrypted"]  # encrypted at rest

    sid = await add_session(db, t.site_id, fingerprint=None, gclid="Cj0KCQiA-twilio-1")
    now = datetime.now(UTC)
    form = {
        "CallSid": "CA0123456789abcdef0123456789abcdef",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": "+14195550188",
        "To": "+14195550103",
        "CallStatus": "completed",
        "CallDuration": "42",
        "Direction": "inbound",
        "Timestamp": now.strftime("%a, %d %b %Y %H:%M:%S +0000"),
        "session_id": str(sid),
    }
    url = f"{client.base_url}".rstrip("/") + path
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    ok = await client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert ok.status_code == 201, ok.text
    assert ok.json()["match_method"] == "session" and ok.json()["gclid"] == "Cj0KCQiA-twilio-1"
    assert ok.json()["tracking_number"] == "+14195550103"
    started = datetime.fromisoformat(ok.json()["started_at"])
    assert abs(started - (now.replace(microsecond=0) - timedelta(seconds=42))) < timedelta(
        seconds=1
    )
    retried = await client.post(path, data=form, headers={"X-Twilio-Signature": signature})
    assert retried.status_code == 200 and retried.json()["call_id"] == ok.json()["call_id"]
    forged = await client.post(
        path, data={**form, "To": "+14195550999"}, headers={"X-Twilio-Signature": signature}
    )
    assert forged.status_code == 401 and forged.json()["error"] == "invalid_signature"
    unsigned = await client.post(path, data=form)
    assert unsigned.status_code == 401
    other = await client.post(
        f"/api/webhooks/twilio/{tenants['b'].public_id}",
        data=form,
        headers={"X-Twilio-Signature": signature},
    )
    assert other.status_code == 401  # site b has no Twilio set up


async def test_generic_hmac_webhook_takes_callrail_fields(
    server: object, db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["b"]
    async with logged_in(client, t) as admin:
        put = await admin.put(
            f"/api/sites/{t.public_id}/call-providers/hmac", json={"secret": HMAC_SECRET}
        )
        assert put.status_code == 200, put.text
    sid = await add_session(
        db,
        t.site_id,
        fingerprint=None,
        fbclid="IwAR-callrail-1",
        start=datetime.now(UTC) - timedelta(minutes=20),
    )
    started = datetime.now(UTC) - timedelta(minutes=7)
    payload = {
        "id": "CAL8154748ae6bd4e278a7cddd38a662f4f",
        "start_time": started.isoformat(),
        "customer_phone_number": "+14195550166",
        "tracking_phone_number": "+14195550104",
        "duration": "61",
        "recording": "https://app.callrail.com/calls/CAL8154/recording",
        "session_id": str(sid),
    }
    raw = jsonlib.dumps(payload).encode()
    path = f"/api/webhooks/calls/{t.public_id}"
    headers = {"Content-Type": "application/json"}
    ok = await client.post(
        path,
        content=raw,
        headers={**headers, "X-Leadtrail-Signature": generic_signature(HMAC_SECRET, raw)},
    )
    assert ok.status_code == 201, ok.text
    body = ok.json()
    assert body["external_call_id"] == payload["id"] and body["channel"] == "Paid Social"
    assert body["click_ids"] == {"fbclid": "IwAR-callrail-1"}
    stored = await fetch(
        db,
        "SELECT duration_s, recording_url, provider FROM calls WHERE site_id = $1 AND id = $2",
        t.site_id,
        uuid.UUID(body["call_id"]),
    )
    assert dict(stored[0]) == {
        "duration_s": 61,
        "recording_url": payload["recording"],
        "provider": "webhook",
    }
    bad = await client.post(
        path, content=raw, headers={**headers, "X-Leadtrail-Signature": "sha256=" + "0" * 64}
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_signature"


async def test_dni_leases_rotate_and_exhaust_and_calls_match_the_lease(
    server: object, db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["b"]
    origin = {"Origin": f"https://{t.domain}", "Content-Type": "text/plain"}
    paid_url = f"https://{t.domain}/?gclid=Cj0KCQiA-dni&utm_campaign=dni"
    async with logged_in(client, t) as admin:
        for n in ("(419) 555-0201", "(419) 555-0202"):
            added = await admin.post(f"/api/sites/{t.public_id}/dni/numbers", json={"number": n})
            assert added.status_code == 201, added.text
        script = await client.get(f"/assets/site/{t.public_id}.js")
        assert (
            '"dni":{"site":"' + t.public_id + '"' in script.text
            and "data-leadtrail-phone" in script.text
        )
        without = await client.get(f"/assets/site/{tenants['a'].public_id}.js")
        assert "dni" not in without.text  # no pool, no module: core.js pages stay as they were
        s1, s2, s3, organic = (uuid.uuid4() for _ in range(4))

        async def lease(sid: uuid.UUID, url: str = paid_url) -> dict[str, object]:
            r = await client.post(
                "/api/dni/lease",
                content=jsonlib.dumps({"s": t.public_id, "sid": str(sid), "u": url}),
                headers=origin,
            )
            assert r.status_code == 200, r.text
            assert r.headers["access-control-allow-origin"] == origin["Origin"]
            return r.json()  # type: ignore[no-any-return]

        first, second = await lease(s1), await lease(s2)
        assert {first["number"], second["number"]} == {"+14195550201", "+14195550202"}
        assert (await lease(s1))["number"] == first["number"]  # a session keeps its number
        assert await lease(s3) == {"number": None, "reason": "exhausted", "channel": "Paid Search"}
        assert (await lease(organic, f"https://{t.domain}/"))["reason"] == "source"
        pool = await admin.get(f"/api/sites/{t.public_id}/dni/numbers")
        assert pool.json()["exhausted"] == 1
        assert {n["leased_to"] for n in pool.json()["numbers"]} == {str(s1), str(s2)}

    for sid in (s1, s2):  # the visits, as ingest stores them
        await add_session(db, t.site_id, id=sid, gclid=f"Cj0KCQiA-dni-{sid.hex[:6]}")
    for sid, leased in ((s1, first), (s2, second)):
        call = await client.post(
            "/api/call-event",
            headers=t.auth(),
            json={"site_id": t.public_id, "tracking_number": leased["number"]},
        )
        assert call.json()["match_method"] == "dni" and call.json()["session_id"] == str(sid)
        assert call.json()["gclid"] == f"Cj0KCQiA-dni-{sid.hex[:6]}"


async def test_the_site_model_is_used_by_reports_and_api_leads_count_as_conversions(
    server: object, db: Database, client: httpx.AsyncClient
) -> None:
    t = await make_tenant(db, "loop-model", {"default_region": "US"})
    now = datetime.now(UTC)
    await add_session(
        db,
        t.site_id,
        fingerprint="fp-model-1",
        start=now - timedelta(days=3),
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="brand",
        gclid="Cj0KCQiA-model-1",
    )
    last = await add_session(
        db, t.site_id, fingerprint="fp-model-1", start=now - timedelta(minutes=20)
    )
    lead = await client.post(
        "/api/leads",
        headers=t.auth(),
        json={
            "site_id": t.public_id,
            "session_id": str(last),
            "email": "m@example.com",
            "value": 100,
        },
    )
    assert lead.status_code == 201, lead.text
    perf = await client.get(
        "/api/campaigns/performance", params={"site_id": t.public_id}, headers=t.auth(t.read_key)
    )
    assert perf.json()["model"] == "last_non_direct"
    brand = [c for c in perf.json()["campaigns"] if c["campaign"] == "brand"]
    assert brand and brand[0]["conversions"] == 1 and brand[0]["total_revenue"] == 100
    async with logged_in(client, t) as admin:
        patched = await admin.patch(
            f"/api/sites/{t.public_id}", json={"settings": {"attribution_model": "last_touch"}}
        )
        assert patched.status_code == 200, patched.text
        bad = await admin.patch(
            f"/api/sites/{t.public_id}", json={"settings": {"attribution_model": "magic"}}
        )
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_setting"
    report = await client.get(
        "/api/attribution", params={"site_id": t.public_id}, headers=t.auth(t.read_key)
    )
    assert report.json()["model"] == "last_touch"
    credited = {r["channel"]: r["conversions"] for r in report.json()["results"]}
    assert credited == {"Direct": 1.0, "Paid Search": 0.0}
    override = await client.get(
        "/api/attribution",
        params={"site_id": t.public_id, "model": "first_touch"},
        headers=t.auth(t.read_key),
    )
    credited = {r["channel"]: r["conversions"] for r in override.json()["results"]}
    assert credited == {"Paid Search": 1.0, "Direct": 0.0}


async def test_a_call_can_be_matched_to_a_session_by_hand(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    call = await client.post(
        "/api/call-event",
        headers=t.auth(),
        json={"site_id": t.public_id, "tracking_number": "+14195550105"},
    )
    assert call.json()["status"] == "unmatched"
    sid = await add_session(db, t.site_id, gclid="Cj0KCQiA-manual-1", utm_campaign="manual")
    matched = await client.post(
        f"/api/calls/{call.json()['call_id']}/match",
        json={"session_id": str(sid)},
        headers=t.auth(),
    )
    assert matched.status_code == 200, matched.text
    assert (
        matched.json()["match_method"] == "manual"
        and matched.json()["gclid"] == "Cj0KCQiA-manual-1"
    )
    missing = await client.post(
        f"/api/calls/{call.json()['call_id']}/match",
        json={"session_id": str(uuid.uuid4())},
        headers=t.auth(),
    )
    assert missing.status_code == 404 and missing.json()["error"] == "session_not_found"


async def test_a_crm_lead_without_a_session_is_credited_over_the_persons_graph(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    now = datetime.now(UTC)
    ad = await add_session(
        db,
        t.site_id,
        fingerprint="fp-crm-1",
        start=now - timedelta(days=5),
        gclid="Cj0KCQiA-crm-1",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="crm_campaign",
    )
    identify = await client.post(
        "/api/identify",
        headers=t.auth(),
        json={"site_id": t.public_id, "session_id": str(ad), "email": "crm@example.com"},
    )
    assert identify.status_code == 200, identify.text
    # days later the CRM posts the deal: no session, no fingerprint, only the email
    lead = await client.post(
        "/api/leads",
        headers=t.auth(),
        json={"site_id": t.public_id, "email": "crm@example.com", "value": 900},
    )
    body = lead.json()
    assert body["session_id"] is None and body["credited_session_id"] == str(ad)
    assert body["gclid"] == "Cj0KCQiA-crm-1" and body["attributed_campaign"] == "crm_campaign"
    perf = await client.get(
        "/api/campaigns/performance", params={"site_id": t.public_id}, headers=t.auth(t.read_key)
    )
    row = [c for c in perf.json()["campaigns"] if c["campaign"] == "crm_campaign"]
    assert row and row[0]["conversions"] == 1 and row[0]["total_revenue"] == 900
    old = await client.post(
        "/api/leads",
        headers=t.auth(),
        json={
            "site_id": t.public_id,
            "email": "crm@example.com",
            "submitted_at": (now - timedelta(days=1)).isoformat(),
            "external_lead_id": "crm-old",
        },
    )
    assert old.json()["gclid"] == "Cj0KCQiA-crm-1"
    beyond = await make_tenant(db, "loop-lookback", {"click_lookback_days": 3})
    far = await add_session(
        db,
        beyond.site_id,
        start=now - timedelta(days=5),
        gclid="Cj0KCQiA-far",
        fingerprint="fp-far",
    )
    await client.post(
        "/api/identify",
        headers=beyond.auth(),
        json={"site_id": beyond.public_id, "session_id": str(far), "email": "far@example.com"},
    )
    late = await client.post(
        "/api/leads",
        headers=beyond.auth(),
        json={"site_id": beyond.public_id, "email": "far@example.com"},
    )
    assert late.json()["gclid"] is None  # the click is older than the site's 3-day lookback
