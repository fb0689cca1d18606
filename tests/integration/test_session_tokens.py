"""Security finding 2, the session half: a tracker session is bound to the browser that made
it by a token the server signs. An outsider who learnt a visitor's bare ``sid`` (and has the
public site id and any Origin) cannot attach an e-mail or a lead to that session."""

from __future__ import annotations

import time
import uuid

import httpx
import orjson
import pytest

from leadtrail.auth import session_tokens
from leadtrail.storage import Database
from tests.integration.people_support import Tenant, fetch, make_tenant, session_token

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)


@pytest.fixture(scope="module")
async def sites(db: Database) -> dict[str, Tenant]:
    return {
        "shop": await make_tenant(db, "token-shop"),
        "other": await make_tenant(db, "token-other"),
    }


def browser(t: Tenant) -> dict[str, str]:
    return {"Origin": f"https://{t.domain}", "Content-Type": "text/plain", "User-Agent": CHROME}


def event(t: Tenant, sid: uuid.UUID, eid: str | None = None) -> dict[str, object]:
    return {
        "s": t.public_id,
        "u": f"https://{t.domain}/pricing",
        "sid": str(sid),
        "ec": "acquisition",
        "ea": "view",
        "eid": eid or uuid.uuid4().hex,
    }


async def sync(client: httpx.AsyncClient, t: Tenant, body: object) -> dict[str, object]:
    answer = await client.post("/api/sync", content=orjson.dumps(body), headers=browser(t))
    assert answer.status_code == 200, answer.text
    out: dict[str, object] = answer.json()
    return out


async def post(client: httpx.AsyncClient, t: Tenant, path: str, body: object) -> httpx.Response:
    return await client.post(path, content=orjson.dumps(body), headers=browser(t))


async def emails_of(db: Database, t: Tenant, sid: uuid.UUID) -> list[str]:
    rows = await fetch(
        db,
        "SELECT l.value FROM identity_links l JOIN sessions s ON s.site_id = l.site_id "
        "AND s.canonical_user_id = l.canonical_user_id "
        "WHERE s.site_id = $1 AND s.id = $2 AND l.kind = 'email' ORDER BY l.value",
        t.site_id,
        sid,
    )
    return [r["value"] for r in rows]


async def leads_on(db: Database, t: Tenant, sid: uuid.UUID) -> list[str]:
    rows = await fetch(
        db, "SELECT email FROM leads WHERE site_id = $1 AND session_id = $2", t.site_id, sid
    )
    return sorted(r["email"] for r in rows)


async def test_sync_gives_the_token_only_to_the_browser_that_made_the_session(
    sites: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    shop = sites["shop"]
    sid = uuid.uuid4()
    first = event(shop, sid)
    answer = await sync(client, shop, first)
    token = answer["k"]
    assert isinstance(token, str) and token.startswith(f"{sid}.")
    # more events of the session: nothing new to hand out
    assert "k" not in await sync(client, shop, event(shop, sid))
    # a retry of an event the session holds (the first answer was lost: a beacon) gets it again
    again = await sync(client, shop, {"batch": [first]})
    assert again["k"] == token or str(again["k"]).startswith(f"{sid}.")
    # an outsider adding a new event to a session it knows the sid of gets no token
    assert "k" not in await sync(client, shop, {"batch": [event(shop, sid), event(shop, sid)]})


async def test_an_outsider_with_a_victims_sid_cannot_attach_an_email_or_a_lead(
    db: Database, sites: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    shop = sites["shop"]
    victim = uuid.uuid4()
    token = (await sync(client, shop, event(shop, victim)))["k"]
    assert isinstance(token, str)

    # the outsider: the public site id, a spoofed Origin, the victim's bare sid
    bare = {"s": shop.public_id, "sid": str(victim)}
    refused = await post(client, shop, "/api/identify", {**bare, "email": "attacker@evil.test"})
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "invalid_session_token"
    refused = await post(
        client, shop, "/api/leads", {**bare, "eid": "evt_outsider_1", "email": "spam@evil.test"}
    )
    assert refused.status_code == 403 and refused.json()["error"] == "invalid_session_token"
    assert await emails_of(db, shop, victim) == []
    assert await leads_on(db, shop, victim) == []
    assert (
        await fetch(
            db, "SELECT 1 FROM leads WHERE site_id = $1 AND email = 'spam@evil.test'", shop.site_id
        )
        == []
    )

    # the victim's own browser, with the token /api/sync gave it, identifies and sends a lead
    mine = {**bare, "k": token}
    ok = await post(client, shop, "/api/identify", {**mine, "email": "ada@example.com"})
    assert ok.status_code == 200 and ok.json() == {"status": "ok"}
    ok = await post(
        client, shop, "/api/leads", {**mine, "eid": "evt_victim_01", "email": "ada@example.com"}
    )
    assert ok.status_code == 200 and ok.json() == {"status": "ok"}
    assert await emails_of(db, shop, victim) == ["ada@example.com"]
    assert await leads_on(db, shop, victim) == ["ada@example.com"]


@pytest.mark.parametrize("kind", ["forged", "expired", "other_site", "other_session", "garbage"])
async def test_a_bad_token_is_refused(
    db: Database, sites: dict[str, Tenant], client: httpx.AsyncClient, kind: str
) -> None:
    shop, other = sites["shop"], sites["other"]
    sid = uuid.uuid4()
    real = (await sync(client, shop, event(shop, sid)))["k"]
    assert isinstance(real, str)
    sid_part, expiry, mac = real.split(".")
    key = session_tokens.token_key(b"test-secret")
    token = {
        # a MAC made with another key, same shape
        "forged": session_tokens.issue(session_tokens.token_key(b"guess"), shop.site_id, sid),
        # signed by the server's key, but its week is over
        "expired": session_tokens.issue(
            key, shop.site_id, sid, now=time.time() - session_tokens.LIFETIME_SECONDS - 60
        ),
        # a good token of the same sid on another site
        "other_site": session_token(other.site_id, sid),
        # the attacker's own good token, presented for the victim's sid
        "other_session": session_token(shop.site_id, uuid.uuid4()),
        # the real MAC with a later expiry written in
        "garbage": f"{sid_part}.{int(expiry, 16) + 3600:x}.{mac}",
    }[kind]
    answer = await post(
        client,
        shop,
        "/api/identify",
        {"s": shop.public_id, "sid": str(sid), "k": token, "email": f"{kind}@evil.test"},
    )
    assert answer.status_code == 403 and answer.json()["error"] == "invalid_session_token"
    assert answer.headers["access-control-allow-origin"] == f"https://{shop.domain}"
    assert await emails_of(db, shop, sid) == []


async def test_server_keys_are_unaffected(
    db: Database, sites: dict[str, Tenant], client: httpx.AsyncClient
) -> None:
    shop = sites["shop"]
    sid = uuid.uuid4()
    await sync(client, shop, event(shop, sid))
    answer = await client.post(
        "/api/identify",
        json={"site_id": shop.public_id, "session_id": str(sid), "email": "crm@example.com"},
        headers=shop.auth(),
    )
    assert answer.status_code == 200, answer.text
    assert await emails_of(db, shop, sid) == ["crm@example.com"]
