"""Input at the edges over real HTTP and the CLI: extreme dates, numbers past their columns,
NUL characters. Every one is a 4xx with a code (or a one-line CLI error), never a 500."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from leadtrail.adspend.rows import MAX_COST, MAX_COUNT
from leadtrail.storage import Database
from tests.conftest import ModuleDatabase, leadtrail_cli
from tests.integration.people_support import Tenant, add_session, fetch, make_tenant, session_token

ANALYTICS = [
    "/api/analytics/overview",
    "/api/analytics/funnel",
    "/api/analytics/breakdown/browser",
    "/api/analytics/sessions",
]
MONEY = [
    "/api/attribution",
    "/api/campaigns/performance",
    "/api/ad-spend",
    "/api/exports/google-ads-offline-conversions.csv",
]


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "limits", {"currency": "USD", "default_region": "US"})


# -- dates ------------------------------------------------------------------------------------

# (query, field, code for analytics, code for people/money)
DATE_CASES: list[tuple[dict[str, str], str, str, str]] = [
    ({"from": "0001-01-01", "to": "0001-01-01"}, "to", "invalid_date", "invalid_period"),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "to", "invalid_date", "invalid_period"),
    ({"to": "9999-12-31"}, "to", "invalid_date", "invalid_period"),
    ({"from": "0001-01-01", "to": "2026-01-01"}, "from", "invalid_date", "invalid_period"),
    ({"from": "1999-12-31", "to": "2000-01-01"}, "from", "invalid_date", "invalid_period"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "from", "invalid_range", "invalid_period"),
    ({"from": "yesterday"}, "from", "invalid_date", "invalid_period"),
    ({"from": "2026-01-01", "to": "2026-02-30"}, "to", "invalid_date", "invalid_period"),
]


@pytest.mark.parametrize(("query", "field", "analytics_code", "money_code"), DATE_CASES)
async def test_extreme_and_bad_dates_are_400_on_every_report(
    tenant: Tenant,
    client: httpx.AsyncClient,
    query: dict[str, str],
    field: str,
    analytics_code: str,
    money_code: str,
) -> None:
    for paths, code in ((ANALYTICS, analytics_code), (MONEY, money_code)):
        for path in paths:
            response = await client.get(
                path, params={"site_id": tenant.public_id, **query}, headers=tenant.auth()
            )
            assert response.status_code == 400, (path, response.text)
            body = response.json()
            assert (body["error"], body["field"]) == (code, field), (path, body)


@pytest.mark.parametrize(
    "moment",
    ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "2101-01-01T00:00:00-12:00"],
)
async def test_extreme_iso_times_are_400_on_money_reports(
    tenant: Tenant, client: httpx.AsyncClient, moment: str
) -> None:
    for path in MONEY:
        response = await client.get(
            path,
            params={"site_id": tenant.public_id, "from": "2026-01-01", "to": moment},
            headers=tenant.auth(),
        )
        assert response.status_code == 400, (path, response.text)
        assert (response.json()["error"], response.json()["field"]) == ("invalid_period", "to")


@pytest.mark.parametrize("compare", ["previous", "year", "none"])
@pytest.mark.parametrize("day", ["2000-01-01", "2100-12-31"])
async def test_the_first_and_last_supported_day_answer(
    tenant: Tenant, client: httpx.AsyncClient, day: str, compare: str
) -> None:
    """The overview of 2000-01-01 compares with 1999: the bound leaves room for that."""
    overview = await client.get(
        "/api/analytics/overview",
        params={
            "site_id": tenant.public_id,
            "from": day,
            "to": day,
            "compare": compare,
            "tz": "Pacific/Kiritimati",
        },
        headers=tenant.auth(),
    )
    assert overview.status_code == 200, overview.text
    assert overview.json()["totals"]["sessions"] == 0
    for path in [*ANALYTICS[1:], *MONEY]:
        response = await client.get(
            path,
            params={"site_id": tenant.public_id, "from": day, "to": day},
            headers=tenant.auth(),
        )
        assert response.status_code == 200, (path, response.text)


async def test_lead_times_before_the_supported_years_are_400(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    for moment in ("0001-01-01T00:00:00+14:00", "1999-12-31T23:59:59Z"):
        response = await client.post(
            "/api/leads",
            headers=tenant.auth(),
            json={"site_id": tenant.public_id, "email": "old@example.com", "submitted_at": moment},
        )
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "submitted_at"


# -- ad spend numbers -------------------------------------------------------------------------

ROW = {"campaign_id": "limits-1", "date": "2026-01-05", "cost": "10"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"clicks": "²"}, "clicks"),
        ({"impressions": "9999999999"}, "impressions"),
        ({"clicks": MAX_COUNT + 1}, "clicks"),
        ({"cost": "9999999999.99995"}, "cost"),
        ({"cost": "1e30"}, "cost"),
        ({"date": "9999-12-31"}, "date"),
    ],
)
async def test_ad_spend_numbers_past_their_columns_are_400(
    db: Database, tenant: Tenant, client: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    response = await client.post(
        "/api/ad-spend",
        headers=tenant.auth(),
        json={
            "site_id": tenant.public_id,
            "rows": [{**ROW, "campaign_id": "ok-1"}, {**ROW, **change}],
        },
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["field"]) == ("invalid_ad_spend", field)
    assert body["detail"].startswith("rows[1]: ")
    assert await fetch(db, "SELECT 1 FROM ad_spend WHERE site_id = $1", tenant.site_id) == []


async def test_ad_spend_at_the_column_limits_is_stored(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/api/ad-spend",
        headers=tenant.auth(),
        json={
            "site_id": tenant.public_id,
            "rows": [
                {
                    **ROW,
                    "campaign_id": "limits-max",
                    "date": "2100-12-31",
                    "clicks": f"{MAX_COUNT:,}",
                    "impressions": MAX_COUNT,
                    "cost": "9999999999.99994",
                }
            ],
        },
    )
    assert response.status_code == 200, response.text
    [row] = await fetch(
        db,
        "SELECT clicks, impressions, cost FROM ad_spend WHERE site_id = $1 AND campaign_id = 'limits-max'",
        tenant.site_id,
    )
    assert (row["clicks"], row["impressions"], row["cost"]) == (MAX_COUNT, MAX_COUNT, MAX_COST)
    listed = await client.get(
        "/api/ad-spend",
        params={"site_id": tenant.public_id, "from": "2100-12-01", "to": "2100-12-31"},
        headers=tenant.auth(),
    )
    assert [(r["clicks"], r["impressions"]) for r in listed.json()["rows"]] == [
        (MAX_COUNT, MAX_COUNT)
    ]
    await fetch(db, "DELETE FROM ad_spend WHERE site_id = $1", tenant.site_id)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (
            b"Campaign,Day,Clicks,Cost\nA,2026-01-05,3,1\nB,2026-01-05,\xc2\xb2,1\n",
            "line 3: clicks",
        ),
        (b"Campaign,Day,Impr.,Cost\nA,2026-01-05,9999999999,1\n", "line 2: impressions"),
        (b"Campaign,Day,Cost\nA,2026-01-05,9999999999.99995\n", "line 2: cost"),
        (b"Campaign,Day,Cost\nA\x00B,2026-01-05,1\n", "line 2: campaign_name contains a NUL"),
        (b"Campaign,Day,Cost\nA,9999-12-31,1\n", "line 2: date"),
        (b"Campaign,Day,Cost\n\xff\xfe,2026-01-05,1\n", "is not UTF-8 text"),
    ],
)
async def test_cli_import_refuses_bad_rows_in_one_line(
    db: Database,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
    tenant: Tenant,
    tmp_path: Any,
    content: bytes,
    fragment: str,
) -> None:
    path = tmp_path / "spend.csv"
    path.write_bytes(content)
    code, _, err = await leadtrail_cli(
        test_database, cli_env, "import", "ad-spend", "--site", tenant.public_id, str(path)
    )
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert await fetch(db, "SELECT 1 FROM ad_spend WHERE site_id = $1", tenant.site_id) == []


# -- NUL characters ---------------------------------------------------------------------------


def nul_cases(t: Tenant) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, body, field) for server-mode writes with a NUL somewhere."""
    site = {"site_id": t.public_id}
    return [
        ("POST", "/api/identify", {**site, "email": "ann\x00@example.com"}, "email"),
        (
            "POST",
            "/api/identify",
            {**site, "email": "ann@example.com", "attributes": {"plan": {"ti\x00er": "gold"}}},
            "attributes.plan.ti\\u0000er",
        ),
        ("POST", "/api/leads", {**site, "email": "l@example.com", "name": "L\x00"}, "name"),
        ("POST", "/api/leads", {**site, "email": "l@example.com", "company": "\x00"}, "company"),
        (
            "POST",
            "/api/leads",
            {**site, "email": "l@example.com", "message": "hello\x00world"},
            "message",
        ),
        (
            "POST",
            "/api/leads",
            {**site, "email": "l@example.com", "metadata": {"form": {"fields": ["a", "b\x00"]}}},
            "metadata.form.fields[1]",
        ),
        ("POST", "/api/call-event", {**site, "phone_number": "+14195550\x00100"}, "phone_number"),
        (
            "POST",
            "/api/call-event",
            {**site, "phone_number": "+14195550100", "metadata": {"tracking\x00": 1}},
            "metadata.tracking\\u0000",
        ),
        (
            "POST",
            "/api/ad-spend",
            {**site, "rows": [{**ROW, "campaign_name": "Spring\x00Sale"}]},
            "rows[0].campaign_name",
        ),
    ]


