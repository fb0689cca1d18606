"""Erasing and exporting a person: every table that can name them (found from the catalog,
not a hand-kept list) is searched afterwards, other people are untouched, rollups agree
with the raw data."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace

import asyncpg
import httpx
import pytest

from leadtrail.analytics.rollups import Rollups
from leadtrail.auth.api_keys import create_key
from leadtrail.storage import Database
from tests.conftest import ModuleDatabase, leadtrail_cli
from tests.integration.people_support import Tenant, add_session, make_tenant, resolve_all


@dataclass(frozen=True)
class World:
    """One site's people: A on two devices (tied by e-mail) with a lead and a call, B apart.
    Identifiers are unique per site, so a search of the whole database finds only these."""

    tag: str
    a_sessions: tuple[uuid.UUID, ...] = ()
    b_session: uuid.UUID | None = None

    @property
    def email(self) -> str:
        return f"erase.me.{self.tag}@example.com"

    @property
    def other_email(self) -> str:
        return f"keep.me.{self.tag}@example.com"

    @property
    def phone(self) -> str:
        return f"+1419555{int(self.tag, 16) % 10_000:04d}"

    def fp(self, name: str) -> str:
        return f"fp-{name}-{self.tag}"


async def stored_mentions(owner: asyncpg.Connection, needles: set[str]) -> list[tuple[str, str]]:
    """(table, column) pairs whose stored text contains any needle: every column of every
    table and partition in the public and leadtrail schemas, read from the catalog."""
    columns = await owner.fetch(
        """SELECT n.nspname AS s, c.relname AS t, a.attname AS col,
                  format_type(a.atttypid, a.atttypmod) AS typ
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
           WHERE n.nspname IN ('public', 'leadtrail') AND c.relkind = 'r'"""
    )
    found = []
    for col in columns:
        table = f'"{col["s"]}"."{col["t"]}"'
        if col["typ"] == "bytea":
            expr = f'"{col["col"]}"'
            hit = await owner.fetchval(
                f"SELECT EXISTS (SELECT 1 FROM {table}, unnest($1::bytea[]) n"
                f" WHERE position(n IN {expr}) > 0)",
                [n.encode() for n in needles],
            )
        else:
            hit = await owner.fetchval(
                f"SELECT EXISTS (SELECT 1 FROM {table}, unnest($1::text[]) n"
                f' WHERE strpos("{col["col"]}"::text, n) > 0)',
                sorted(needles),
            )
        if hit:
            found.append((f"{col['s']}.{col['t']}", col["col"]))
    return found


@pytest.fixture
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, f"priv{uuid.uuid4().hex[:6]}", {"default_region": "US"})


async def admin_key(db: Database, tenant: Tenant) -> dict[str, str]:
    async with db.system() as conn:
        key = await create_key(conn, tenant.site_id, name="dpo", scopes=["admin"])
    return {"Authorization": f"Bearer {key.key}"}


async def arrange(client: httpx.AsyncClient, db: Database, tenant: Tenant) -> World:
    w = World(uuid.uuid4().hex[:6])
    email, other_email, phone = w.email, w.other_email, w.phone
    a1 = await add_session(db, tenant.site_id, fingerprint=w.fp("a-laptop"), gclid="GCLID-A")
    a2 = await add_session(db, tenant.site_id, fingerprint=w.fp("a-phone"))
    b1 = await add_session(db, tenant.site_id, fingerprint=w.fp("b-desktop"))
    for sid in (a1, a2):
        r = await client.post(
            "/api/identify",
            headers=tenant.auth(),
            json={"site_id": tenant.public_id, "session_id": str(sid), "email": email},
        )
        assert r.status_code == 200, r.text
    r = await client.post(
        "/api/identify",
        headers=tenant.auth(),
        json={"site_id": tenant.public_id, "session_id": str(b1), "email": other_email},
    )
    assert r.status_code == 200, r.text
    r = await client.post(
        "/api/leads",
        headers=tenant.auth(),
        json={
            "site_id": tenant.public_id,
            "session_id": str(a2),
            "name": "Erin Erase",
            "email": email,
            "phone": phone,
            "message": "call me",
        },
    )
    assert r.status_code in (200, 201), r.text
    r = await client.post(
        "/api/call-event",
        headers=tenant.auth(),
        json={"site_id": tenant.public_id, "phone_number": phone, "fingerprint": w.fp("a-laptop")},
    )
    assert r.status_code in (200, 201), r.text
    await resolve_all(db)
    await Rollups(db).rebuild(tenant.site_id)
    return replace(w, a_sessions=(a1, a2), b_session=b1)


async def rollup_totals(owner: asyncpg.Connection, site_id: uuid.UUID) -> tuple[int, int]:
    rolled = await owner.fetchrow(
        "SELECT coalesce(sum(sessions), 0) AS s, coalesce(sum(page_views), 0) AS v"
        " FROM rollup_daily WHERE site_id = $1",
        site_id,
    )
    return int(rolled["s"]), int(rolled["v"])


async def test_erasure_leaves_no_identifier_anywhere_and_rollups_agree(
    client: httpx.AsyncClient, db: Database, owner: asyncpg.Connection, tenant: Tenant
) -> None:
    world = await arrange(client, db, tenant)
    email, phone = world.email, world.phone
    person = await owner.fetchval(
        "SELECT canonical_user_id FROM identity_links WHERE site_id = $1 AND value = $2",
        tenant.site_id,
        email,
    )
    needles = {
        email,
        phone,
        world.fp("a-laptop"),
        world.fp("a-phone"),
        str(person),
        *map(str, world.a_sessions),
    }
    assert await stored_mentions(owner, needles)  # the search finds them before
    assert await rollup_totals(owner, tenant.site_id) == (3, 9)

    headers = await admin_key(db, tenant)
    r = await client.post(
        "/api/privacy/erase",
        headers=headers,
        json={"site_id": tenant.public_id, "kind": "email", "value": f" {email.title()} "},
    )
    assert r.status_code == 200, r.text
    removed = r.json()["rows_removed"]
    assert removed["sessions"] == 2 and removed["events"] == 6 and removed["leads"] == 1
    assert removed["calls"] == 1 and removed["canonical_users"] >= 1

    assert await stored_mentions(owner, needles) == []
    # the other person is untouched, and the rollups count what is left
    assert (
        await owner.fetchval("SELECT count(*) FROM sessions WHERE site_id = $1", tenant.site_id)
        == 1
    )
    assert await stored_mentions(owner, {world.other_email, world.fp("b-desktop")})
    assert await rollup_totals(owner, tenant.site_id) == (1, 3)

    audit = await client.get(
        "/api/privacy/erasures", headers=headers, params={"site_id": tenant.public_id}
    )
    assert audit.status_code == 200
    [entry] = audit.json()["erasures"]
    assert entry["subject_kind"] == "email" and entry["rows_removed"] == removed
    assert email not in audit.text

    again = await client.post(
        "/api/privacy/erase",
        headers=headers,
        json={"site_id": tenant.public_id, "kind": "email", "value": email},
    )
    assert again.status_code == 404 and again.json()["error"] == "subject_not_found"


async def test_export_holds_every_fact_and_only_that_person(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    world = await arrange(client, db, tenant)
    headers = await admin_key(db, tenant)
    r = await client.get(
        "/api/privacy/export",
        headers=headers,
        params={"site_id": tenant.public_id, "kind": "session", "value": str(world.a_sessions[0])},
    )
    assert r.status_code == 200, r.text
    tables = r.json()["tables"]
    assert {s["id"] for s in tables["sessions"]} == {str(s) for s in world.a_sessions}
    assert len(tables["events"]) == 6
    assert [lead["email"] for lead in tables["leads"]] == [world.email]
    assert len(tables["calls"]) == 1
    assert {link["value"] for link in tables["identity_links"]} >= {
        world.email,
        world.fp("a-laptop"),
    }
    assert world.other_email not in r.text and str(world.b_session) not in r.text


async def test_privacy_requests_need_manage_access_and_a_known_subject(
    client: httpx.AsyncClient, db: Database, tenant: Tenant
) -> None:
    body = {"site_id": tenant.public_id, "kind": "email", "value": "nobody@example.com"}
    for key in (tenant.read_key, tenant.ingest_key):
        r = await client.post("/api/privacy/erase", headers=tenant.auth(key), json=body)
        assert r.status_code == 403, r.text
    headers = await admin_key(db, tenant)
    r = await client.post("/api/privacy/erase", headers=headers, json=body)
    assert r.status_code == 404 and r.json()["error"] == "subject_not_found"
    r = await client.post(
        "/api/privacy/erase", headers=headers, json={**body, "kind": "person", "value": "nope"}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_subject"
    r = await client.get(
        "/api/privacy/export",
        headers=headers,
        params={"site_id": tenant.public_id, "kind": "email", "value": "not-an-email"},
    )
    assert r.status_code == 400


async def test_cli_erases_after_confirmation_and_exports_json(
    client: httpx.AsyncClient,
    db: Database,
    owner: asyncpg.Connection,
    tenant: Tenant,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
) -> None:
    world = await arrange(client, db, tenant)
    phone = world.phone
    code, out, err = await leadtrail_cli(
        test_database, cli_env, "privacy", "export", "--site", tenant.public_id, "phone", phone
    )
    assert code == 0, err
    assert [c["phone_number"] for c in json.loads(out)["tables"]["calls"]] == [phone]

    code, out, err = await leadtrail_cli(
        test_database, cli_env, "privacy", "erase", "--site", tenant.public_id, "phone", phone
    )
    assert code != 0 and "Aborted" in err  # no confirmation on a closed stdin
    code, out, err = await leadtrail_cli(
        test_database,
        cli_env,
        "privacy",
        "erase",
        "--yes",
        "--site",
        tenant.public_id,
        "phone",
        f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}",
    )
    assert code == 0, err
    assert "sessions: 2" in out
    assert await stored_mentions(owner, {phone, world.email}) == []

    code, out, err = await leadtrail_cli(
        test_database,
        cli_env,
        "privacy",
        "erase",
        "--yes",
        "--site",
        tenant.public_id,
        "phone",
        phone,
    )
    assert code == 1 and err.strip() == "error: nothing is stored about that phone"
