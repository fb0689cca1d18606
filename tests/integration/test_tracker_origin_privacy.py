"""The three endpoints the tracker calls without a key (/api/sync, and /api/leads and
/api/identify in tracker mode) treat origins and Do-Not-Track / GPC the same way."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from leadtrail.storage import Database
from tests.integration.people_support import Tenant, add_session, fetch, make_tenant, session_token

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
OPT_OUT = [{"DNT": "1"}, {"Sec-GPC": "1"}]


@pytest.fixture(scope="module")
async def tenants(db: Database) -> dict[str, Tenant]:
    return {
        "open": await make_tenant(db, "open-site"),
        "private": await make_tenant(db, "private-site", {"respect_dnt": True}),
    }


def sync_body(t: Tenant, sid: uuid.UUID) -> bytes:
    return orjson.dumps(
        {"s": t.public_id, "u": f"https://{t.domain}/", "sid": str(sid), "ec": "acquisition",
         "ea": "view", "eid": uuid.uuid4().hex}
    )  # fmt: skip


def lead_body(t: Tenant, sid: uuid.UUID) -> bytes:
    return orjson.dumps(
        {
            "s": t.public_id,
            "sid": str(sid),
            "k": session_token(t.site_id, sid),
            "eid": uuid.uuid4().hex,
            "email": "a@example.com",
        }
    )


def identify_body(t: Tenant, sid: uuid.UUID) -> bytes:
    return orjson.dumps(
        {"s": t.public_id, "sid": str(sid), "k": session_token(t.site_id, sid),
         "email": f"{sid.hex}@example.com"}
    )  # fmt: skip


BODIES = {"/api/sync": sync_body, "/api/leads": lead_body, "/api/identify": identify_body}


async def post(
    client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        path,
        content=body,
        headers={
            "content-type": "text/plain",
            "user-agent": CHROME,
            "x-forwarded-for": f"198.51.100.{uuid.uuid4().int % 250 + 1}",
            **headers,
        },
    )


async def stored(db: Database, path: str, t: Tenant, sid: uuid.UUID) -> int:
    """Rows the request left behind: events, leads, or identity links of its session."""
    sql = {
        "/api/sync": "SELECT count(*) AS n FROM events WHERE site_id = $1 AND session_id = $2",
        "/api/leads": "SELECT count(*) AS n FROM leads WHERE site_id = $1 AND session_id = $2",
        # the email identify_body sends
        "/api/identify": """SELECT count(*) AS n FROM identity_links
                            WHERE site_id = $1 AND kind = 'email'
                              AND value = replace($2::text, '-', '') || '@example.com'""",
    }[path]
    return int((await fetch(db, sql, t.site_id, str(sid)))[0]["n"])


async def session_for(db: Database, path: str, t: Tenant) -> uuid.UUID:
    """/api/sync makes its own session; leads and identify attach to an existing one."""
    if path == "/api/sync":
        return uuid.uuid4()
    return await add_session(db, t.site_id, fingerprint="fp-" + uuid.uuid4().hex)


@pytest.mark.parametrize("path", sorted(BODIES))
async def test_origin_null_is_refused_like_a_foreign_origin(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient, path: str
) -> None:
    t = tenants["open"]
    sid = await session_for(db, path, t)
    for origin in ("null", "https://evil.example"):
        refused = await post(client, path, BODIES[path](t, sid), {"Origin": origin})
        assert refused.status_code == 403, (origin, refused.text)
        assert refused.json()["error"] == "origin_not_allowed"
        assert "access-control-allow-origin" not in refused.headers
    assert await stored(db, path, t, sid) == 0
    ok = await post(client, path, BODIES[path](t, sid), {"Origin": f"https://www.{t.domain}"})
    assert ok.status_code in (200, 201), ok.text
    assert ok.headers["access-control-allow-origin"] == f"https://www.{t.domain}"
    assert await stored(db, path, t, sid) == 1


async def test_sync_without_origin_is_a_server_and_is_accepted(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    t = tenants["open"]
    sid = uuid.uuid4()
    assert (await post(client, "/api/sync", sync_body(t, sid), {})).status_code == 200
    assert await stored(db, "/api/sync", t, sid) == 1


@pytest.mark.parametrize("path", ["/api/leads", "/api/identify"])
async def test_tracker_mode_without_origin_is_refused(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient, path: str
) -> None:
    """Without a key only a browser may call these; servers use the key mode."""
    t = tenants["open"]
    sid = await session_for(db, path, t)
    refused = await post(client, path, BODIES[path](t, sid), {})
    assert refused.status_code == 403 and refused.json()["error"] == "origin_not_allowed"


@pytest.mark.parametrize("signal", OPT_OUT, ids=["dnt", "gpc"])
@pytest.mark.parametrize("path", sorted(BODIES))
async def test_do_not_track_is_honoured_alike_when_the_site_says_so(
    db: Database,
    tenants: dict[str, Tenant],
    client: httpx.AsyncClient,
    path: str,
    signal: dict[str, str],
) -> None:
    private, open_site = tenants["private"], tenants["open"]
    sid = await session_for(db, path, private)
    origin = {"Origin": f"https://{private.domain}"}
    dropped = await post(client, path, BODIES[path](private, sid), {**origin, **signal})
    assert dropped.status_code == 202, dropped.text
    assert dropped.json() == {"status": "ignored", "reason": "dnt"}
    assert dropped.headers["access-control-allow-origin"] == origin["Origin"]
    assert await stored(db, path, private, sid) == 0
    # Without the signal the same site stores; a site without the setting stores either way.
    kept = await post(client, path, BODIES[path](private, sid), origin)
    assert kept.status_code in (200, 201) and await stored(db, path, private, sid) == 1
    other = await session_for(db, path, open_site)
    headers: dict[str, Any] = {"Origin": f"https://{open_site.domain}", **signal}
    stored_anyway = await post(client, path, BODIES[path](open_site, other), headers)
    assert stored_anyway.status_code in (200, 201), stored_anyway.text
    assert await stored(db, path, open_site, other) == 1


@pytest.mark.parametrize("path", ["/api/leads", "/api/identify"])
async def test_server_mode_is_the_servers_decision(
    db: Database, tenants: dict[str, Tenant], client: httpx.AsyncClient, path: str
) -> None:
    """With a key, the caller is the site's own server: a forwarded DNT header changes
    nothing (the server decides what it sends)."""
    t = tenants["private"]
    sid = await session_for(db, path, t)
    body = {"site_id": t.public_id, "session_id": str(sid), "email": f"{sid.hex}@example.com"}
    response = await client.post(path, json=body, headers={**t.auth(), "DNT": "1"})
    assert response.status_code in (200, 201), response.text
    assert await stored(db, path, t, sid) == 1
