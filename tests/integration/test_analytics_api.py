"""Analytics API over real HTTP: figures from rollups match the raw rows, ranges and time
zones, comparison, breakdowns with geo drill-down, funnel, CSV, and incremental rollups."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from leadtrail.analytics.rollups import Rollups
from leadtrail.auth.users import create_user
from leadtrail.config import Settings
from leadtrail.sites.service import add_member, create_site
from leadtrail.storage import Database
from leadtrail.storage.marks import mark_sessions
from tests.conftest import LiveServer
from tests.integration.analytics_world import World, populate

ZONE = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The tests run the rollup job themselves, and no identity resolver changes people
    behind their back (visitors are then browsers, as the expected figures assume)."""
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        secret_key="test-secret",
        pool_min_size=1,
        pool_max_size=5,
        log_level="warning",
        rollup_interval=3600,
        identity_resolve_interval=0,
    )


@pytest.fixture(scope="module")
async def world(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        alice = await create_user(conn, "alice@example.com", "correct horse")
        viewer = await create_user(conn, "vera@example.com", "correct horse")
        site = await create_site(
            conn, name="Shop", domain="shop.example", owner_id=alice.id, timezone="Europe/Berlin"
        )
        await add_member(conn, site.id, viewer.id, "viewer")
        other = await create_site(conn, name="Other", domain="other.example")
        data = await populate(conn, site.id, ZONE, seed=7, count=400, days=20)
        await populate(conn, other.id, ZONE, seed=8, count=60, days=20)
    await Rollups(db).run_once()
    return {"site": site, "other": other, "data": data}


@pytest.fixture
async def alice(server: LiveServer, world: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        response = await http.post(
            "/api/auth/login", json={"email": "alice@example.com", "password": "correct horse"}
        )
        assert response.status_code == 200
        yield http


def days_back(n: int) -> tuple[str, str]:
    today = datetime.now(ZONE).date()
    return str(today - timedelta(days=n - 1)), str(today)


async def overview(http: httpx.AsyncClient, site: str, start: str, end: str, **extra: str) -> Any:
    response = await http.get(
        "/api/analytics/overview", params={"site_id": site, "from": start, "to": end, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


def assert_totals(totals: dict[str, Any], expected: dict[str, Any]) -> None:
    for key in (
        "sessions",
        "page_views",
        "conversions",
        "paid_sessions",
        "hot_leads",
        "calls",
        "calls_matched",
        "calls_qualified",
        "leads",
    ):
        assert totals[key] == expected[key], key
    sessions = expected["sessions"]
    # (a one-day range just after midnight in the site's zone may hold no session yet)
    assert totals["bounce_rate"] == (
        round(expected["bounces"] / sessions * 100, 1) if sessions else 0
    )
    assert totals["avg_actions"] == (round(expected["events"] / sessions, 2) if sessions else 0)
    # visitors are a HyperLogLog estimate: near exact at this size
    assert abs(totals["visitors"] - expected["visitors"]) <= max(2, expected["visitors"] * 0.03)


async def test_overview_matches_raw_rows_for_several_ranges(
    alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    data: World = world["data"]
    for n in (1, 3, 7, 14):
        start, end = days_back(n)
        body = await overview(alice, world["site"].public_id, start, end)
        expected = data.expected(
            datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
        )
        assert_totals(body["totals"], expected)
        assert sum(p["sessions"] for p in body["series"]) == expected["sessions"]
        assert body["range"]["tz"] == "Europe/Berlin"


async def test_time_zone_moves_day_boundaries(
    alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    data: World = world["data"]
    start, end = days_back(5)
    for tz in ("America/Los_Angeles", "Asia/Tokyo", "UTC"):
        body = await overview(alice, str(world["site"].id), start, end, tz=tz)
        shifted = World(data.site_id, ZoneInfo(tz), data.sessions, data.calls, data.leads)
        expected = shifted.expected(
            datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
        )
        assert body["totals"]["sessions"] == expected["sessions"], tz
        assert body["range"]["tz"] == tz


async def test_series_buckets_cover_the_range(
    alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    start, end = days_back(7)
    daily = await overview(alice, world["site"].public_id, start, end, interval="day")
    assert len(daily["series"]) == 7
    assert daily["series"][0]["bucket"].startswith(start)
    hourly = await overview(alice, world["site"].public_id, end, end, interval="hour")
    assert len(hourly["series"]) in (23, 24, 25)  # DST days have 23 or 25 hours
    assert sum(p["sessions"] for p in hourly["series"]) == daily["series"][-1]["sessions"]


async def test_comparison_with_previous_period(
    alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    data: World = world["data"]
    start, end = days_back(7)
    body = await overview(alice, world["site"].public_id, start, end)
    prev_start = datetime.fromisoformat(start).date() - timedelta(days=7)
    prev_end = datetime.fromisoformat(start).date() - timedelta(days=1)
    assert body["previous_range"]["from"] == str(prev_start)
    expected = data.expected(prev_start, prev_end)
    assert body["previous"]["sessions"] == expected["sessions"]
    current = body["totals"]["sessions"]
    assert body["change"]["sessions"] == round(
        (current - expected["sessions"]) / expected["sessions"] * 100, 1
    )
    none = await overview(alice, world["site"].public_id, start, end, compare="none")
    assert none["previous"] is None and none["change"] is None


async def test_breakdowns_and_geo_drill_down(
    alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    data: World = world["data"]
    start, end = days_back(10)
    expected = data.expected(
        datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
    )
    params = {"site_id": world["site"].public_id, "from": start, "to": end}
    browsers = (await alice.get("/api/analytics/breakdown/browser", params=params)).json()
    assert {r["value"]: r["sessions"] for r in browsers["rows"]} == dict(expected["browsers"])
    assert browsers["total_sessions"] == expected["sessions"]
    assert [r["sessions"] for r in browsers["rows"]] == sorted(
        (r["sessions"] for r in browsers["rows"]), reverse=True
    )
    assert round(sum(r["share"] for r in browsers["rows"])) == 100

    cities = (
        await alice.get("/api/analytics/breakdown/city", params={**params, "country": "us"})
    ).json()
    assert {r["city"]: r["sessions"] for r in cities["rows"]} == dict(expected["cities_us"])
    assert {r["country"] for r in cities["rows"]} == {"US"}
    assert {r["region"] for r in cities["rows"]} == {"Texas", "Ohio"}

    pages = (await alice.get("/api/analytics/breakdown/entry_page", params=params)).json()
    assert {r["value"] for r in pages["rows"]} <= {"/", "/pricing", "/contact"}

    one = (
        await alice.get("/api/analytics/breakdown/browser", params={**params, "limit": 1})
    ).json()
    assert len(one["rows"]) == 1 and one["total_rows"] == len(expected["browsers"])


async def test_every_dimension_answers(alice: httpx.AsyncClient, world: dict[str, Any]) -> None:
    names = [d["name"] for d in (await alice.get("/api/analytics/dimensions")).json()]
    start, end = days_back(30)
    for name in names:
        response = await alice.get(
            f"/api/analytics/breakdown/{name}",
            params={"site_id": world["site"].public_id, "from": start, "to": end},
        )
        assert response.status_code == 200, name
        assert response.json()["total_sessions"] == len(world["data"].sessions), name


async def test_funnel(alice: httpx.AsyncClient, world: dict[str, Any]) -> None:
    data: World = world["data"]
    start, end = days_back(10)
    body = (
        await alice.get(
            "/api/analytics/funnel",
            params={"site_id": world["site"].public_id, "from": start, "to": end},
        )
    ).json()
    rows = data.in_range(datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date())
    first_seen: dict[str, datetime] = {}
    for s in sorted(data.sessions, key=lambda s: s.created_at):
        first_seen.setdefault(s.fingerprint, s.created_at)
    returning = {s.fingerprint for s in rows if s.created_at > first_seen[s.fingerprint]}
    converted = {s.fingerprint for s in rows if s.converted}
    stages = {s["stage"]: s for s in body["stages"]}
    assert list(stages) == ["Visitors", "Returning", "Converted"]
    assert stages["Visitors"]["conversion_rate"] == 100.0
    for name, truth in (("Returning", len(returning)), ("Converted", len(converted))):
        assert abs(stages[name]["count"] - truth) <= max(2, truth * 0.03), name


async def test_csv_exports(alice: httpx.AsyncClient, world: dict[str, Any]) -> None:
    start, end = days_back(7)
    params = {"site_id": world["site"].public_id, "from": start, "to": end, "format": "csv"}
    response = await alice.get("/api/analytics/overview", params={**params, "interval": "day"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 8 and rows[-1]["bucket"] == "total"
    assert sum(int(r["sessions"]) for r in rows[:-1]) == int(rows[-1]["sessions"])

    referrers = await alice.get("/api/analytics/breakdown/referrer", params=params)
    values = [r["value"] for r in csv.DictReader(io.StringIO(referrers.text))]
    # a visitor-supplied value never reaches a spreadsheet as a formula
    assert "'=cmd|' /c calc'!a0" in values and not any(v.startswith("=") for v in values)

    funnel = await alice.get("/api/analytics/funnel", params=params)
    assert next(csv.reader(io.StringIO(funnel.text))) == ["stage", "count", "conversion_rate"]

    sessions = await alice.get(
        "/api/analytics/sessions", params={**params, "dimension": "browser", "value": "Firefox"}
    )
    listed = list(csv.DictReader(io.StringIO(sessions.text)))
    assert listed and {r["browser"] for r in listed} == {"Firefox"}


async def test_drill_down_sessions(alice: httpx.AsyncClient, world: dict[str, Any]) -> None:
    data: World = world["data"]
    start, end = days_back(7)
    params = {"site_id": world["site"].public_id, "from": start, "to": end, "limit": "1000"}
    body = (
        await alice.get(
            "/api/analytics/sessions",
            params={
                **params,
                "dimension": "city",
                "country": "US",
                "region": "Ohio",
                "city": "Toledo",
            },
        )
    ).json()
    expected = [
        s
        for s in data.in_range(
            datetime.fromisoformat(start).date(), datetime.fromisoformat(end).date()
        )
        if s.geo == ("US", "Ohio", "Toledo")
    ]
    assert {r["id"] for r in body["rows"]} == {str(s.id) for s in expected}
    too_long = await alice.get(
        "/api/analytics/sessions",
        params={**params, "from": "2020-01-01", "dimension": "browser", "value": "Safari"},
    )
    assert too_long.status_code == 400 and too_long.json()["error"] == "invalid_range"


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"tz": "Mars/Olympus"}, "invalid_timezone", "tz"),
        ({"tz": "../../etc/passwd"}, "invalid_timezone", "tz"),
        ({"from": "yesterday"}, "invalid_date", "from"),
        ({"from": "2026-02-10", "to": "2026-02-01"}, "invalid_range", "from"),
        ({"from": "2000-01-01", "to": "2026-01-01"}, "invalid_range", "from"),
        ({"interval": "minute"}, "invalid_request", "interval"),
        (
            {"from": "2025-01-01", "to": "2025-12-31", "interval": "hour"},
            "too_many_buckets",
            "interval",
        ),
        ({"format": "xml"}, "invalid_request", "format"),
    ],
)
async def test_bad_parameters_are_400(
    alice: httpx.AsyncClient, world: dict[str, Any], params: dict[str, str], code: str, field: str
) -> None:
    response = await alice.get(
        "/api/analytics/overview", params={"site_id": world["site"].public_id, **params}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == code and response.json()["field"] == field


async def test_bad_breakdown_requests(alice: httpx.AsyncClient, world: dict[str, Any]) -> None:
    site = world["site"].public_id
    unknown = await alice.get("/api/analytics/breakdown/shoe_size", params={"site_id": site})
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_dimension"
    wrong = await alice.get(
        "/api/analytics/breakdown/browser", params={"site_id": site, "country": "US"}
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_filter"
    bad_country = await alice.get(
        "/api/analytics/breakdown/city", params={"site_id": site, "country": "USA"}
    )
    assert bad_country.status_code == 400 and bad_country.json()["field"] == "country"


async def test_reports_need_a_login_or_key(server: LiveServer, world: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        response = await anonymous.get(
            "/api/analytics/overview", params={"site_id": world["site"].public_id}
        )
    assert response.status_code == 401


async def test_rollups_follow_changing_sessions(
    db: Database, alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    site = world["site"]
    # two local days: the session changed below must lie in the range even just after
    # midnight in the site's zone
    start, end = days_back(2)
    before = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
    now = datetime.now(UTC)
    async with db.system() as conn:
        # a live session gets more page views and converts; a new session starts
        live = await conn.fetchrow(
            "SELECT id, page_views, converted FROM sessions WHERE site_id = $1 AND created_at < $2 "
            "AND created_at >= $3 AND NOT converted ORDER BY created_at DESC LIMIT 1",
            site.id,
            now - timedelta(minutes=1),
            datetime.combine(date.fromisoformat(start), time(0), tzinfo=ZONE),
        )
        assert live is not None
        changed = await conn.fetch(
            "UPDATE sessions SET page_views = page_views + 5, converted = true, last_seen_at = now() "
            "WHERE site_id = $1 AND id = $2 RETURNING site_id, created_at, canonical_user_id",
            site.id,
            live["id"],
        )
        changed += await conn.fetch(
            "INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at, fingerprint, page_views) "
            "VALUES ($1, gen_random_uuid(), date_trunc('month', now() AT TIME ZONE 'UTC'), now(), now(), 'brand-new', 1) "
            "RETURNING site_id, created_at, canonical_user_id",
            site.id,
        )
        await mark_sessions(conn, changed)
    assert await Rollups(db).run_once() > 0
    after = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
    assert after["sessions"] == before["sessions"] + 1
    assert after["page_views"] == before["page_views"] + 6
    assert after["conversions"] == before["conversions"] + 1


async def test_person_changes_of_any_age_are_folded_in(
    db: Database, alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """Identity resolution and merges set a session's person without touching last_seen_at;
    their writers mark the hour, however old."""
    site = world["site"]
    today = datetime.now(ZONE).date()
    start, end = str(today - timedelta(days=16)), str(today - timedelta(days=12))
    before = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
    async with db.system() as conn:
        # every visit of those days turns out to be one person
        changed = await conn.fetch(
            "UPDATE sessions SET canonical_user_id = '00000000-0000-4000-8000-000000000001' "
            "WHERE site_id = $1 AND created_at >= $2 AND created_at < $3 "
            "RETURNING site_id, created_at, canonical_user_id",
            site.id,
            datetime.fromisoformat(start).replace(tzinfo=ZONE) - timedelta(hours=2),
            datetime.fromisoformat(end).replace(tzinfo=ZONE) + timedelta(days=1, hours=2),
        )
        await mark_sessions(conn, changed)
    await Rollups(db).run_once()
    after = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
    assert before["visitors"] > 5 and after["visitors"] == 1
    assert after["sessions"] == before["sessions"]


async def test_backfill_consumes_the_marks_of_the_hours_it_aggregates(db: Database) -> None:
    """Sessions loaded before a site's first pass mark their hours; the backfill covers
    them, so the next pass must not re-aggregate the site's whole history again."""
    async with db.system() as conn:
        site = await create_site(conn, name="Bulk", domain="bulk.example")
        await populate(conn, site.id, ZONE, seed=9, count=50, days=5)
        marked = await conn.fetchval(
            "SELECT count(*) FROM leadtrail.rollup_dirty WHERE site_id = $1", site.id
        )
    assert marked > 5
    job = Rollups(db)
    assert await job.rebuild_sites([site.id], None) >= marked
    async with db.system() as conn:
        left = await conn.fetchval(
            "SELECT count(*) FROM leadtrail.rollup_dirty WHERE site_id = $1", site.id
        )
    assert left == 0


async def test_any_session_change_marks_its_hour_and_settling_is_a_safety_net(
    db: Database, alice: httpx.AsyncClient, world: dict[str, Any]
) -> None:
    """A change made outside leadtrail's writers (here plain SQL) that marks its session, as
    docs/scaling.md asks, is picked up by the next pass; a change whose mark was lost is
    caught when settling."""
    site = world["site"]
    start, end = days_back(2)
    before = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
    touch = (
        "UPDATE sessions SET page_views = page_views + $2 WHERE (site_id, id) IN "
        "(SELECT site_id, id FROM sessions WHERE site_id = $1 AND last_seen_at < now() - interval '10 minutes' "
        "ORDER BY created_at DESC LIMIT 1) RETURNING site_id, created_at, canonical_user_id"
    )
    async with db.system() as conn:
        await mark_sessions(conn, await conn.fetch(touch, site.id, 7))
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM leadtrail.rollup_dirty WHERE site_id = $1", site.id
            )
            == 1
        )
    await Rollups(db).run_once()
    marked = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
    assert marked["page_views"] == before["page_views"] + 7

    async with db.system() as conn:
        await conn.execute(touch, site.id, 3)
        await conn.execute("DELETE FROM leadtrail.rollup_dirty")  # a mark that got lost
        await Rollups(db).run_once()
        unchanged = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
        assert unchanged["page_views"] == marked["page_views"]  # not seen yet
        await conn.execute(
            "UPDATE leadtrail.rollup_progress SET settled_at = now() - interval '2 hours'"
        )
    await Rollups(db).run_once()
    after = (await overview(alice, site.public_id, start, end, compare="none"))["totals"]
    assert after["page_views"] == marked["page_views"] + 3


async def test_openapi_describes_every_dashboard_endpoint(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    for path, method in [
        ("/api/analytics/overview", "get"),
        ("/api/analytics/funnel", "get"),
        ("/api/analytics/dimensions", "get"),
        ("/api/analytics/breakdown/{dimension}", "get"),
        ("/api/analytics/sessions", "get"),
        ("/api/live/events", "get"),
        ("/api/live/sessions/{session_id}/events", "get"),
        ("/api/live/calls", "get"),
        ("/api/dashboard/session", "get"),
        ("/api/sites", "get"),
        ("/api/sites/{site}", "patch"),
        ("/api/sites/{site}/keys", "post"),
        ("/api/sites/{site}/keys/{key_id}", "delete"),
        ("/api/sites/{site}/members", "post"),
        ("/api/sites/{site}/members/{user_id}", "patch"),
        ("/api/sites/{site}/members/{user_id}", "delete"),
    ]:
        assert method in paths.get(path, {}), (method, path)
    overview = paths["/api/analytics/overview"]["get"]
    assert "text/csv" in overview["responses"]["200"]["content"]
    assert {p["name"] for p in overview["parameters"]} >= {"site_id", "from", "to", "tz", "format"}


async def test_dashboard_page_is_served_with_a_strict_policy(client: httpx.AsyncClient) -> None:
    root = await client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/dashboard/"
    page = await client.get("/dashboard/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "/assets/dashboard/js/app.js" in page.text
    script = await client.get("/assets/dashboard/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    anonymous = (await client.get("/api/dashboard/session")).json()
    assert anonymous["user"] is None and anonymous["sites"] == []
    assert set(anonymous["features"]) == {
        "realtime",
        "campaigns",
        "journey",
        "call_status",
        "attribution",
    }
