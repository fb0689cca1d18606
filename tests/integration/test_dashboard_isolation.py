"""A user of site A reaches no report, export, live read or setting of site B: every such
request answers 404 exactly as for a site that does not exist, and B's rows never show up
in A's answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from leadtrail.analytics.rollups import Rollups
from leadtrail.auth.api_keys import create_key
from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.analytics_world import populate

UTC = ZoneInfo("UTC")


@pytest.fixture(scope="module")
async def tenants(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        alice = await create_user(conn, "alice@a.example", "correct horse")
        bob = await create_user(conn, "bob@b.example", "correct horse")
        site_a = await create_site(conn, name="A", domain="a.example", owner_id=alice.id)
        site_b = await create_site(conn, name="B", domain="b.example", owner_id=bob.id)
        await populate(conn, site_a.id, UTC, seed=1, count=40, days=5)
        world_b = await populate(conn, site_b.id, UTC, seed=2, count=40, days=5)
        b_session = world_b.sessions[0].id
        await conn.execute(
            "INSERT INTO events (site_id, session_id, session_month, url, event_category, event_action) "
            "VALUES ($1, $2, date_trunc('month', now() AT TIME ZONE 'UTC'), 'https://b.example/secret', 'interaction', 'page_view')",
            site_b.id,
            b_session,
        )
        b_key = await create_key(conn, site_b.id, name="b", scopes=["read"])
        a_admin_key = await create_key(conn, site_a.id, name="a", scopes=["admin"])
    await Rollups(db).run_once()
    return {
        "a": site_a,
        "b": site_b,
        "b_session": b_session,
        "b_key": b_key,
        "a_admin_key": a_admin_key.key,
        "bob": bob,
    }


@pytest.fixture
async def alice(server: LiveServer, tenants: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        ok = await http.post(
            "/api/auth/login", json={"email": "alice@a.example", "password": "correct horse"}
        )
        assert ok.status_code == 200
        yield http


def requests_for(site: str, tenants: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every site-scoped read and write the dashboard API offers, aimed at ``site``."""
    q = {"site_id": site}
    key = tenants["b_key"]
    member = tenants["bob"].id
    out: list[tuple[str, str, dict[str, Any]]] = []
    for fmt in ("json", "csv"):
        out += [
            ("GET", "/api/analytics/overview", {"params": {**q, "format": fmt}}),
            ("GET", "/api/analytics/funnel", {"params": {**q, "format": fmt}}),
            ("GET", "/api/analytics/breakdown/country", {"params": {**q, "format": fmt}}),
            (
                "GET",
                "/api/analytics/breakdown/city",
                {"params": {**q, "format": fmt, "country": "US"}},
            ),
            ("GET", "/api/analytics/sessions", {"params": {**q, "format": fmt}}),
        ]
    out += [
        ("GET", "/api/live/events", {"params": q}),
        ("GET", "/api/live/calls", {"params": q}),
        ("GET", f"/api/live/sessions/{tenants['b_session']}/events", {"params": q}),
        ("GET", f"/api/sites/{site}", {}),
        ("PATCH", f"/api/sites/{site}", {"json": {"name": "pwned"}}),
        ("GET", f"/api/sites/{site}/keys", {}),
        ("POST", f"/api/sites/{site}/keys", {"json": {"name": "x", "scopes": ["admin"]}}),
        ("DELETE", f"/api/sites/{site}/keys/{key.id}", {}),
        ("GET", f"/api/sites/{site}/members", {}),
        ("POST", f"/api/sites/{site}/members", {"json": {"email": "alice@a.example"}}),
        ("PATCH", f"/api/sites/{site}/members/{member}", {"json": {"role": "viewer"}}),
        ("DELETE", f"/api/sites/{site}/members/{member}", {}),
    ]
    return out


@pytest.mark.parametrize("ref", ["id", "public_id"])
async def test_site_b_is_not_found_for_a_user_of_site_a(
    alice: httpx.AsyncClient, tenants: dict[str, Any], ref: str
) -> None:
    site_b = str(getattr(tenants["b"], ref))
    missing = str(uuid.uuid4()) if ref == "id" else "site_doesnotexist"
    for method, path, kwargs in requests_for(site_b, tenants):
        answer = await alice.request(method, path, **kwargs)
        ghost = await alice.request(
            method,
            path.replace(site_b, missing),
            **{k: ({**v, "site_id": missing} if k == "params" else v) for k, v in kwargs.items()},
        )
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json() == ghost.json(), (method, path)  # nothing tells B exists
        assert "b.example" not in answer.text


async def test_an_admin_key_of_site_a_cannot_reach_site_b(
    server: LiveServer, tenants: dict[str, Any]
) -> None:
    headers = {"Authorization": f"Bearer {tenants['a_admin_key']}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        for method, path, kwargs in requests_for(str(tenants["b"].id), tenants):
            answer = await http.request(method, path, **kwargs)
            assert answer.status_code == 404, (method, path, answer.text)


async def test_site_a_answers_hold_none_of_site_bs_rows(
    alice: httpx.AsyncClient, tenants: dict[str, Any], db: Database
) -> None:
    site_a = str(tenants["a"].id)
    overview = (await alice.get("/api/analytics/overview", params={"site_id": site_a})).json()
    assert overview["totals"]["sessions"] <= 40
    events = (await alice.get("/api/live/events", params={"site_id": site_a})).json()["events"]
    assert all("b.example" not in e["url"] for e in events)
    # B's session id through A's site: not found, never B's events
    leaked = await alice.get(
        f"/api/live/sessions/{tenants['b_session']}/events", params={"site_id": site_a}
    )
    assert leaked.status_code == 404
    sessions = (
        await alice.get("/api/analytics/sessions", params={"site_id": site_a, "limit": 1000})
    ).json()
    async with db.system() as conn:
        own = {
            str(r["id"])
            for r in await conn.fetch("SELECT id FROM sessions WHERE site_id = $1", tenants["a"].id)
        }
    assert {r["id"] for r in sessions["rows"]} <= own
    me = (await alice.get("/api/dashboard/session")).json()
    assert [s["id"] for s in me["sites"]] == [site_a]
    assert [s["id"] for s in (await alice.get("/api/sites")).json()] == [site_a]
