"""Experiments in a real browser: ``leadtrail.variant()`` answers synchronously in <head> from
the site script (no flicker), gives the variant the server's assignment endpoint gives, costs
no request of its own, and its exposure reaches variant_assignments through the tracker."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import asyncpg
import httpx
from playwright.async_api import Browser

from leadtrail.auth.api_keys import create_key
from leadtrail.experiments import service
from leadtrail.sites.service import create_site
from leadtrail.storage import Claims, Database, DbRole
from tests.conftest import LiveServer
from tests.e2e.sites import FixtureSite
from tests.e2e.test_tracker_live import CHROME


async def test_same_variant_in_the_browser_and_on_the_server_without_a_request(
    browser: Browser,
    db: Database,
    server: LiveServer,
    fixture_site: FixtureSite,
    owner: asyncpg.Connection,
) -> None:
    async with db.system() as conn:
        site = await create_site(
            conn, name="Exp shop", domain=fixture_site.host, public_id="exp_shop"
        )
        key = (await create_key(conn, site.id, name="server", scopes=["read"])).key
    claims = Claims(role=DbRole.ADMIN, sub="test", site_ids=(site.id,))
    async with db.transaction(claims) as conn:
        spec = service.TestSpec(
            test_id="hero",
            test_name="Hero",
            variants=[{"name": "A"}, {"name": "B"}, {"name": "C", "weight": 2}],
            goal={"type": "form_lead"},
        )
        await service.create(conn, site.id, spec)
        await service.move(conn, site.id, "hero", "active", datetime.now(UTC))
    fixture_site.site_id, fixture_site.api_url = site.public_id, None
    fixture_site.script_src, fixture_site.attrs, fixture_site.copies = None, {}, 1
    seen: dict[str, str] = {}
    for n in range(4):
        visitor = f"fp-browser-{n}"
        ctx = await browser.new_context(user_agent=CHROME)
        requests: list[str] = []
        try:
            await ctx.add_init_script(f"localStorage.setItem('leadtrail_fp', '{visitor}')")
            page = await ctx.new_page()
            page.on("request", lambda r, seen=requests: seen.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e, found=errors: found.append(str(e)))

            offer = f"experiment.html?api={server.url}&site={site.public_id}"
            await page.goto(fixture_site.page(offer))
            early = await page.evaluate("window.__early")
            assert early in ("A", "B", "C")
            assert await page.evaluate("document.documentElement.dataset.hero") == early
            # core.js replaced window.leadtrail with its API; variant() survived, unchanged
            await page.wait_for_function(
                "leadtrail._initialized === true && !!leadtrail.sessionId()"
            )
            assert await page.evaluate("leadtrail.variant('hero')") == early
            assert await page.evaluate("leadtrail.variant('unknown')") is None
            # a page with only the standard snippet gets variant() once the site script loaded
            await page.goto(fixture_site.page("index.html"))
            await page.wait_for_function("typeof leadtrail.variant === 'function'")
            assert await page.evaluate("leadtrail.variant('hero')") == early
            await page.evaluate("leadtrail.flush()")
            await page.wait_for_function("!localStorage.leadtrail_outbox", timeout=15_000)
            assert errors == []
        finally:
            await ctx.close()
        leadtrail_paths = {urlsplit(u).path for u in requests if u.startswith(server.url)}
        # no request of its own: the tracker, the site script and the usual batches only
        assert leadtrail_paths <= {
            "/assets/core.js",
            f"/assets/site/{site.public_id}.js",
            "/api/sync",
        }
        async with httpx.AsyncClient(base_url=server.url) as client:
            answer = await client.get(
                "/api/experiments/hero/assignment",
                params={"site_id": site.public_id, "visitor": visitor},
                headers={"Authorization": f"Bearer {key}"},
            )
        assert answer.status_code == 200, answer.text
        assert answer.json()["variant"] == early
        seen[visitor] = early
    # each session's exposure reached variant_assignments once, with what the page showed
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.get(
            "/api/experiments/hero/results",
            params={"site_id": site.public_id},
            headers={"Authorization": f"Bearer {key}"},
        )
    assert r.status_code == 200, r.text
    rows = await owner.fetch(
        "SELECT unit, variant FROM variant_assignments WHERE site_id = $1 AND test_id = 'hero'",
        site.id,
    )
    assert sorted((r["unit"], r["variant"]) for r in rows) == sorted(seen.items())
