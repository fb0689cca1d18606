"""Tenant isolation in plain SQL, as the request path runs it: logged in as leadtrail_app,
switched per transaction into a role with claims."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date

import asyncpg
import pytest

from leadtrail.storage import Claims, DbRole
from tests.conftest import ModuleDatabase

MONTH = date.today().replace(day=1)


@pytest.fixture(scope="module")
async def tenants(test_database: ModuleDatabase) -> dict[str, uuid.UUID]:
    """Two sites with a session and an event each, written by the owner."""
    conn = await asyncpg.connect(test_database.owner_dsn)
    ids: dict[str, uuid.UUID] = {}
    try:
        for name in ("a", "b"):
            site = await conn.fetchval(
                "INSERT INTO sites (public_id, name, domain) VALUES ($1, $1, $2) RETURNING id",
                f"site_{name}",
                f"{name}.example.com",
            )
            session = uuid.uuid4()
            await conn.execute(
                "INSERT INTO sessions (site_id, id, created_month) VALUES ($1, $2, $3)",
                site,
                session,
                MONTH,
            )
            await conn.execute(
                """INSERT INTO events (site_id, session_id, session_month, url, event_category, event_action)
                   VALUES ($1, $2, $3, 'https://x/', 'interaction', 'view')""",
                site,
                session,
                MONTH,
            )
            ids[name] = site
    finally:
        await conn.close()
    return ids


@pytest.fixture
async def app_conn(test_database: ModuleDatabase) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(test_database.app_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def select_as(
    conn: asyncpg.Connection, claims: Claims | None, sql: str
) -> list[asyncpg.Record]:
    async with conn.transaction():
        if claims is not None:
            await conn.execute(claims.set_local_sql())
        return await conn.fetch(sql)


async def test_user_sees_only_own_sites_rows(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    claims = Claims(role=DbRole.ANALYST, sub=str(uuid.uuid4()), site_ids=(tenants["a"],))
    for table, column in (("sites", "id"), ("sessions", "site_id"), ("events", "site_id")):
        rows = await select_as(app_conn, claims, f"SELECT {column} AS site FROM {table}")
        assert {r["site"] for r in rows} == {tenants["a"]}, table


async def test_user_of_two_sites_sees_both(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    claims = Claims(role=DbRole.ANALYST, site_ids=(tenants["a"], tenants["b"]))
    rows = await select_as(app_conn, claims, "SELECT DISTINCT site_id FROM events")
    assert {r["site_id"] for r in rows} == {tenants["a"], tenants["b"]}


async def test_filtering_for_another_site_returns_nothing(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    claims = Claims(role=DbRole.ANALYST, site_ids=(tenants["a"],))
    rows = await select_as(
        app_conn, claims, f"SELECT * FROM sessions WHERE site_id = '{tenants['b']}'"
    )
    assert rows == []


@pytest.mark.parametrize("table", ["sites", "sessions", "events", "api_keys"])
async def test_no_claims_means_nothing_visible(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID], table: str
) -> None:
    async with app_conn.transaction():
        await app_conn.execute("SET LOCAL ROLE leadtrail_analyst")
        assert await app_conn.fetch(f"SELECT * FROM {table}") == []
        await app_conn.execute("SET LOCAL request.jwt.claims = ''")
        assert await app_conn.fetch(f"SELECT * FROM {table}") == []


async def test_ingest_role_cannot_select(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    claims = Claims(role=DbRole.INGEST, site_ids=(tenants["a"],))
    for table in ("sessions", "events", "sites"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await select_as(app_conn, claims, f"SELECT * FROM {table}")


async def test_ingest_role_inserts_only_for_its_sites(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    claims = Claims(role=DbRole.INGEST, site_ids=(tenants["a"],))
    insert = "INSERT INTO sessions (site_id, id, created_month) VALUES ($1, $2, $3)"
    async with app_conn.transaction():
        await app_conn.execute(claims.set_local_sql())
        await app_conn.execute(insert, tenants["a"], uuid.uuid4(), MONTH)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with app_conn.transaction():
            await app_conn.execute(claims.set_local_sql())
            await app_conn.execute(insert, tenants["b"], uuid.uuid4(), MONTH)


@pytest.mark.parametrize("table", ["sites", "sessions", "events", "app_users"])
async def test_anon_sees_nothing(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID], table: str
) -> None:
    # Even with site ids in its claims, anon has no privilege on any table.
    claims = Claims(role=DbRole.ANON, site_ids=(tenants["a"],))
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await select_as(app_conn, claims, f"SELECT * FROM {table}")


async def test_app_login_without_role_switch_has_no_privileges(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    assert (
        await app_conn.fetchval(
            "SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user"
        )
        is False
    )
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await app_conn.fetch("SELECT * FROM events")
    # Leaving a switched role goes back to leadtrail_app, never to the owner.
    async with app_conn.transaction():
        await app_conn.execute("SET LOCAL ROLE leadtrail_admin")
        await app_conn.execute("RESET ROLE")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app_conn.fetch("SELECT * FROM events")


async def test_partitions_cannot_be_read_directly(
    app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    claims = Claims(role=DbRole.ADMIN, site_ids=(tenants["a"], tenants["b"]))
    partition = f"events_{MONTH:%Y_%m}"
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await select_as(app_conn, claims, f"SELECT * FROM {partition}")


async def test_policies_have_no_subqueries(test_database: ModuleDatabase) -> None:
    conn = await asyncpg.connect(test_database.owner_dsn)
    try:
        rows = await conn.fetch("SELECT tablename, policyname, qual, with_check FROM pg_policies")
        untouched = await conn.fetch(
            """
            SELECT n.nspname || '.' || c.relname AS relname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p')
              AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
              AND (n.nspname = 'public'
                   OR (n.nspname = 'leadtrail' AND EXISTS (
                       SELECT 1 FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attname = 'site_id'
                         AND NOT a.attisdropped)))
            """
        )
    finally:
        await conn.close()
    assert rows
    for row in rows:
        text = f"{row['qual']} {row['with_check']}".lower()
        assert "select" not in text, (row["tablename"], row["policyname"], text)
    assert [r["relname"] for r in untouched] == []


async def test_writer_drains_only_its_sites_people_marks(
    test_database: ModuleDatabase, app_conn: asyncpg.Connection, tenants: dict[str, uuid.UUID]
) -> None:
    """The resolver drains ``people_dirty`` as the writer: one site's pass leaves the
    other site's marks alone."""
    owner = await asyncpg.connect(test_database.owner_dsn)
    try:
        for site in tenants.values():
            await owner.execute(
                "INSERT INTO leadtrail.people_dirty (site_id, canonical_user_id) VALUES ($1, $2)",
                site,
                uuid.uuid4(),
            )
        claims = Claims(role=DbRole.WRITER, sub="test", site_ids=(tenants["a"],))
        drained = await select_as(
            app_conn, claims, "DELETE FROM leadtrail.people_dirty RETURNING site_id"
        )
        left = await owner.fetch("SELECT site_id FROM leadtrail.people_dirty")
    finally:
        await owner.close()
    assert [r["site_id"] for r in drained] == [tenants["a"]]
    assert [r["site_id"] for r in left] == [tenants["b"]]
