"""Journeys, lookalikes, identify, attribution, ad spend, campaign ROI and the Google Ads
export over real HTTP; every endpoint hides other tenants' rows."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from leadtrail.storage import Database
from tests.conftest import ModuleDatabase
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
        "a": await make_tenant(db, "money-a", {"default_region": "US", "currency": "USD"}),
        "b": await make_tenant(db, "money-b"),
    }


@pytest.fixture(scope="module")
async def journey(db: Database, tenants: dict[str, Tenant], server: object) -> dict[str, object]:
    """One person: organic search, then a paid click, then a lead and a qualified call."""
    t = tenants["a"]
    now = datetime.now(UTC)
    day = (now - timedelta(days=1)).replace(hour=15, minute=0, second=0, microsecond=0)
    s1 = await add_session(
        db,
        t.site_id,
        fingerprint="fp-journey",
        start=day - timedelta(days=5),
        referrer_type="search",
        referrer_domain="google.com",
    )
    s2 = await add_session(
        db,
        t.site_id,
        fingerprint="fp-journey",
        start=day,
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="Spring Sale",
        gclid="Cj0KCQiA-journey-1",
        referrer_type="paid",
        lead_score=80,
    )
    await resolve_all(db)
    async with httpx.AsyncClient(base_url=server.url) as http:  # type: ignore[attr-defined]
        lead = await http.post(
            "/api/leads",
            headers=t.auth(),
            json={
                "site_id": t.public_id,
                "external_lead_id": "crm-j1",
                "session_id": str(s2),
                "email": "journey@example.com",
                "value": 300,
                "submitted_at": (day + timedelta(minutes=4)).isoformat(),
            },
        )
        assert lead.status_code == 201, lead.text
        call = await http.post(
            "/api/call-event",
            headers=t.auth(),
            json={
                "site_id": t.public_id,
                "phone_number": "+14195550100",
                "fingerprint": "fp-journey",
            },
        )
        # The session started yesterday; the call window is 30 minutes, so this call is unmatched.
        assert call.json()["status"] == "unmatched"
        spend = await http.post(
            "/api/ad-spend",
            headers=t.auth(),
            json={
                "site_id": t.public_id,
                "rows": [
                    {
                        "platform": "google_ads",
                        "campaign_id": "111",
                        "campaign_name": "Spring Sale",
                        "date": day.date().isoformat(),
                        "clicks": 20,
                        "impressions": 1000,
                        "cost": "50.00",
                    },
                    {
                        "platform": "google_ads",
                        "campaign_id": "111",
                        "campaign_name": "Spring Sale",
                        "date": day.date().isoformat(),
                        "gclid": "Cj0KCQiA-journey-1",
                        "clicks": 1,
                        "cost": "2.75",
                    },
                ],
            },
        )
        assert spend.status_code == 200, spend.text
        assert spend.json()["clicks_matched"] == 1
    return {
        "s1": s1,
        "s2": s2,
        "person": await person_of(db, t.site_id, s2),
        "lead": lead.json(),
        "day": day,
    }


async def test_journey_has_the_seed_shape(
    tenants: dict[str, Tenant], client: httpx.AsyncClient, journey: dict[str, object]
) -> None:
    t = tenants["a"]
    response = await client.get(
        f"/api/users/{journey['person']}/journey",
        params={"site_id": t.public_id},
        headers=t.auth(t.read_key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["id"] for s in body["sessions"]] == [str(journey["s1"]), str(journey["s2"])]
    assert (
        body["journey_summary"]["total_sessions"] == 2
        and body["journey_summary"]["total_leads"] == 1
    )
    assert body["journey_summary"]["total_events"] == 6 and len(body["events"]) == 6
    assert body["journey_summary"]["converted"] is True
    assert body["journey_summary"]["total_ad_spend"] == 2.75
    [cost] = body["ad_spend"]
    assert cost["cost_source"] == "click" and cost["campaign_id"] == "111" and cost["converted"]
    assert cost["roi_percentage"] == pytest.approx((300 - 2.75) / 2.75 * 100, abs=0.01)
    path = body["attribution_path"]
    assert [p["session_number"] for p in path] == [1, 2]
    assert [p["channel"] for p in path] == ["Organic Search", "Paid Search"]
    assert [p["converted"] for p in path] == [False, True]
    assert {"kind": "email", "value": "journey@example.com"}.items() <= body["user"]["identifiers"][
        0
    ].items()


async def test_people_endpoints_hide_other_tenants(
    tenants: dict[str, Tenant], client: httpx.AsyncClient, journey: dict[str, object]
) -> None:
    a, b = tenants["a"], tenants["b"]
    person = journey["person"]
    for path in (f"/api/users/{person}/journey", f"/api/users/{person}/similar"):
        mine = await client.get(path, headers=b.auth(b.read_key))
        assert mine.status_code == 404 and mine.json()["error"] == "user_not_found", path
        theirs = await client.get(path, params={"site_id": a.public_id}, headers=b.auth(b.read_key))
        assert theirs.status_code == 404 and theirs.json()["error"] == "site_not_found", path
    bad = await client.get("/api/users/nope/journey", headers=a.auth(a.read_key))
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_uuid"
    for path in (
        "/api/attribution",
        "/api/campaigns/performance",
        "/api/ad-spend",
        "/api/exports/google-ads-offline-conversions.csv",
        "/api/identity/merges",
    ):
        response = await client.get(
            path, params={"site_id": a.public_id}, headers=b.auth(b.read_key)
        )
        assert response.status_code == 404, path
    empty = await client.get(
        "/api/attribution", params={"site_id": b.public_id}, headers=b.auth(b.read_key)
    )
    assert empty.json()["totals"]["conversions"] == 0


async def test_similar_users_ranks_lookalikes(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    base = dict(
        browser="Safari",
        os="iOS",
        device_type="mobile",
        country_code="US",
        region="OH",
        city="Toledo",
        referrer_type="social",
    )
    ref = await add_session(db, t.site_id, fingerprint="fp-sim-ref", **base)
    twin = await add_session(db, t.site_id, fingerprint="fp-sim-twin", ip="192.0.2.200", **base)
    cousin = await add_session(
        db,
        t.site_id,
        fingerprint="fp-sim-cousin",
        ip="192.0.2.201",
        **{**base, "city": "Columbus", "browser": "Chrome"},
    )
    await add_session(
        db,
        t.site_id,
        fingerprint="fp-sim-far",
        ip="192.0.2.202",
        browser="Firefox",
        os="Linux",
        device_type="desktop",
        events=40,
    )
    await resolve_all(db)
    ref_id, twin_id, cousin_id = [await person_of(db, t.site_id, s) for s in (ref, twin, cousin)]
    response = await client.get(
        f"/api/users/{ref_id}/similar",
        params={"threshold": 0.5, "limit": 5},
        headers=t.auth(t.read_key),
    )
    assert response.status_code == 200, response.text
    users = response.json()["users"]
    ids = [u["canonical_user_id"] for u in users]
    assert ids[:2] == [str(twin_id), str(cousin_id)]
    assert users[0]["similarity_score"] == 1.0 and "city" in users[0]["matched"]
    assert 0.5 <= users[1]["similarity_score"] < 1.0 and "city" not in users[1]["matched"]
    strict = await client.get(
        f"/api/users/{ref_id}/similar", params={"threshold": 0.99}, headers=t.auth(t.read_key)
    )
    assert [u["canonical_user_id"] for u in strict.json()["users"]] == [str(twin_id)]
    assert (
        await client.get(
            f"/api/users/{ref_id}/similar", params={"threshold": 2}, headers=t.auth(t.read_key)
        )
    ).status_code == 400


async def test_identify_in_tracker_mode(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    sid = await add_session(db, t.site_id, fingerprint="fp-tracker-id")
    origin = {"Origin": f"https://{t.domain}", "Content-Type": "text/plain"}
    ok = await client.post(
        "/api/identify",
        headers=origin,
        content=orjson.dumps(
            {
                "s": t.public_id,
                "sid": str(sid),
                "k": session_token(t.site_id, sid),
                "fp": "fp-tracker-id",
                "email": "t@example.com",
                "id": "user-42",
            }
        ),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"status": "ok"}
    links = await fetch(
        db,
        "SELECT kind, value FROM identity_links WHERE canonical_user_id = $1 ORDER BY kind",
        await person_of(db, t.site_id, sid),
    )
    assert [(r["kind"], r["value"]) for r in links] == [
        ("email", "t@example.com"),
        ("external_id", "user-42"),
        ("fingerprint", "fp-tracker-id"),
    ]
    nothing = await client.post(
        "/api/identify",
        headers=origin,
        content=orjson.dumps(
            {"s": t.public_id, "sid": str(sid), "k": session_token(t.site_id, sid)}
        ),
    )
    assert nothing.status_code == 400 and nothing.json()["error"] == "no_identifiers"
    assert nothing.headers["access-control-allow-origin"] == origin["Origin"]
    garbage = await client.post("/api/identify", headers=origin, content=b"{not json")
    assert garbage.status_code == 400 and garbage.json()["error"] == "invalid_json"


async def test_fingerprint_never_merges_people_with_different_emails(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["a"]
    first = await add_session(db, t.site_id, fingerprint="fp-shared-pc", ip="192.0.2.77")
    await resolve_all(db)
    r1 = await client.post(
        "/api/identify",
        headers=t.auth(),
        json={"site_id": t.public_id, "session_id": str(first), "email": "alice@example.com"},
    )
    second = await add_session(db, t.site_id, fingerprint="fp-shared-pc", ip="192.0.2.77")
    await resolve_all(db)
    assert await person_of(db, t.site_id, second) == uuid.UUID(r1.json()["canonical_user_id"])
    r2 = await client.post(
        "/api/identify",
        headers=t.auth(),
        json={"site_id": t.public_id, "session_id": str(second), "email": "bob@example.com"},
    )
    assert r2.status_code == 200 and r2.json()["merges"] == []
    assert r2.json()["canonical_user_id"] != r1.json()["canonical_user_id"]
    assert await person_of(db, t.site_id, first) == uuid.UUID(r1.json()["canonical_user_id"])
    assert await person_of(db, t.site_id, second) == uuid.UUID(r2.json()["canonical_user_id"])
    [link] = await fetch(
        db,
        "SELECT state, state_reason FROM identity_links WHERE site_id = $1 AND kind = 'fingerprint' AND value = 'fp-shared-pc'",
        t.site_id,
    )
    assert link["state"] == "shared" and link["state_reason"] == "conflicting_people"


async def test_attribution_report(
    tenants: dict[str, Tenant], client: httpx.AsyncClient, journey: dict[str, object]
) -> None:
    t = tenants["a"]
    params = {"site_id": t.public_id, "conversions": "lead"}
    linear = (
        await client.get(
            "/api/attribution", params={**params, "model": "linear"}, headers=t.auth(t.read_key)
        )
    ).json()
    by_channel = {r["channel"]: r for r in linear["results"]}
    assert by_channel["Organic Search"]["conversions"] == pytest.approx(0.5)
    assert by_channel["Paid Search"]["value"] == pytest.approx(150)
    assert sum(r["conversions"] for r in linear["results"]) == pytest.approx(
        linear["totals"]["conversions"]
    )
    first = (
        await client.get(
            "/api/attribution",
            params={**params, "model": "first_touch", "group_by": "campaign"},
            headers=t.auth(t.read_key),
        )
    ).json()
    assert {r["campaign"]: r["conversions"] for r in first["results"]}["(none)"] == pytest.approx(1)
    for bad in (
        {"model": "magic"},
        {"group_by": "color"},
        {"from": "yesterday"},
        {"conversions": "sale"},
        {"from": "2026-01-02", "to": "2026-01-01"},
    ):
        response = await client.get(
            "/api/attribution", params={**params, **bad}, headers=t.auth(t.read_key)
        )
        assert response.status_code == 400, bad


async def test_campaign_performance(
    tenants: dict[str, Tenant], client: httpx.AsyncClient, journey: dict[str, object]
) -> None:
    t = tenants["a"]
    response = await client.get(
        "/api/campaigns/performance", params={"site_id": t.public_id}, headers=t.auth(t.read_key)
    )
    assert response.status_code == 200, response.text
    [row] = [c for c in response.json()["campaigns"] if c["campaign_id"] == "111"]
    assert row["total_ad_spend"] == 50.0 and row["clicks"] == 20
    assert row["total_sessions"] == 1 and row["unique_users"] == 1
    assert row["conversions"] == pytest.approx(1) and row["total_revenue"] == pytest.approx(300)
    assert row["avg_roi"] == pytest.approx(500.0)


def csv_rows(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    reader = csv.DictReader(io.StringIO(response.text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


async def test_attribution_and_campaigns_as_csv(
    tenants: dict[str, Tenant], client: httpx.AsyncClient, journey: dict[str, object]
) -> None:
    a, b = tenants["a"], tenants["b"]
    today = datetime.now(UTC).date()
    first, last = str(today - timedelta(days=10)), str(today)
    span = {"from": first, "to": last}
    reports = [
        (
            "/api/attribution",
            {"group_by": "campaign", "model": "linear", "conversions": "lead"},
            f"leadtrail-attribution-campaign-{a.public_id}-{first}-{last}.csv",
            "results",
            ["campaign", "conversions", "value", "touches", "conversions_touched"],
        ),
        (
            "/api/campaigns/performance",
            {},
            f"leadtrail-campaigns-{a.public_id}-{first}-{last}.csv",
            "campaigns",
            [
                "platform",
                "campaign_id",
                "campaign",
                "unique_users",
                "total_sessions",
                "conversions",
                "conversion_rate",
                "clicks",
                "impressions",
                "total_ad_spend",
                "total_revenue",
                "avg_roi",
                "cost_per_conversion",
                "currency",
            ],
        ),
    ]
    for path, extra, filename, key, columns in reports:
        params = {"site_id": a.public_id, **span, **extra}
        body = (await client.get(path, params=params, headers=a.auth(a.read_key))).json()
        response = await client.get(
            path, params={**params, "format": "csv"}, headers=a.auth(a.read_key)
        )
        header, rows = csv_rows(response)
        assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
        assert header == columns, path
        assert len(rows) == len(body[key]) > 0, path
        for row, item in zip(rows, body[key], strict=True):
            for column in columns:
                expected = body.get(column) if column == "currency" else item[column]
                if isinstance(expected, float | int):
                    assert float(row[column]) == pytest.approx(expected), (path, column)
                else:
                    assert row[column] == ("" if expected is None else expected), (path, column)
        # another tenant's site is a 404, in CSV as in JSON; its own CSV has none of a's rows
        foreign = await client.get(
            path, params={**params, "format": "csv"}, headers=b.auth(b.read_key)
        )
        assert foreign.status_code == 404 and foreign.json()["error"] == "site_not_found"
        own = await client.get(
            path,
            params={**params, "site_id": b.public_id, "format": "csv"},
            headers=b.auth(b.read_key),
        )
        assert csv_rows(own) == (columns, [])
    [spend] = [
        r
        for r in csv_rows(
            await client.get(
                "/api/campaigns/performance",
                params={"site_id": a.public_id, **span, "format": "csv"},
                headers=a.auth(a.read_key),
            )
        )[1]
        if r["campaign_id"] == "111"
    ]
    assert (spend["total_ad_spend"], spend["clicks"], spend["currency"]) == ("50.0", "20", "USD")
    bad = await client.get(
        "/api/attribution",
        params={"site_id": a.public_id, "format": "xml"},
        headers=a.auth(a.read_key),
    )
    assert bad.status_code == 400 and bad.json()["field"] == "format"


async def test_google_ads_export(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient, journey: dict[str, object]
) -> None:
    t = tenants["a"]
    await add_session(
        db, t.site_id, fingerprint="fp-export-call", gclid="Cj0KCQiA-export-2", lead_score=50
    )
    call = await client.post(
        "/api/call-event",
        headers=t.auth(),
        json={
            "site_id": t.public_id,
            "phone_number": "+14195550100",
            "fingerprint": "fp-export-call",
        },
    )
    params = {"site_id": t.public_id, "conversion_name": "Qualified lead"}
    before = await client.get(
        "/api/exports/google-ads-offline-conversions.csv", params=params, headers=t.auth(t.read_key)
    )
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/csv")
    lines = before.text.splitlines()
    assert lines[0] == "Parameters:TimeZone=UTC"
    rows = list(csv.reader(io.StringIO("\n".join(lines[1:]))))
    assert rows[0] == [
        "Google Click ID",
        "Conversion Name",
        "Conversion Time",
        "Conversion Value",
        "Conversion Currency",
    ]
    assert [r[0] for r in rows[1:]] == ["Cj0KCQiA-journey-1"]  # the call is not qualified yet
    assert rows[1][1] == "Qualified lead" and rows[1][3] == "300" and rows[1][4] == "USD"
    assert datetime.strptime(rows[1][2], "%Y-%m-%d %H:%M:%S%z") == journey["day"] + timedelta(
        minutes=4
    )  # type: ignore[operator]
    await client.patch(
        f"/api/calls/{call.json()['call_id']}", json={"status": "qualified"}, headers=t.auth()
    )
    after = await client.get(
        "/api/exports/google-ads-offline-conversions.csv", params=params, headers=t.auth(t.read_key)
    )
    exported = list(csv.reader(io.StringIO(after.text.split("\n", 1)[1])))
    assert ["Cj0KCQiA-export-2", "Qualified lead"] in [r[:2] for r in exported]
    bad = await client.get(
        "/api/exports/google-ads-offline-conversions.csv",
        params={**params, "conversion_name": "=HYPERLINK(1)"},
        headers=t.auth(t.read_key),
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_conversion_name"


async def test_ad_spend_validation_and_listing(
    tenants: dict[str, Tenant], client: httpx.AsyncClient, journey: dict[str, object]
) -> None:
    t = tenants["a"]
    row = {"campaign_id": "222", "date": "2026-01-05", "cost": "10"}
    for bad, error in (
        ({"date": "5/1/2026"}, "invalid_ad_spend"),
        ({"cost": "-1"}, "invalid_ad_spend"),
        ({"currency": "EUR"}, "currency_mismatch"),
    ):
        response = await client.post(
            "/api/ad-spend",
            headers=t.auth(),
            json={"site_id": t.public_id, "rows": [{**row, **bad}]},
        )
        assert response.status_code == 400 and response.json()["error"] == error, bad
    reader = await client.post(
        "/api/ad-spend", headers=t.auth(t.read_key), json={"site_id": t.public_id, "rows": [row]}
    )
    assert reader.status_code == 403
    listed = await client.get(
        "/api/ad-spend", params={"site_id": t.public_id}, headers=t.auth(t.read_key)
    )
    assert [r["campaign_id"] for r in listed.json()["rows"]] == ["111"]


def test_cli_import_and_unmerge(
    test_database: ModuleDatabase,
    tenants: dict[str, Tenant],
    cli_env: dict[str, str],
    tmp_path: object,
) -> None:
    t = tenants["a"]
    env = {**cli_env, "LEADTRAIL_DATABASE_URL": test_database.owner_dsn}
    path = tmp_path / "spend.csv"  # type: ignore[operator]
    path.write_text(
        "Campaign ID,Campaign,Day,Clicks,Impr.,Cost,Currency code\n333,Summer,2026-01-06,5,100,12.50,USD\n"
    )
    run = [sys.executable, "-m", "leadtrail"]
    out = subprocess.run(
        [*run, "import", "ad-spend", "--site", t.public_id, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "imported 1 rows (1 new" in out.stdout
    path.write_text("Day,Cost\nnot-a-date,1\n")
    bad = subprocess.run(
        [*run, "import", "ad-spend", "--site", t.public_id, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        bad.returncode == 1
        and bad.stderr.startswith("error: line 2")
        and "Traceback" not in bad.stderr
    )
    missing = subprocess.run(
        [*run, "identity", "unmerge", "--site", t.public_id, str(uuid.uuid4())],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert missing.returncode == 1 and "no merge" in missing.stderr
