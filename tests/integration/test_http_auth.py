"""Health probes, JSON errors, dashboard login and API keys over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from leadtrail.auth.api_keys import create_key, revoke_key
from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database


@pytest.fixture(scope="module")
async def accounts(db: Database) -> dict[str, object]:
    async with db.system() as conn:
        alice = await create_user(conn, "Alice@Example.com", "correct horse")
        bob = await create_user(conn, "bob@example.com", "battery staple")
        site_a = await create_site(conn, name="A", domain="a.example", owner_id=alice.id)
        site_b = await create_site(conn, name="B", domain="b.example", owner_id=bob.id)
        key = await create_key(conn, site_a.id, name="server", scopes=["read"])
        revoked = await create_key(conn, site_a.id, name="old", scopes=["read"])
        await revoke_key(conn, site_a.id, revoked.prefix)
        expired = await create_key(
            conn,
            site_a.id,
            name="exp",
            scopes=["read"],
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        )
    return {
        "alice": alice,
        "site_a": site_a,
        "site_b": site_b,
        "key": key.key,
        "revoked": revoked.key,
        "expired": expired.key,
    }


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_openapi_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert "/readyz" in (await client.get("/openapi.json")).json()["paths"]


async def test_login_sets_a_safe_cookie_and_me_lists_only_own_sites(
    client: httpx.AsyncClient, accounts: dict[str, object]
) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "correct horse"}
    )
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    me = (await client.get("/api/auth/me")).json()
    assert me["kind"] == "user"
    assert [s["public_id"] for s in me["sites"]] == [accounts["site_a"].public_id]  # type: ignore[attr-defined]
    assert me["sites"][0]["role"] == "owner"

    await client.post("/api/auth/logout")
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_bad_logins_look_alike(
    client: httpx.AsyncClient, accounts: dict[str, object]
) -> None:
    wrong_password = await client.post(
        "/api/auth/login", json={"email": "alice@example.com", "password": "nope nope"}
    )
    unknown_user = await client.post(
        "/api/auth/login", json={"email": "zed@example.com", "password": "nope nope"}
    )
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert wrong_password.json() == unknown_user.json()
    missing = await client.post("/api/auth/login", json={"email": "x@y.z"})
    assert missing.status_code == 400 and missing.json()["field"] == "password"


async def test_forged_cookie_is_rejected(
    client: httpx.AsyncClient, accounts: dict[str, object]
) -> None:
    client.cookies.set("leadtrail_session", "forged.value.here")
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_api_key_bearer(client: httpx.AsyncClient, accounts: dict[str, object]) -> None:
    ok = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {accounts['key']}"})
    assert ok.status_code == 200
    assert [s["public_id"] for s in ok.json()["sites"]] == [accounts["site_a"].public_id]  # type: ignore[attr-defined]

    answers = []
    for key in (accounts["revoked"], accounts["expired"], "lt_aaaaaaaa_" + "A" * 32, "garbage"):
        response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {key}"})
        answers.append((response.status_code, response.json()))
    assert all(a == (401, answers[0][1]) for a in answers)
    assert answers[0][1]["error"] == "invalid_api_key"


async def test_api_key_use_is_recorded(
    db: Database, client: httpx.AsyncClient, accounts: dict[str, object]
) -> None:
    await client.get("/api/auth/me", headers={"Authorization": f"Bearer {accounts['key']}"})
    async with db.system() as conn:
        used = await conn.fetchval("SELECT last_used_at FROM api_keys WHERE name = 'server'")
    assert used is not None
