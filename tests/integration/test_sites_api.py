"""Site management over HTTP: settings, API keys and members, with role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest

from leadtrail.auth.users import create_user
from leadtrail.sites.service import add_member, create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer

Login = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="module")
async def people(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        owner = await create_user(conn, "olga@example.com", "correct horse")
        admin = await create_user(conn, "adam@example.com", "correct horse")
        viewer = await create_user(conn, "vic@example.com", "correct horse")
        outsider = await create_user(conn, "otto@example.com", "correct horse")
        await create_user(conn, "newbie@example.com", "correct horse")
        site = await create_site(conn, name="Plumbing", domain="plumb.example", owner_id=owner.id)
        await add_member(conn, site.id, admin.id, "admin")
        await add_member(conn, site.id, viewer.id, "viewer")
        foreign = await create_site(
            conn, name="Foreign", domain="foreign.example", owner_id=outsider.id
        )
    return {"site": site, "foreign": foreign, "owner": owner, "admin": admin, "viewer": viewer}


@pytest.fixture
def login(server: LiveServer, people: dict[str, Any]) -> Login:
    @asynccontextmanager
    async def open_as(email: str) -> AsyncIterator[httpx.AsyncClient]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            response = await http.post(
                "/api/auth/login", json={"email": email, "password": "correct horse"}
            )
            assert response.status_code == 200
            yield http

    return open_as


async def test_site_detail_has_defaults_and_snippet(login: Login, people: dict[str, Any]) -> None:
    site = people["site"]
    async with login("vic@example.com") as http:
        body = (await http.get(f"/api/sites/{site.public_id}")).json()
        listed = (await http.get("/api/sites")).json()
    assert body["id"] == str(site.id) and body["role"] == "viewer" and body["access"] == "read"
    assert body["settings"]["scoring"]["conversion"] == 50
    assert body["settings"]["ip_storage"] == "full" and body["settings"]["respect_dnt"] is False
    assert f'data-site-id="{site.public_id}"' in body["snippet"]
    assert [s["id"] for s in listed] == [str(site.id)]


async def test_admin_changes_domain_origins_timezone_and_settings(
    login: Login, people: dict[str, Any], db: Database
) -> None:
    site = people["site"]
    async with login("adam@example.com") as http:
        response = await http.patch(
            f"/api/sites/{site.id}",
            json={
                "domain": "https://WWW.Plumb.example/",
                "allowed_origins": ["shop.plumb.example", "plumb-landing.example"],
                "timezone": "America/Chicago",
                "settings": {
                    "scoring": {"conversion": 70, "hover_intent": 0},
                    "ip_storage": "truncated",
                },
            },
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["domain"] == "www.plumb.example"
        assert body["allowed_origins"] == ["plumb-landing.example", "shop.plumb.example"]
        assert body["timezone"] == "America/Chicago"
        assert body["settings"]["scoring"]["conversion"] == 70
        assert body["settings"]["scoring"]["hover_intent"] == 0
        assert body["settings"]["scoring"]["scroll_90"] == 20
        # weights merge key by key
        again = await http.patch(
            f"/api/sites/{site.id}", json={"settings": {"scoring": {"scroll_90": 30}}}
        )
        assert again.json()["settings"]["scoring"]["conversion"] == 70
    async with db.system() as conn:
        stored = await conn.fetchval("SELECT settings FROM sites WHERE id = $1", site.id)
    assert stored == {
        "scoring": {"conversion": 70, "hover_intent": 0, "scroll_90": 30},
        "ip_storage": "truncated",
    }


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (
            {"settings": {"scoring": {"conversion": 101}}},
            "invalid_setting",
            "settings.scoring.conversion",
        ),
        (
            {"settings": {"scoring": {"conversion": 5.5}}},
            "invalid_setting",
            "settings.scoring.conversion",
        ),
        (
            {"settings": {"scoring": {"shoe_size": 5}}},
            "invalid_setting",
            "settings.scoring.shoe_size",
        ),
        ({"settings": {"ip_storage": "some"}}, "invalid_request", "settings.ip_storage"),
        ({"timezone": "Mars/Base"}, "invalid_timezone", "timezone"),
        ({"domain": "http://x.example/path"}, "invalid_domain", "domain"),
        ({"allowed_origins": ["not a domain"]}, "invalid_domain", "allowed_origins"),
        ({"name": "  "}, "invalid_name", "name"),
    ],
)
async def test_bad_site_changes_are_400(
    login: Login, people: dict[str, Any], body: dict[str, Any], code: str, field: str
) -> None:
    async with login("adam@example.com") as http:
        response = await http.patch(f"/api/sites/{people['site'].id}", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == code and response.json()["field"] == field


async def test_viewer_cannot_change_anything(login: Login, people: dict[str, Any]) -> None:
    site = people["site"].id
    async with login("vic@example.com") as http:
        answers = [
            await http.patch(f"/api/sites/{site}", json={"name": "Mine"}),
            await http.get(f"/api/sites/{site}/keys"),
            await http.post(f"/api/sites/{site}/keys", json={"name": "x"}),
            await http.get(f"/api/sites/{site}/members"),
            await http.post(f"/api/sites/{site}/members", json={"email": "newbie@example.com"}),
        ]
    assert [a.status_code for a in answers] == [403] * 5
    assert {a.json()["error"] for a in answers} == {"insufficient_role"}


async def test_api_keys_create_list_revoke(
    login: Login, people: dict[str, Any], server: LiveServer
) -> None:
    site = people["site"]
    async with login("adam@example.com") as http:
        created = await http.post(
            f"/api/sites/{site.id}/keys", json={"name": "reports", "scopes": ["read"]}
        )
        assert created.status_code == 201
        key = created.json()
        assert key["key"].startswith(key["prefix"] + "_") and key["scopes"] == ["read"]
        listed = (await http.get(f"/api/sites/{site.id}/keys")).json()
        assert [k["prefix"] for k in listed] == [key["prefix"]]
        assert "key" not in listed[0] and listed[0]["revoked_at"] is None
        async with httpx.AsyncClient(base_url=server.url) as bearer:
            headers = {"Authorization": f"Bearer {key['key']}"}
            ok = await bearer.get(
                "/api/analytics/overview", params={"site_id": str(site.id)}, headers=headers
            )
            assert ok.status_code == 200
            revoked = await http.delete(f"/api/sites/{site.id}/keys/{key['id']}")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
            refused = await bearer.get(
                "/api/analytics/overview", params={"site_id": str(site.id)}, headers=headers
            )
            assert refused.status_code == 401
        bad = await http.post(f"/api/sites/{site.id}/keys", json={"scopes": ["root"]})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_scope"
        missing = await http.delete(f"/api/sites/{site.id}/keys/lt_zzzzzzzz")
        assert missing.status_code == 404


async def test_members_add_change_remove(login: Login, people: dict[str, Any]) -> None:
    site = people["site"].id
    async with login("adam@example.com") as http:
        added = await http.post(
            f"/api/sites/{site}/members", json={"email": "NewBie@example.com", "role": "analyst"}
        )
        assert added.status_code == 201, added.text
        newbie = added.json()
        assert newbie["email"] == "newbie@example.com" and newbie["role"] == "analyst"
        twice = await http.post(f"/api/sites/{site}/members", json={"email": "newbie@example.com"})
        assert twice.status_code == 409 and twice.json()["error"] == "member_exists"
        unknown = await http.post(f"/api/sites/{site}/members", json={"email": "ghost@example.com"})
        assert unknown.status_code == 404 and unknown.json()["error"] == "user_not_found"
        members = (await http.get(f"/api/sites/{site}/members")).json()
        assert {m["email"]: m["role"] for m in members} == {
            "olga@example.com": "owner",
            "adam@example.com": "admin",
            "vic@example.com": "viewer",
            "newbie@example.com": "analyst",
        }
        changed = await http.patch(
            f"/api/sites/{site}/members/{newbie['user_id']}", json={"role": "viewer"}
        )
        assert changed.json()["role"] == "viewer"
        # an admin may not hand out or take away ownership
        promote = await http.patch(
            f"/api/sites/{site}/members/{newbie['user_id']}", json={"role": "owner"}
        )
        assert promote.status_code == 403 and promote.json()["error"] == "owner_only"
        owner_id = people["owner"].id
        demote = await http.delete(f"/api/sites/{site}/members/{owner_id}")
        assert demote.status_code == 403
        removed = await http.delete(f"/api/sites/{site}/members/{newbie['user_id']}")
        assert removed.status_code == 204
        gone = await http.delete(f"/api/sites/{site}/members/{newbie['user_id']}")
        assert gone.status_code == 404 and gone.json()["error"] == "member_not_found"


async def test_the_last_owner_stays(login: Login, people: dict[str, Any]) -> None:
    site = people["site"].id
    owner_id = people["owner"].id
    async with login("olga@example.com") as http:
        alone = await http.patch(f"/api/sites/{site}/members/{owner_id}", json={"role": "admin"})
        assert alone.status_code == 409 and alone.json()["error"] == "last_owner"
        leave = await http.delete(f"/api/sites/{site}/members/{owner_id}")
        assert leave.status_code == 409
        promote = await http.patch(
            f"/api/sites/{site}/members/{people['admin'].id}", json={"role": "owner"}
        )
        assert promote.status_code == 200
        step_down = await http.patch(
            f"/api/sites/{site}/members/{owner_id}", json={"role": "admin"}
        )
        assert step_down.status_code == 200
