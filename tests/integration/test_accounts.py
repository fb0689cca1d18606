"""Accounts without a terminal: password changes, invitation and reset links, deleting
accounts and sites, through real HTTP with real dashboard logins."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer, ModuleDatabase, leadtrail_cli
from tests.integration.people_support import add_session

PASSWORD = "correct horse battery"


async def login(server: LiveServer, email: str, password: str = PASSWORD) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=server.url, timeout=30)
    r = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return client


@pytest.fixture
async def admin(db: Database, server: LiveServer) -> httpx.AsyncClient:
    async with db.system() as conn:
        user = await create_user(
            conn, f"root-{uuid.uuid4().hex[:6]}@example.com", PASSWORD, is_superuser=True
        )
    client = await login(server, user.email)
    yield client
    await client.aclose()


async def test_change_password_ends_other_sessions(db: Database, server: LiveServer) -> None:
    email = f"u-{uuid.uuid4().hex[:6]}@example.com"
    async with db.system() as conn:
        await create_user(conn, email, PASSWORD)
    first, second = await login(server, email), await login(server, email)
    try:
        wrong = await first.post(
            "/api/auth/password",
            json={
                "current_password": "Wrong guess entirely 11",
                "new_password": "Amber tidal orchard 93",
            },
        )
        assert wrong.status_code == 400 and wrong.json()["error"] == "wrong_password"
        weak = await first.post(
            "/api/auth/password", json={"current_password": PASSWORD, "new_password": "short"}
        )
        assert weak.status_code == 400 and weak.json()["error"] == "weak_password"
        ok = await first.post(
            "/api/auth/password",
            json={"current_password": PASSWORD, "new_password": "Amber tidal orchard 93"},
        )
        assert ok.status_code == 200
        assert (await second.get("/api/auth/me")).status_code == 401  # the other session ended
        assert (await first.get("/api/auth/me")).status_code == 401  # and this one: log in again
        again = await login(server, email, "Amber tidal orchard 93")
        await again.aclose()
    finally:
        await first.aclose()
        await second.aclose()


async def test_invitation_link_sets_the_password_once(
    db: Database, server: LiveServer, admin: httpx.AsyncClient
) -> None:
    email = f"new-{uuid.uuid4().hex[:6]}@example.com"
    r = await admin.post("/api/users", json={"email": email, "name": "New Person"})
    assert r.status_code == 201, r.text
    link = r.json()["link"]
    assert link.startswith(server.url + "/accept#token=")
    token = link.split("token=", 1)[1]

    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        refused = await anonymous.post(
            "/api/auth/login", json={"email": email, "password": "!invited"}
        )
        assert refused.status_code == 401  # no usable password before the link is used
        used = await anonymous.post(
            "/api/auth/accept", json={"token": token, "password": "Silver maple compass 26"}
        )
        assert used.status_code == 200 and used.json()["email"] == email
        twice = await anonymous.post(
            "/api/auth/accept", json={"token": token, "password": "Crimson falcon delta 44"}
        )
        assert twice.status_code == 400 and twice.json()["error"] == "invalid_link"
    client = await login(server, email, "Silver maple compass 26")
    await client.aclose()

    listed = (await admin.get("/api/users")).json()["users"]
    assert [u["invited"] for u in listed if u["email"] == email] == [False]
    dup = await admin.post("/api/users", json={"email": email})
    assert dup.status_code == 409 and dup.json()["error"] == "user_exists"


async def test_site_admins_invite_into_their_site_only(db: Database, server: LiveServer) -> None:
    email = f"siteadmin-{uuid.uuid4().hex[:6]}@example.com"
    async with db.system() as conn:
        user = await create_user(conn, email, PASSWORD)
        mine = await create_site(conn, name="Mine", domain="mine.example", owner_id=user.id)
        other = await create_site(conn, name="Other", domain="other.example")
    client = await login(server, email)
    try:
        invited = f"colleague-{uuid.uuid4().hex[:6]}@example.com"
        r = await client.post(
            "/api/users", json={"email": invited, "site_id": mine.public_id, "role": "analyst"}
        )
        assert r.status_code == 201, r.text
        members = await client.get(f"/api/sites/{mine.public_id}/members")
        assert {m["email"]: m["role"] for m in members.json()}[invited] == "analyst"
        r = await client.post(
            "/api/users", json={"email": "x@example.com", "site_id": other.public_id}
        )
        assert r.status_code == 404  # another tenant's site: not even its existence
        r = await client.post("/api/users", json={"email": "y@example.com"})
        assert r.status_code == 400
        assert (await client.get("/api/users")).json()["error"] == "superuser_required"
    finally:
        await client.aclose()


async def test_reset_link_and_account_deletion(
    db: Database, server: LiveServer, admin: httpx.AsyncClient
) -> None:
    email = f"forgetful-{uuid.uuid4().hex[:6]}@example.com"
    async with db.system() as conn:
        user = await create_user(conn, email, PASSWORD)
    session = await login(server, email)
    r = await admin.post(f"/api/users/{user.id}/reset-link")
    assert r.status_code == 200 and r.json()["purpose"] == "reset"
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        token = r.json()["link"].split("token=", 1)[1]
        assert (
            await anonymous.post(
                "/api/auth/accept", json={"token": token, "password": "Golden prairie beacon 15"}
            )
        ).status_code == 200
    assert (await session.get("/api/auth/me")).status_code == 401  # a reset ends sessions
    await session.aclose()

    assert (await admin.delete(f"/api/users/{user.id}")).status_code == 204
    assert (await admin.delete(f"/api/users/{user.id}")).status_code == 404
    me = (await admin.get("/api/auth/me")).json()
    r = await admin.delete(f"/api/users/{me['id']}")
    assert r.status_code == 409 and r.json()["error"] == "cannot_delete_self"


async def test_create_and_delete_a_site_with_its_data(
    db: Database, server: LiveServer, admin: httpx.AsyncClient, owner: asyncpg.Connection
) -> None:
    r = await admin.post("/api/sites", json={"name": "Doomed", "domain": "doomed.example"})
    assert r.status_code == 201, r.text
    site = r.json()
    keep = await create_site_with_session(db)
    await add_session(db, uuid.UUID(site["id"]), fingerprint="doomed-fp", events=4)

    wrong = await admin.post(f"/api/sites/{site['public_id']}/delete", json={"confirm": "nope"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "confirmation_mismatch"
    done = await admin.post(
        f"/api/sites/{site['public_id']}/delete", json={"confirm": site["public_id"]}
    )
    assert done.status_code == 200, done.text
    assert done.json()["rows_removed"]["events"] == 4
    for table in ("sites", "sessions", "events", "site_members"):
        column = "id" if table == "sites" else "site_id"
        assert (
            await owner.fetchval(
                f"SELECT count(*) FROM {table} WHERE {column} = $1", uuid.UUID(site["id"])
            )
            == 0
        )
    assert await owner.fetchval("SELECT count(*) FROM sessions WHERE site_id = $1", keep) == 1


async def create_site_with_session(db: Database) -> uuid.UUID:
    async with db.system() as conn:
        other = await create_site(conn, name="Kept", domain=f"kept{uuid.uuid4().hex[:4]}.example")
    await add_session(db, other.id, fingerprint="kept-fp")
    return other.id


async def test_cli_reset_a_lost_password_create_with_region_and_delete_a_site(
    db: Database,
    server: LiveServer,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
    owner: asyncpg.Connection,
) -> None:
    email = f"lost-{uuid.uuid4().hex[:6]}@example.com"
    async with db.system() as conn:
        await create_user(conn, email, PASSWORD, is_superuser=True)
    code, out, err = await leadtrail_cli(
        test_database,
        cli_env,
        "users",
        "set-password",
        email,
        "--password",
        "Violet harbor lantern 71",
    )
    assert code == 0, err
    assert out.strip() == f"password set for {email}"
    client = await login(server, email, "Violet harbor lantern 71")
    await client.aclose()
    code, _, err = await leadtrail_cli(
        test_database,
        cli_env,
        "users",
        "set-password",
        "nobody@example.com",
        "--password",
        "Quiet copper meadow 58",
    )
    assert code == 1 and err.strip() == "error: no account with email nobody@example.com"

    public_id = f"cli_{uuid.uuid4().hex[:6]}"
    code, out, err = await leadtrail_cli(
        test_database,
        cli_env,
        "sites",
        "create",
        "Shop",
        "--domain",
        "shop.example",
        "--public-id",
        public_id,
        "--phone-region",
        "us",
        "--currency",
        "eur",
    )
    assert code == 0, err
    stored = await owner.fetchrow(
        "SELECT settings->>'default_region' AS region, settings->>'currency' AS currency"
        " FROM sites WHERE public_id = $1",
        public_id,
    )
    assert (stored["region"], stored["currency"]) == ("US", "EUR")
    code, _, err = await leadtrail_cli(
        test_database,
        cli_env,
        "sites",
        "create",
        "Bad",
        "--domain",
        "bad.example",
        "--phone-region",
        "USA",
    )
    assert code == 1 and "default_region" in err

    code, _, err = await leadtrail_cli(test_database, cli_env, "sites", "delete", public_id)
    assert code != 0 and "Aborted" in err
    code, out, err = await leadtrail_cli(
        test_database, cli_env, "sites", "delete", public_id, "--yes"
    )
    assert code == 0, err
    assert out.startswith(f"deleted site {public_id}")
    assert await owner.fetchval("SELECT count(*) FROM sites WHERE public_id = $1", public_id) == 0
