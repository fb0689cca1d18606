"""The tracker against the real leadtrail: a visitor's browsing on the fixture website ends up
in PostgreSQL through /api/sync, /api/leads and /api/identify, each event exactly once.

Nothing is stubbed: the snippet loads /assets/core.js from the live server and sends back to
it. The browser waits for its own outbox to empty, which happens only when the server has
answered every item, and the server answers only after commit.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page

from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Database
from tests.e2e.sites import FixtureSite
from tests.e2e.tracking import freeze_clock

# The ingest endpoint drops headless browsers as bots: look like a desktop Chrome.
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/150.0.0.0 Safari/537.36"
)
LANDING = "index.html?gclid=LIVE-GCLID&utm_source=google&utm_medium=cpc&utm_campaign=spring"


@pytest.fixture(scope="module")
async def live_site(db: Database, fixture_site: FixtureSite) -> Site:
    async with db.system() as conn:
        return await create_site(
            conn, name="Fixture shop", domain=fixture_site.host, public_id="tracker_live"
        )


@pytest.fixture
async def visitor(browser: Browser) -> AsyncIterator[Page]:
    ctx = await browser.new_context(
        user_agent=CHROME,
        viewport={"width": 1280, "height": 720},
        screen={"width": 1920, "height": 1080},
        locale="tr-TR",
        timezone_id="Europe/Istanbul",
    )
    page = await ctx.new_page()
    await freeze_clock(page)
    try:
        yield page
    finally:
        await ctx.close()


async def all_acknowledged(page: Page) -> None:
    await page.wait_for_function("!localStorage.leadtrail_outbox", timeout=15_000)


async def test_a_visit_lands_in_postgresql(
    visitor: Page, fixture_site: FixtureSite, live_site: Site, owner: asyncpg.Connection
) -> None:
    site = fixture_site
    site.site_id, site.api_url, site.script_src, site.attrs = live_site.public_id, None, None, {}

    await visitor.goto(site.page(LANDING), referer="https://www.google.com/")
    await visitor.clock.run_for(2000)
    sid = await visitor.evaluate("leadtrail.sessionId()")
    await visitor.evaluate(
        """() => new Promise(done => {
            addEventListener('scroll', () => done(), {once: true});
            scrollTo(0, document.documentElement.scrollHeight);
        })"""
    )
    await visitor.hover("#cta")
    await visitor.clock.run_for(2000)
    await visitor.click("#tel")
    for name, value in {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+90 555 123 45 67",
        "notes": "Please call back",
    }.items():
        await visitor.fill(f"#contact [name={name}]", value)
    await visitor.click("#contact-send")  # posts the form: the page unloads (beacon)
    await visitor.wait_for_url("**/thanks.html")
    await visitor.clock.run_for(2000)
    assert await visitor.evaluate("leadtrail.identify({email: 'ada@example.com'})") is True
    await all_acknowledged(visitor)

    session = await owner.fetchrow(
        "SELECT * FROM sessions WHERE site_id = $1 AND id = $2", live_site.id, sid
    )
    assert session is not None
    expected: dict[str, Any] = {
        "gclid": "LIVE-GCLID",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring",
        "browser": "Chrome",
        "os": "Linux",
        "device_type": "desktop",
        "screen": "1920x1080",
        "timezone": "Europe/Istanbul",
        "entry_page": site.page(LANDING),
        "exit_page": site.page("thanks.html"),
        "page_views": 2,
        "converted": True,
        "is_bounce": False,
        "attribution_source": "First Click (Paid)",
    }
    assert {k: session[k] for k in expected} == expected
    assert session["fingerprint"] and session["referrer"] == "https://www.google.com/"

    events = await owner.fetch(
        """SELECT event_category, event_action, event_label, event_value, lead_score,
                  client_event_id, metadata
           FROM events WHERE site_id = $1 AND session_id = $2 ORDER BY created_at, event_value""",
        live_site.id,
        sid,
    )
    actions = [(e["event_category"], e["event_action"]) for e in events]
    for wanted in [
        ("acquisition", "view"),
        ("interaction", "hover_intent"),
        ("conversion", "phone_call"),
        ("interaction", "form_start"),
        ("conversion", "form_submit"),
        ("system", "session_end"),
    ]:
        assert wanted in actions
    assert actions.count(("acquisition", "view")) == 2
    depths = [e["event_value"] for e in events if e["event_action"] == "scroll_depth"]
    assert depths == [25, 50, 75, 90]
    labels = {e["event_action"]: e["event_label"] for e in events}
    assert labels["phone_call"] == "tel:+90 555 123 45 67"
    assert labels["hover_intent"] == "Get a quote"
    assert labels["form_submit"] == "contact"
    # Each event once, although the unload beacon's events were sent a second time.
    eids = [e["client_event_id"] for e in events]
    assert len(eids) == len(set(eids)) and all(eids)
    assert session["event_count"] == len(events)
    # Scores, the seeds' rules: the visit came from Google (+5 on every event), first visit
    # of this fingerprint (no returning-ad-user bonus).
    per_action = {
        "view": 5, "hover_intent": 10 + 15 + 5, "phone_call": 50 + 5, "form_start": 10 + 5,
        "form_submit": 50 + 5, "session_end": 5, "heartbeat": 5,
    }  # fmt: skip
    per_depth = {25: 10 + 5, 50: 10 + 10 + 5, 75: 10 + 10 + 5, 90: 10 + 20 + 5}
    for e in events:
        wanted_score = (
            per_depth[int(e["event_value"])]
            if e["event_action"] == "scroll_depth"
            else per_action.get(e["event_action"])
        )
        if wanted_score is not None:
            assert e["lead_score"] == wanted_score, (e["event_action"], e["event_value"])
        meta = json.loads(e["metadata"])
        assert meta["lead_score"] == e["lead_score"]
        assert meta["attribution_source"] == "First Click (Paid)"
        assert meta["device_info"]["browser"] == "Chrome" and "geo_info" in meta
    assert session["lead_score"] == max(e["lead_score"] for e in events) == 55

    lead = await owner.fetchrow(
        "SELECT * FROM leads WHERE site_id = $1 AND session_id = $2", live_site.id, sid
    )
    assert lead is not None
    assert (lead["form_type"], lead["name"], lead["email"], lead["message"]) == (
        "quote",
        "Ada Lovelace",
        "ada@example.com",
        "Please call back",
    )
    assert lead["external_lead_id"].startswith("tracker:")
    assert (
        await owner.fetchval("SELECT count(*) FROM leads WHERE site_id = $1", live_site.id) == 1
    )  # the form's post, resent after the unload, is one lead
    link = await owner.fetchrow(
        "SELECT * FROM identity_links WHERE site_id = $1 AND kind = 'email'", live_site.id
    )
    assert link is not None and link["value"] == "ada@example.com"


async def test_identify_and_lead_carry_the_session_token_an_outsider_lacks(
    browser: Browser,
    visitor: Page,
    fixture_site: FixtureSite,
    live_site: Site,
    owner: asyncpg.Connection,
) -> None:
    """Security finding 2: the real tracker gets its session's token from /api/sync and sends
    it with identify and its lead; a second browser on the site's own origin that knows the
    visitor's sid (but not the token) is refused and attaches nothing."""
    site = fixture_site
    site.site_id, site.api_url, site.script_src, site.attrs = live_site.public_id, None, None, {}
    sent: dict[str, dict[str, Any]] = {}
    visitor.on(
        "request",
        lambda r: (
            sent.__setitem__(r.url.rsplit("/", 1)[1], json.loads(r.post_data or "{}"))
            if r.url.endswith(("/api/identify", "/api/leads"))
            else None
        ),
    )
    await visitor.goto(site.page("index.html"))
    await visitor.clock.run_for(2000)
    sid = await visitor.evaluate("leadtrail.sessionId()")
    assert await visitor.evaluate("leadtrail.identify({email: 'grace@example.com'})") is True
    await visitor.fill("#contact [name=email]", "grace@example.com")
    await visitor.fill("#contact [name=first_name]", "Grace")
    await visitor.click("#contact-send")
    await visitor.wait_for_url("**/thanks.html")
    await visitor.clock.run_for(2000)
    await all_acknowledged(visitor)
    for path in ("identify", "leads"):
        assert sent[path]["sid"] == sid and sent[path]["k"].startswith(f"{sid}.")
    links = await owner.fetch(
        "SELECT l.value FROM identity_links l JOIN sessions s ON s.site_id = l.site_id "
        "AND s.canonical_user_id = l.canonical_user_id "
        "WHERE s.site_id = $1 AND s.id = $2 AND l.kind = 'email'",
        live_site.id,
        sid,
    )
    assert [r["value"] for r in links] == ["grace@example.com"]
    lead = await owner.fetchrow(
        "SELECT email FROM leads WHERE site_id = $1 AND session_id = $2", live_site.id, sid
    )
    assert lead is not None and lead["email"] == "grace@example.com"

    # the outsider: another browser, a page on the site's own origin, the visitor's bare sid
    ctx = await browser.new_context(user_agent=CHROME)
    try:
        outsider = await ctx.new_page()
        await outsider.goto(site.page("thanks.html"))
        statuses = await outsider.evaluate(
            """async ([api, s, sid]) => {
                const post = (path, body) => fetch(api + path, {method: 'POST',
                    body: JSON.stringify({s, sid, ...body})}).then(r => r.json());
                return [await post('/api/identify', {email: 'mallory@evil.test'}),
                        await post('/api/leads', {eid: 'evt_mallory_1', email: 'mallory@evil.test'})];
            }""",
            [site.leadtrail_url, live_site.public_id, sid],
        )
    finally:
        await ctx.close()
    assert [s["error"] for s in statuses] == ["invalid_session_token"] * 2
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM identity_links WHERE site_id = $1 AND value = 'mallory@evil.test'",
            live_site.id,
        )
        == 0
    )
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM leads WHERE site_id = $1 AND email = 'mallory@evil.test'",
            live_site.id,
        )
        == 0
    )