async def test_nul_characters_in_written_text_are_400(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    for method, path, body, field in nul_cases(tenant):
        response = await client.request(method, path, json=body, headers=tenant.auth())
        assert response.status_code == 400, (path, body, response.text)
        assert (response.json()["error"], response.json()["field"]) == ("invalid_text", field)
    for table in ("leads", "calls", "ad_spend", "identity_links"):
        assert await fetch(db, f"SELECT 1 FROM {table} WHERE site_id = $1", tenant.site_id) == []


async def test_nul_in_tracker_mode_and_literal_escapes(
    db: Database, tenant: Tenant, client: httpx.AsyncClient
) -> None:
    sid = await add_session(db, tenant.site_id, fingerprint="fp-nul")
    tracker = await client.post(
        "/api/leads",
        headers={"Origin": f"https://{tenant.domain}", "Content-Type": "text/plain"},
        content=orjson.dumps(
            {
                "s": tenant.public_id,
                "sid": str(sid),
                "k": session_token(tenant.site_id, sid),
                "email": "t@example.com",
                "message": "\x00",
            }
        ),
    )
    assert tracker.status_code == 400 and tracker.json()["error"] == "invalid_text"
    # the text "\u0000" (a backslash, not a NUL) is ordinary text
    literal = await client.post(
        "/api/leads",
        headers=tenant.auth(),
        json={
            "site_id": tenant.public_id,
            "email": "literal@example.com",
            "message": "typed \\u0000 by hand",
            "metadata": {"k": "\\u0000"},
        },
    )
    assert literal.status_code == 201, literal.text
    [row] = await fetch(
        db, "SELECT message, metadata FROM leads WHERE site_id = $1", tenant.site_id
    )
    assert row["message"] == "typed \\u0000 by hand" and row["metadata"] == {"k": "\\u0000"}


async def test_nul_in_site_key_member_and_login_text_is_400(server: Any, tenant: Tenant) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = await http.post(
            "/api/auth/login", json={"email": f"{tenant.user_email}\x00", "password": "x"}
        )
        assert refused.status_code == 400 and refused.json()["field"] == "email"
        login = await http.post(
            "/api/auth/login", json={"email": tenant.user_email, "password": tenant.password}
        )
        assert login.status_code == 200, login.text
        site = f"/api/sites/{tenant.public_id}"
        for method, path, body, field in [
            ("PATCH", site, {"name": "Shop\x00"}, "name"),
            (
                "PATCH",
                site,
                {"allowed_origins": ["https://a.example", "https://\x00"]},
                "allowed_origins[1]",
            ),
            (
                "PATCH",
                site,
                {"settings": {"scoring": {"conv\x00": 5}}},
                "settings.scoring.conv\\u0000",
            ),
            ("POST", f"{site}/keys", {"name": "server\x00"}, "name"),
            ("POST", f"{site}/members", {"email": "x\x00@example.com"}, "email"),
        ]:
            response = await http.request(method, path, json=body)
            assert response.status_code == 400, (path, response.text)
            assert (response.json()["error"], response.json()["field"]) == ("invalid_text", field)
        name = (await http.get(site)).json()["name"]
        assert "\x00" not in name and name == "limits"


async def test_nul_in_query_and_path_text_is_400(tenant: Tenant, client: httpx.AsyncClient) -> None:
    auth = tenant.auth()
    for path, params, field in [
        ("/api/analytics/sessions", {"dimension": "browser", "value": "Chr\x00me"}, "value"),
        ("/api/analytics/overview", {"tz": "Europe/Berlin\x00"}, "tz"),
        ("/api/attribution", {"conversions": "lead\x00"}, "conversions"),
        ("/api/identity/merges", {"user_id": "\x00"}, "user_id"),
    ]:
        response = await client.get(
            path, params={"site_id": tenant.public_id, **params}, headers=auth
        )
        assert response.status_code == 400, (path, response.text)
        assert (response.json()["error"], response.json()["field"]) == ("invalid_text", field)
    site = await client.get("/api/sites/shop%00", headers=auth)
    assert site.status_code == 400 and site.json()["field"] == "site", site.text
    foreign = await client.get("/api/ad-spend", params={"site_id": "\x00"}, headers=auth)
    assert foreign.status_code == 400 and foreign.json()["field"] == "site_id"
