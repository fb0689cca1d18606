"""The dashboard's Friction and Funnels pages in Debian's chromium: friction points and the
click map of stored behaviour, and a funnel created, reported and edited in the page."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Browser, Page, expect

from leadtrail.auth.users import create_user
from leadtrail.behaviour.job import BehaviourJob
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer, ModuleDatabase

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
async def world(db: Database, test_database: ModuleDatabase) -> dict[str, Any]:
    async with db.system() as conn:
        user = await create_user(conn, "fran@example.com", PASSWORD, name="Fran")
        site = await create_site(
            conn, name="Friction shop", domain="127.0.0.1", owner_id=user.id, timezone="UTC"
        )
    owner = await asyncpg.connect(test_database.owner_dsn)
    now = datetime.now(UTC) - timedelta(hours=1)
    month = date(now.year, now.month, 1)
    try:
        for i in range(6):
            sid = uuid.uuid4()
            t = now + timedelta(minutes=i)
            await owner.execute(
                "INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at, device_type) "
                "VALUES ($1, $2, $3, $4, $4, 'desktop')",
                site.id, sid, month, t,
            )  # fmt: skip
            await owner.execute(
                "INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category, event_action) "
                "VALUES ($1, $2, $3, $4, 'http://127.0.0.1/', 'acquisition', 'view')",
                site.id, sid, month, t,
            )  # fmt: skip
            if i % 2:
                await owner.execute(
                    "INSERT INTO leads (site_id, session_id, session_month, submitted_at) VALUES ($1, $2, $3, $4)",
                    site.id, sid, month, t + timedelta(seconds=30),
                )  # fmt: skip
            for k in range(2):
                await owner.execute(
                    "INSERT INTO behavior_events (site_id, session_id, id, session_month, created_at, event_type, "
                    "page_url, page_path, device_class, element_path, element_type, coordinates) "
                    "VALUES ($1, $2, $3, $4, $5, 'rage_click', 'http://127.0.0.1/', '/', 'desktop', 'button#buy', "
                    "'button', '{\"px\": 100, \"py\": 50, \"pw\": 1000, \"ph\": 2000}')",
                    site.id, sid, uuid.uuid4(), month, t + timedelta(seconds=k),
                )  # fmt: skip
        await owner.execute(
            "INSERT INTO leadtrail.behaviour_dirty VALUES ($1, $2) ON CONFLICT DO NOTHING",
            site.id,
            now.date(),
        )
    finally:
        await owner.close()
    await BehaviourJob(db).run_once()
    return {"site": site}


async def log_in(page: Page, server: LiveServer) -> None:
    await page.goto(f"{server.url}/dashboard/")
    await page.get_by_label("Email").fill("fran@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Live feed")).to_be_visible()


async def test_friction_page_shows_points_and_the_click_map(
    browser: Browser, server: LiveServer, world: dict[str, Any]
) -> None:
    ctx = await browser.new_context()
    try:
        page = await ctx.new_page()
        await log_in(page, server)
        await page.get_by_role("link", name="Friction").click()
        await expect(page.get_by_role("heading", name="Friction", exact=True)).to_be_visible()
        points = page.locator("#friction-points")
        await expect(points.get_by_text("button#buy")).to_be_visible()
        await expect(points.locator("tbody tr").first).to_contain_text("12")
        image = page.locator("#click-map img.click-map")
        await expect(image).to_be_visible()
        # decode() settles once the SVG has loaded (or fails if it cannot be shown)
        assert await image.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        await expect(page.locator("#click-map tbody tr").first).to_contain_text("button#buy")
    finally:
        await ctx.close()


async def test_a_funnel_is_created_reported_and_edited_in_the_page(
    browser: Browser, server: LiveServer, world: dict[str, Any]
) -> None:
    ctx = await browser.new_context()
    try:
        page = await ctx.new_page()
        await log_in(page, server)
        await page.get_by_role("link", name="Funnels").click()
        editor = page.locator("#funnel-editor")
        await expect(editor.get_by_role("heading", name="New funnel")).to_be_visible()
        await editor.get_by_label("Funnel name").fill("Home to lead")
        # the first default step is a page step on "/", the second a lead
        await editor.get_by_role("button", name="Create funnel").click()
        report = page.locator("#funnel-report")
        await expect(report.locator("tbody tr").nth(0)).to_contain_text("6")
        await expect(report.locator("tbody tr").nth(1)).to_contain_text("3")
        # an invalid change is refused with the field named, then a valid one is saved
        await editor.locator("input[data-key=url]").fill("")
        await editor.get_by_role("button", name="Save funnel").click()
        await expect(editor.get_by_role("alert")).to_contain_text("steps[0].url")
        await editor.locator("input[data-key=url]").fill("/*")
        await editor.get_by_label("Funnel name").fill("Any page to lead")
        await editor.get_by_role("button", name="Save funnel").click()
        await expect(page.get_by_label("Funnel").locator("option")).to_have_text(
            ["Any page to lead"]
        )
        await expect(report.locator("tbody tr").nth(1)).to_contain_text("3")
    finally:
        await ctx.close()


async def test_capture_is_turned_on_in_settings(
    browser: Browser, server: LiveServer, world: dict[str, Any], test_database: ModuleDatabase
) -> None:
    ctx = await browser.new_context()
    try:
        page = await ctx.new_page()
        await log_in(page, server)
        await page.get_by_role("link", name="Settings").click()
        form = page.locator("#behaviour-settings")
        await form.get_by_label("Capture behaviour on this site").check()
        await form.get_by_label("Sessions captured (%)").fill("25")
        await form.get_by_role("button", name="Save capture").click()
        await expect(page.locator("#toast")).to_contain_text("Behaviour capture saved")
    finally:
        await ctx.close()
    owner = await asyncpg.connect(test_database.owner_dsn)
    try:
        stored = await owner.fetchval(
            "SELECT settings -> 'behaviour' FROM sites WHERE id = $1", world["site"].id
        )
    finally:
        await owner.close()
    assert stored == '{"enabled": true, "sample_rate": 0.25}'
