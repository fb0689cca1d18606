"""Tracker-mode ``/api/identify`` and ``/api/leads`` with nothing but a public site id: an
outsider naming a victim's e-mail learns nothing and merges nothing; a site-signed identity
token (identity verification) is what lets a browser call merge people."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest

from leadtrail.auth.identity_tokens import identity_hash, identity_secret, server_key
from leadtrail.config import Settings
from leadtrail.storage import Database
from tests.integration.people_support import (
    Tenant,
    add_session,
    fetch,
    make_tenant,
    person_of,
    session_token,
)


@pytest.fixture(scope="module")
async def site(db: Database) -> Tenant:
    return await make_tenant(db, "abuse", {"default_region": "US"})


def own(t: Tenant, sid: uuid.UUID) -> str:
    """The caller's own session token, as /api/sync gave it to the browser that made ``sid``."""
    return session_token(t.site_id, sid)


def browser(t: Tenant) -> dict[str, str]:
    """What an outsider can send: the public site id and a spoofed Origin."""
    return {"Origin": f"https://{t.domain}", "Content-Type": "text/plain"}


async def victim(db: Database, t: Tenant, client: httpx.AsyncClient, email: str) -> uuid.UUID:
    """A known customer, identified by the site's server."""
    sid = await add_session(db, t.site_id, fingerprint=f"fp-{email}", gclid="Cj0KCQiA-victim-1")
    known = await client.post(
        "/api/identify",
        json={"site_id": t.public_id, "session_id": str(sid), "email": email},
        headers=t.auth(),
    )
    assert known.status_code == 200, known.text
    return uuid.UUID(known.json()["canonical_user_id"])


async def merges(db: Database, t: Tenant) -> int:
    rows = await fetch(
        db, "SELECT count(*) AS n FROM identity_merges WHERE site_id = $1", t.site_id
    )
    return int(rows[0]["n"])


async def test_identify_from_a_browser_tells_nothing_and_merges_nothing(
    db: Database, site: Tenant, client: httpx.AsyncClient
) -> None:
    person = await victim(db, site, client, "victim@example.com")
    before = await merges(db, site)
    mine = await add_session(db, site.site_id, fingerprint="fp-attacker")
    answer = await client.post(
        "/api/identify",
        headers=browser(site),
        content=orjson.dumps(
            {
                "s": site.public_id,
                "sid": str(mine),
                "k": own(site, mine),
                "email": "victim@example.com",
            }
        ),
    )
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert await merges(db, site) == before
    assert await person_of(db, site.site_id, mine) != person
    # A new e-mail from the caller's own session still identifies that session.
    fresh = await client.post(
        "/api/identify",
        headers=browser(site),
        content=orjson.dumps(
            {"s": site.public_id, "sid": str(mine), "k": own(site, mine), "email": "me@example.com"}
        ),
    )
    assert fresh.json() == {"status": "ok"}
    owner = await fetch(
        db,
        "SELECT canonical_user_id FROM identity_links WHERE site_id = $1 AND value = $2",
        site.site_id,
        "me@example.com",
    )
    assert [r["canonical_user_id"] for r in owner] == [await person_of(db, site.site_id, mine)]


async def test_lead_from_a_browser_tells_nothing_and_stays_on_its_own_session(
    db: Database, site: Tenant, client: httpx.AsyncClient
) -> None:
    person = await victim(db, site, client, "lead-victim@example.com")
    before = await merges(db, site)
    mine = await add_session(db, site.site_id, fingerprint="fp-lead-attacker")
    answer = await client.post(
        "/api/leads",
        headers=browser(site),
        content=orjson.dumps(
            {
                "s": site.public_id,
                "sid": str(mine),
                "k": own(site, mine),
                "eid": "evt_abuse_001",
                "email": "lead-victim@example.com",
            }
        ),
    )
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert await merges(db, site) == before
    assert await person_of(db, site.site_id, mine) != person
    [lead] = await fetch(
        db,
        "SELECT session_id, canonical_user_id FROM leads WHERE site_id = $1 "
        "AND external_lead_id = 'tracker:evt_abuse_001'",
        site.site_id,
    )
    assert lead["session_id"] == mine and lead["canonical_user_id"] != person
    # Without a session, a browser lead never looks back to the victim's sessions.
    orphan = await client.post(
        "/api/leads",
        headers=browser(site),
        content=orjson.dumps(
            {"s": site.public_id, "eid": "evt_abuse_002", "email": "lead-victim@example.com"}
        ),
    )
    assert orphan.json() == {"status": "ok"}
    [lead] = await fetch(
        db,
        "SELECT session_id FROM leads WHERE site_id = $1 AND external_lead_id = 'tracker:evt_abuse_002'",
        site.site_id,
    )
    assert lead["session_id"] is None


async def test_a_site_signed_identity_lets_the_browser_merge(
    db: Database, site: Tenant, client: httpx.AsyncClient, settings: Settings
) -> None:
    first = await add_session(db, site.site_id, fingerprint="fp-device-1")
    second = await add_session(db, site.site_id, fingerprint="fp-device-2")
    secret = identity_secret(server_key(settings), site.site_id)
    for sid in (first, second):
        signed = {"s": site.public_id, "sid": str(sid), "k": own(site, sid), "id": "user-77"}
        forged = await client.post(
            "/api/identify",
            headers=browser(site),
            content=orjson.dumps({**signed, "uh": identity_hash("not the secret", "user-77")}),
        )
        assert forged.json() == {"status": "ok"}
    # forged hashes: the second device was not tied to the first one's person
    assert await person_of(db, site.site_id, first) != await person_of(db, site.site_id, second)
    verified = await client.post(
        "/api/identify",
        headers=browser(site),
        content=orjson.dumps(
            {
                "s": site.public_id,
                "sid": str(second),
                "k": own(site, second),
                "id": "user-77",
                "uh": identity_hash(secret, "user-77"),
            }
        ),
    )
    assert verified.json() == {"status": "ok"}
    assert await person_of(db, site.site_id, first) == await person_of(db, site.site_id, second)
