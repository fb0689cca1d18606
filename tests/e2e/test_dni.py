"""Dynamic number insertion in a real browser: two visitors from paid traffic see two
different pool numbers (in the tel: link and the marked text), an organic visitor keeps the
site's number, and calls to the two numbers match the right sessions."""

from __future__ import annotations

import asyncpg
import httpx
from playwright.async_api import Browser

from leadtrail.auth.api_keys import create_key
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.e2e.sites import FixtureSite
from tests.e2e.test_tracker_live import CHROME

POOL = ("+14195550201", "+14195550202")


async def test_two_paid_visitors_get_two_numbers_and_their_calls_match(
    browser: Browser,
    db: Database,
    server: LiveServer,
    fixture_site: FixtureSite,
    owner: asyncpg.Connection,
) -> None:
    async with db.system() as conn:
        site = await create_site(
            conn, name="DNI shop", domain=fixture_site.host, public_id="dni_e2e"
        )
        await conn.execute(
            """UPDATE sites SET settings = settings || '{"default_region": "US",
               "dni_default_number": "+14195550100"}' WHERE id = $1""",
            site.id,
        )
        for number in POOL:
            await conn.execute(
                "INSERT INTO dni_numbers (site_id, number) VALUES ($1, $2)", site.id, number
            )
        key = await create_key(conn, site.id, name="calls", scopes=["ingest"])
    fixture_site.site_id, fixture_site.api_url = site.public_id, None
    fixture_site.script_src, fixture_site.attrs = None, {}

    seen: dict[str, tuple[str, str]] = {}  # number -> (session id, visitor)
    contexts = []
    try:
        for visitor, query in (
            ("ann", "?gclid=Cj0KCQiA-ann"),
            ("bob", "?gclid=Cj0KCQiA-bob"),
            ("cat", ""),
        ):
            ctx = await browser.new_context(user_agent=CHROME)
            contexts.append(ctx)
            page = await ctx.new_page()
            if not query:  # organic: the module asks, gets no number, the page stays as it is
                async with page.expect_response("**/api/dni/lease") as answer:
                    await page.goto(fixture_site.page("dni.html"))
                assert (await (await answer.value).json())["number"] is None
                assert await page.get_attribute("#tel", "href") == "tel:+14195550100"
                continue
            await page.goto(fixture_site.page(f"dni.html{query}"))
            await page.wait_for_function(
                "document.querySelector('#tel').getAttribute('href') !== 'tel:+14195550100'",
                timeout=15_000,
            )
            href = await page.get_attribute("#tel", "href")
            shown = await page.text_content("#shown")
            number = href.removeprefix("tel:") if href else ""
            assert number in POOL and shown == f"({number[2:5]}) {number[5:8]}-{number[8:]}"
            assert await page.get_attribute("#other", "href") == "tel:+14195550999"  # not ours
            await page.evaluate("leadtrail.flush()")
            await page.wait_for_function("!localStorage.leadtrail_outbox", timeout=15_000)
            seen[number] = (await page.evaluate("leadtrail.sessionId()"), visitor)
    finally:
        for ctx in contexts:
            await ctx.close()
    assert set(seen) == set(POOL)  # two visitors, two different numbers

    async with httpx.AsyncClient(base_url=server.url) as http:
        for number, (session_id, _visitor) in seen.items():
            call = await http.post(
                "/api/call-event",
                headers={"Authorization": f"Bearer {key.key}"},
                json={"site_id": site.public_id, "tracking_number": number},
            )
            assert call.status_code == 201, call.text
            body = call.json()
            assert body["match_method"] == "dni" and body["session_id"] == session_id
    rows = await owner.fetch(
        "SELECT c.gclid, s.id FROM calls c JOIN sessions s ON s.site_id = c.site_id"
        " AND s.id = c.matched_session_id WHERE c.site_id = $1",
        site.id,
    )
    assert {r["gclid"] for r in rows} == {"Cj0KCQiA-ann", "Cj0KCQiA-bob"}
