"""The hub's in-process decision gives the same answer as PostgreSQL's RLS: for every
(subscriber, row) pair, "may receive" == "a SELECT under the subscriber's claims returns it"."""

from __future__ import annotations

from uuid import UUID, uuid4

import httpx

from leadtrail.auth.api_keys import create_key
from leadtrail.realtime.service import Realtime
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.realtime.conftest import Tenants, insert_call, insert_event, this_month

TABLES = ("events", "sessions", "calls", "leads", "canonical_users")


async def _rows(db: Database, sites: list[UUID]) -> list[tuple[str, UUID, UUID]]:
    rows: list[tuple[str, UUID, UUID]] = []
    async with db.system() as conn:
        for site in sites:
            rows.append(("events", site, await insert_event(conn, site)))
            rows.append(("calls", site, await insert_call(conn, site)))
            session_id, lead_id, person_id = uuid4(), uuid4(), uuid4()
            await conn.execute(
                "INSERT INTO sessions (site_id, id, created_month) VALUES ($1, $2, $3)",
                site,
                session_id,
                this_month(),
            )
            await conn.execute("INSERT INTO leads (site_id, id) VALUES ($1, $2)", site, lead_id)
            await conn.execute(
                "INSERT INTO canonical_users (site_id, id) VALUES ($1, $2)", site, person_id
            )
            rows += [
                ("sessions", site, session_id),
                ("leads", site, lead_id),
                ("canonical_users", site, person_id),
            ]
    return rows


async def test_in_process_decision_matches_select_under_the_claims(
    db: Database, server: LiveServer, tenants: Tenants
) -> None:
    realtime = server.app.state.services.realtime  # type: ignore[attr-defined]
    assert isinstance(realtime, Realtime)
    async with db.system() as conn:
        site_c = (await create_site(conn, name="C", domain="c.example")).id
        admin_key_c = (await create_key(conn, site_c, name="adm", scopes=["admin"])).key
    session_token = await _login(server, tenants)
    viewers = {
        "key A": await realtime.authenticate(tenants.key_a),
        "key B": await realtime.authenticate(tenants.key_b),
        "admin key C": await realtime.authenticate(admin_key_c),
        "user A+B": await realtime.authenticate(session_token),
    }
    assert await realtime.authenticate(tenants.ingest_key_a) is None  # may write, not watch
    rows = await _rows(db, [tenants.site_a, tenants.site_b, site_c])
    checked = 0
    for name, viewer in viewers.items():
        assert viewer is not None, name
        for table, site, row_id in rows:
            assert table in TABLES
            async with db.transaction(viewer.claims) as conn:
                visible = await conn.fetchval(
                    f"SELECT EXISTS (SELECT 1 FROM {table} WHERE site_id = $1 AND id = $2)",
                    site,
                    row_id,
                )
            decided = realtime.hub.access.allows(viewer, table, str(site))
            assert decided == visible, (name, table, site)
            checked += 1
    assert checked == len(viewers) * len(rows) == 4 * 15


async def _login(server: LiveServer, tenants: Tenants) -> str:
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post(
            "/api/auth/login", json={"email": tenants.user_email, "password": tenants.user_password}
        )
        assert response.status_code == 200
        return response.cookies["leadtrail_session"]
