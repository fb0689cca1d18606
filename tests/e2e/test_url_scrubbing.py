"""What a visitor types into a GET form reaches the next page's URL; leadtrail must not store
it. The browser submits a real form to the fixture site, the real tracker sends the thank-you
page's view to the real server, and the whole database is searched afterwards."""

from __future__ import annotations

import uuid

import asyncpg
from playwright.async_api import Browser

from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.e2e.sites import FixtureSite
from tests.e2e.test_tracker_live import CHROME
from tests.integration.test_privacy_erasure import stored_mentions


async def test_a_get_form_leaves_no_name_email_or_phone_in_the_database(
    browser: Browser, db: Database, fixture_site: FixtureSite, owner: asyncpg.Connection
) -> None:
    tag = uuid.uuid4().hex[:8]
    name, email, phone = f"Ada Lovelace{tag}", f"ada.{tag}@example.com", "+1 (419) 555-0134"
    async with db.system() as conn:
        site = await create_site(
            conn, name="Scrub shop", domain=fixture_site.host, public_id=f"scrub_{tag}"
        )
        await conn.execute(
            """UPDATE sites SET settings = settings || '{"url_query_allowlist": ["ref"]}'
               WHERE id = $1""",
            site.id,
        )
    fixture_site.site_id, fixture_site.api_url = site.public_id, None
    fixture_site.script_src, fixture_site.attrs = None, {}

    ctx = await browser.new_context(user_agent=CHROME)
    try:
        page = await ctx.new_page()
        await page.goto(fixture_site.page("search.html?utm_source=flyer&utm_campaign=spring"))
        await page.fill("input[name=name]", name)
        await page.fill("input[name=email]", email)
        await page.fill("input[name=phone]", phone)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        assert email.replace("@", "%40") in page.url  # the browser did put it in the URL
        await page.evaluate(
            "t => leadtrail.send('interaction', 'note', 'Thanks ' + t)", f"{email}, {phone}"
        )
        await page.evaluate("leadtrail.flush()")
        await page.wait_for_function("!localStorage.leadtrail_outbox", timeout=15_000)
    finally:
        await ctx.close()

    urls = await owner.fetch(
        "SELECT url, event_label FROM events WHERE site_id = $1 ORDER BY created_at", site.id
    )
    thanks = [r["url"] for r in urls if "/thanks.html" in r["url"]]
    assert thanks and all(u.endswith("/thanks.html?ref=spring-flyer") for u in thanks), thanks
    assert [
        r["event_label"] for r in urls if r["event_label"] and "Thanks" in r["event_label"]
    ] == ["Thanks [email], [phone]"]
    needles = {
        email,
        email.replace("@", "%40"),
        f"Lovelace{tag}",
        "555-0134",
        "5550134",
        "555+0134",
    }
    assert await stored_mentions(owner, needles) == []
