"""/api/sync over real HTTP into real PostgreSQL: storage, enrichment, scoring, attribution,
retries, validation, CORS, bots, privacy."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer, ModuleDatabase

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
_ips = itertools.count(1)


def fresh_ip() -> str:
    """Each test talks from its own address (X-Forwarded-For from the trusted loopback peer)."""
    n = next(_ips)
    return f"203.0.{n // 250}.{n % 250 + 1}"


@pytest.fixture(scope="module")
async def site(db: Database) -> Site:
    async with db.system() as conn:
        return await create_site(
            conn,
            name="Shop",
            domain="shop.example",
            public_id="shop_sync",
            allowed_origins=["partner.example"],
        )


@pytest.fixture(scope="module")
async def dnt_site(db: Database) -> Site:
    async with db.system() as conn:
        made = await create_site(
            conn, name="Private", domain="private.example", public_id="private_sync"
        )
        await conn.execute(
            "UPDATE sites SET settings = '{\"respect_dnt\": true}' WHERE id = $1", made.id
        )
    return made


@pytest.fixture
async def owner(test_database: ModuleDatabase) -> Any:
    conn = await asyncpg.connect(test_database.owner_dsn)
    try:
        yield conn
    finally:
        await conn.close()


def event(site: Site, session: uuid.UUID, /, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "s": site.public_id,
        "u": "https://shop.example/",
        "sid": str(session),
        "ec": "acquisition",
        "ea": "view",
        "eid": "e_" + uuid.uuid4().hex[:16],
    }
    body.update(fields)
    return body


async def post(
    client: httpx.AsyncClient, body: Any, *, ua: str = CHROME, ip: str | None = None, **headers: str
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return await client.post(
        "/api/sync",
        content=raw,
        headers={
            "content-type": "text/plain",
            "user-agent": ua,
            "x-forwarded-for": ip or fresh_ip(),
            **headers,
        },
    )


async def session_row(owner: asyncpg.Connection, sid: uuid.UUID) -> asyncpg.Record:
    row = await owner.fetchrow("SELECT * FROM sessions WHERE id = $1", sid)
    assert row is not None
    return row


async def test_landing_from_google_ad_is_enriched_scored_and_attributed(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    sid = uuid.uuid4()
    landing = event(
        site, sid,
        u="https://shop.example/offer?gclid=G-123&utm_source=google&utm_medium=cpc&utm_campaign=spring",
        r="https://www.google.com/search?q=emergency+plumber",
        meta={"fp": "fp-ad-1", "device_info": {"screen": "390x844", "tz": "Europe/Istanbul", "lang": "tr-TR"}},
    )  # fmt: skip
    response = await post(client, landing, ua=IPHONE)
    assert response.status_code == 200
    # acquisition/view: no category points; Google referrer +5
    answer = response.json()
    # the session is new: its token for identify and leads (auth/session_tokens.py)
    assert answer.pop("k").startswith(f"{sid}.")
    assert answer == {"status": "synced", "score": 5}

    row = await session_row(owner, sid)
    assert row["site_id"] == site.id
    assert row["entry_page"] == landing["u"]
    assert (row["referrer_type"], row["referrer_domain"]) == ("paid", "google.com")
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == (
        "google",
        "cpc",
        "spring",
    )
    assert row["gclid"] == "G-123"
    assert row["attribution_source"] == "First Click (Paid)"
    assert (row["browser"], row["os"], row["device_type"]) == ("Mobile Safari", "iOS", "mobile")
    assert (row["screen"], row["timezone"], row["language"]) == (
        "390x844",
        "Europe/Istanbul",
        "tr-TR",
    )
    assert row["fingerprint"] == "fp-ad-1"
    assert row["ip_address"] is not None
    stored = await owner.fetchrow("SELECT * FROM events WHERE session_id = $1", sid)
    assert stored["session_month"] == row["created_month"]
    meta = (
        orjson.loads(stored["metadata"])
        if isinstance(stored["metadata"], str)
        else stored["metadata"]
    )
    assert meta["lead_score"] == 5 and meta["attribution_source"] == "First Click (Paid)"
    assert meta["intelligence_summary"] == "Standard Traffic"
    assert meta["geo_info"] == {"country": "Unknown", "region": "Unknown", "city": "Unknown"}


async def test_organic_search_keeps_the_query(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    sid = uuid.uuid4()
    await post(client, event(site, sid, r="https://duckduckgo.com/?q=best+plumber+istanbul"))
    row = await session_row(owner, sid)
    assert (row["referrer_type"], row["search_query"]) == ("search", "best plumber istanbul")
    assert row["attribution_source"] == "Organic"


async def test_batch_updates_session_counters(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    sid = uuid.uuid4()
    batch = [
        event(site, sid, u="https://shop.example/", ts=1),  # ts outside 24 h: server time is used
        event(site, sid, u="https://shop.example/pricing", ec="interaction", ea="page_view"),
        event(
            site, sid, u="https://shop.example/pricing", ec="interaction", ea="scroll_depth", ev=90
        ),
        event(
            site,
            sid,
            u="https://shop.example/pricing",
            ec="interaction",
            ea="hover_intent",
            el="Buy",
        ),
        event(
            site,
            sid,
            u="https://shop.example/contact",
            ec="conversion",
            ea="phone_call",
            el="tel:+905551234567",
        ),
    ]
    response = await post(client, {"batch": batch})
    assert response.status_code == 200
    assert response.json()["score"] == 50  # the phone call: conversion +50 beats scroll 10+20
    row = await session_row(owner, sid)
    assert (row["event_count"], row["page_views"]) == (5, 1 + 1)
    assert row["lead_score"] == 50 and row["converted"] is True and row["is_bounce"] is False
    assert row["exit_page"] == "https://shop.example/contact"
    scores = await owner.fetch(
        "SELECT event_action, lead_score FROM events WHERE session_id = $1 ORDER BY lead_score", sid
    )
    assert {r["event_action"]: r["lead_score"] for r in scores} == {
        "view": 0, "page_view": 10, "hover_intent": 25, "scroll_depth": 30, "phone_call": 50,
    }  # fmt: skip


async def test_single_page_view_is_a_bounce(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    sid = uuid.uuid4()
    await post(client, event(site, sid))
    await post(client, event(site, sid, ec="system", ea="heartbeat"))
    assert (await session_row(owner, sid))["is_bounce"] is True
    await post(client, event(site, sid, ec="interaction", ea="scroll_depth", ev=50))
    assert (await session_row(owner, sid))["is_bounce"] is False


async def test_retried_events_are_stored_and_counted_once(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    sid = uuid.uuid4()
    first = event(site, sid)
    second = event(site, sid, ec="interaction", ea="scroll_depth", ev=50)
    one = await post(client, {"batch": [first, second]})
    again = await post(client, {"batch": [first, second, first]})
    answers = [one.json(), again.json()]
    # both carry the session's token: the first made it, the retry repeats its events
    assert all(a.pop("k").startswith(f"{sid}.") for a in answers)
    assert answers[0] == answers[1] == {"status": "synced", "score": 20}
    row = await session_row(owner, sid)
    assert row["event_count"] == 2 and row["page_views"] == 1
    assert await owner.fetchval("SELECT count(*) FROM events WHERE session_id = $1", sid) == 2
    # A new event in the same session still counts.
    await post(client, event(site, sid, ec="conversion", ea="form_submit"))
    assert (await session_row(owner, sid))["event_count"] == 3


async def test_return_visitor_after_an_ad_click(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    fp = "fp-" + uuid.uuid4().hex
    ad_visit, organic_visit, stranger = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await post(client, event(site, ad_visit, u="https://shop.example/?gclid=XYZ", meta={"fp": fp}))
    response = await post(
        client,
        event(
            site,
            organic_visit,
            ec="interaction",
            ea="page_view",
            meta={"fp": fp},
            r="https://www.google.com/",
        ),
    )
    # interaction +10, Google referrer +5, returning ad user +25
    assert response.json()["score"] == 40
    assert (await session_row(owner, organic_visit))[
        "attribution_source"
    ] == "Return Visitor (Ads Assisted)"
    await post(client, event(site, stranger, meta={"fp": "fp-never-clicked"}))
    assert (await session_row(owner, stranger))["attribution_source"] == "Organic"


async def test_a_later_ad_visit_does_not_make_an_earlier_one_ads_assisted(
    client: httpx.AsyncClient, server: LiveServer, site: Site, owner: asyncpg.Connection
) -> None:
    fp = "fp-" + uuid.uuid4().hex
    now_ms = time.time() * 1000
    earlier, ad_visit, before_ads = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    # A visit that began before the ad click, but whose events arrive after it (queued).
    await post(client, event(site, before_ads, meta={"fp": fp}, ts=now_ms - 30 * 60_000))
    await post(client, event(site, ad_visit, u="https://shop.example/?gclid=L8", meta={"fp": fp},
                             ts=now_ms - 20 * 60_000))  # fmt: skip
    late = event(site, earlier, ec="interaction", ea="page_view", meta={"fp": fp},
                 ts=now_ms - 25 * 60_000)  # fmt: skip
    assert (await post(client, late)).json()["score"] == 10  # interaction only, no +25
    assert (await session_row(owner, earlier))["attribution_source"] == "Organic"
    # A session that existed before the ad visit, looked up again (not in the writer's cache).
    writer = server.app.state.services.ingest.writer  # type: ignore[attr-defined]
    writer.batches.sessions.forget([(site.id, before_ads)])
    more = event(site, before_ads, ec="interaction", ea="page_view", meta={"fp": fp})
    assert (await post(client, more)).json()["score"] == 10
    assert (await session_row(owner, before_ads))["attribution_source"] == "Organic"
    # A visit after the ad click is a returning ad user.
    after = event(site, uuid.uuid4(), ec="interaction", ea="page_view", meta={"fp": fp})
    assert (await post(client, after)).json()["score"] == 35


async def test_session_month_is_the_sessions_own(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    sid = uuid.uuid4()
    await post(client, event(site, sid, sm="2020-01-01"))
    await post(client, event(site, sid, sm="2031-05-01", ec="interaction", ea="page_view"))
    months = await owner.fetch(
        "SELECT DISTINCT session_month FROM events WHERE session_id = $1", sid
    )
    row = await session_row(owner, sid)
    assert [r["session_month"] for r in months] == [row["created_month"]]


async def test_every_event_has_its_session(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection
) -> None:
    await post(client, {"batch": [event(site, uuid.uuid4()) for _ in range(20)]})
    orphans = await owner.fetchval(
        """SELECT count(*) FROM events e WHERE NOT EXISTS (
               SELECT 1 FROM sessions s
               WHERE s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month)"""
    )
    assert orphans == 0


BAD_BODIES: list[tuple[Any, str, str | None]] = [
    (b"{not json", "invalid_json", None),
    (b"[1, 2]", "invalid_payload", None),
    ({"batch": []}, "invalid_batch", "batch"),
    ({"batch": [{}] * 101}, "batch_too_large", "batch"),
    (
        {"u": "https://shop.example/", "sid": str(uuid.uuid4()), "ec": "acquisition", "ea": "view"},
        "invalid_site",
        "s",
    ),
]


@pytest.mark.parametrize(("body", "code", "field"), BAD_BODIES)
async def test_malformed_bodies(
    client: httpx.AsyncClient, site: Site, body: Any, code: str, field: str | None
) -> None:
    response = await post(client, body)
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert response.json().get("field") == field


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"s": "no_such_site"}, "unknown_site", "s"),
        ({"sid": "sess_12345"}, "invalid_session_id", "sid"),
        ({"ec": "purchase"}, "invalid_category", "ec"),
        ({"ea": "has spaces"}, "invalid_action", "ea"),
        ({"u": "javascript:alert(1)"}, "invalid_url", "u"),
        ({"u": "https://x/" + "a" * 3000}, "invalid_url", "u"),
        ({"el": "x" * 2000}, "invalid_label", "el"),
        ({"ev": "30"}, "invalid_value", "ev"),
        ({"eid": "short"}, "invalid_event_id", "eid"),
        ({"el": "nul\x00byte"}, "invalid_label", "el"),
        ({"meta": {"a": {"b": {"c": {"d": {"e": 1}}}}}}, "invalid_meta", "meta"),
        ({"meta": {"blob": "x" * 9000}}, "meta_too_large", "meta"),
        ({"meta": {"k\x00": 1}}, "invalid_meta", "meta"),
        ({"meta": "not an object"}, "invalid_meta", "meta"),
        ({"ts": -5}, "invalid_timestamp", "ts"),
        ({"sm": "May 2026"}, "invalid_session_month", "sm"),
    ],
)
async def test_each_invalid_field_gets_its_code(
    client: httpx.AsyncClient, site: Site, change: dict[str, Any], code: str, field: str
) -> None:
    response = await post(client, event(site, uuid.uuid4(), **change))
    assert (response.status_code, response.json()["error"], response.json()["field"]) == (
        400,
        code,
        field,
    )
    inside_batch = await post(
        client, {"batch": [event(site, uuid.uuid4()), event(site, uuid.uuid4(), **change)]}
    )
    assert inside_batch.json()["field"] == f"batch[1].{field}"


async def test_oversized_bodies_are_refused_while_reading(
    client: httpx.AsyncClient, site: Site
) -> None:
    big = orjson.dumps({"batch": [event(site, uuid.uuid4(), el="x" * 1000) for _ in range(70)]})
    assert len(big) > 64 * 1024
    assert (await post(client, big)).status_code == 413

    async def chunks() -> Any:  # no Content-Length: the limit is counted as the body arrives
        for _ in range(100):
            yield b" " * 1024

    response = await client.post("/api/sync", content=chunks(), headers={"user-agent": CHROME})
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


async def test_cors(client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection) -> None:
    sid = uuid.uuid4()
    ok = await post(client, event(site, sid), origin="https://www.shop.example")
    assert (
        ok.status_code == 200
        and ok.headers["access-control-allow-origin"] == "https://www.shop.example"
    )
    assert ok.headers["access-control-expose-headers"] == "Retry-After"
    partner = await post(client, event(site, uuid.uuid4()), origin="https://app.partner.example")
    assert partner.status_code == 200
    refused = await post(client, event(site, uuid.uuid4()), origin="https://evil.example")
    assert refused.status_code == 403 and refused.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in refused.headers

    preflight = await client.options(
        "/api/sync",
        headers={"origin": "https://shop.example", "access-control-request-method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example"
    denied = await client.options("/api/sync", headers={"origin": "https://evil.example"})
    assert denied.status_code == 403


@pytest.mark.parametrize(
    ("ua", "reason"),
    [
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/150.0.0.0 Safari/537.36",
            "headless",
        ),
        ("", "empty"),
    ],
)
async def test_bots_get_202_and_are_not_stored(
    client: httpx.AsyncClient, site: Site, owner: asyncpg.Connection, ua: str, reason: str
) -> None:
    sid = uuid.uuid4()
    response = await post(client, event(site, sid), ua=ua)
    assert response.status_code == 202 and response.json() == {
        "status": "ignored",
        "reason": reason,
    }
    assert await owner.fetchval("SELECT count(*) FROM events WHERE session_id = $1", sid) == 0
    metrics = (await client.get("/metrics")).text
    assert f'leadtrail_sync_dropped_total{{reason="{reason}"}}' in metrics


async def test_do_not_track_when_the_site_says_so(
    client: httpx.AsyncClient, site: Site, dnt_site: Site, owner: asyncpg.Connection
) -> None:
    private, normal = uuid.uuid4(), uuid.uuid4()
    dropped = await post(
        client, event(dnt_site, private, u="https://private.example/"), **{"sec-gpc": "1"}
    )
    assert dropped.status_code == 202 and dropped.json()["reason"] == "dnt"
    kept = await post(client, event(site, normal), dnt="1")
    assert kept.status_code == 200
    assert (
        await owner.fetchval("SELECT count(*) FROM sessions WHERE id = ANY($1)", [private, normal])
        == 1
    )


async def test_openapi_documents_sync(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "post" in paths["/api/sync"] and "400" in paths["/api/sync"]["post"]["responses"]


async def test_site_settings_change_weights_and_ip_storage(
    client: httpx.AsyncClient, db: Database, owner: asyncpg.Connection
) -> None:
    async with db.system() as conn:
        custom = await create_site(
            conn, name="Custom", domain="custom.example", public_id="custom_sync"
        )
        await conn.execute(
            """UPDATE sites SET settings = '{"scoring": {"conversion": 70, "interaction": 1},
                                             "ip_storage": "truncated"}' WHERE id = $1""",
            custom.id,
        )
        hidden = await create_site(conn, name="NoIP", domain="noip.example", public_id="noip_sync")
        await conn.execute(
            """UPDATE sites SET settings = '{"ip_storage": "none"}' WHERE id = $1""", hidden.id
        )
    sid, other = uuid.uuid4(), uuid.uuid4()
    call = event(custom, sid, u="https://custom.example/", ec="conversion", ea="phone_call")
    assert (await post(client, call, ip="198.51.100.77")).json()["score"] == 70
    row = await session_row(owner, sid)
    assert str(row["ip_address"]) == "198.51.100.0"
    await post(client, event(hidden, other, u="https://noip.example/"), ip="198.51.100.78")
    assert (await session_row(owner, other))["ip_address"] is None
