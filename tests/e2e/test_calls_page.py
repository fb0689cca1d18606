"""The Calls page (issue 11): how each call was matched, its tracking number, duration and
recording, why it scored, the matched/unmatched filter, matching a call by hand, and the
DNI pool's exhaustion count."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.e2e.conftest import screenshot_path
from tests.integration.people_support import add_session

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
async def world(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        owner = await create_user(conn, "calls@example.com", PASSWORD, name="Cal Owner")
        site = await create_site(
            conn, name="Calls Co", domain="127.0.0.1", owner_id=owner.id, timezone="UTC"
        )
        await conn.execute(
            "INSERT INTO dni_numbers (site_id, number) VALUES ($1, '+14195550201')", site.id
        )
        await conn.execute(
            "INSERT INTO dni_exhaustions (site_id, at) VALUES ($1, now()), ($1, now())", site.id
        )
    ad = await add_session(
        db,
        site.id,
        gclid="Cj0KCQiA-page-1",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="spring",
        referrer="https://www.google.com/",
    )
    async with db.system() as conn:
        await conn.execute(
            """INSERT INTO calls (site_id, phone_number, tracking_number, match_status,
                                  match_method, matched_session_id, lead_score, duration_s,
                                  recording_url, attribution_source, channel, gclid, started_at)
               VALUES ($1, '+14195550201', '+14195550201', 'matched', 'dni', $2, 55, 95,
                       'https://recordings.example/1.mp3', 'First Click (Paid)', 'Paid Search',
                       'Cj0KCQiA-page-1', now())""",
            site.id,
            ad,
        )
        await conn.execute(
            """INSERT INTO calls (site_id, phone_number, tracking_number, caller_number,
                                  match_status, started_at)
               VALUES ($1, '+14195550300', '+14195550300', '+14195550777', 'unmatched', now())""",
            site.id,
        )
    return {"site": site, "ad": ad}


async def test_calls_page_shows_matching_and_matches_by_hand(
    page: Page, server: LiveServer, world: dict[str, Any], db: Database
) -> None:
    await page.goto(f"{server.url}/dashboard/")
    await page.get_by_label("Email").fill("calls@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.locator(".nav").get_by_role("link", name="Calls").click()
    await expect(page.get_by_role("heading", name="Call monitor")).to_be_visible()

    matched = page.locator(".call", has_text="+14195550201").first
    await expect(matched).to_contain_text("Matched · tracking number (DNI)")
    await expect(matched).to_contain_text("1m 35s")
    await expect(matched.get_by_role("link", name="Listen")).to_have_attribute(
        "href", "https://recordings.example/1.mp3"
    )
    await expect(matched).to_contain_text("Why it scored: conversion +50 · google referrer +5")
    await expect(matched.locator(".score")).to_have_text("55")
    await expect(page.locator("[data-dni]")).to_contain_text("pool exhausted 2 times")
    await page.screenshot(path=str(screenshot_path("calls-page")), full_page=True)

    await page.get_by_label("Show calls").select_option("unmatched")
    await expect(page.locator(".call")).to_have_count(1)
    lonely = page.locator(".call", has_text="+14195550777")
    await expect(lonely).to_contain_text("No match")
    await lonely.get_by_label("Match to session id").fill(str(world["ad"]))
    await lonely.get_by_role("button", name="Match").click()
    await expect(page.locator(".call")).to_have_count(0)  # it is matched now: filtered out
    await page.get_by_label("Show calls").select_option("matched")
    by_hand = page.locator(".call", has_text="+14195550777")
    await expect(by_hand).to_contain_text("Matched · matched by hand")
    await expect(by_hand).to_contain_text("Paid Search")
    async with db.system() as conn:
        row = await conn.fetchrow(
            "SELECT match_method, gclid FROM calls WHERE site_id = $1 AND caller_number = $2",
            world["site"].id,
            "+14195550777",
        )
    assert dict(row) == {"match_method": "manual", "gclid": "Cj0KCQiA-page-1"}


async def test_settings_set_a_provider_secret_and_grow_the_pool(
    page: Page, server: LiveServer, world: dict[str, Any], db: Database
) -> None:
    await page.goto(f"{server.url}/dashboard/")
    await page.get_by_label("Email").fill("calls@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("link", name="Settings").click()
    box = page.get_by_role("region", name="Call tracking")
    await expect(box).to_contain_text("+14195550201")
    await box.get_by_label("Webhook signing secret").fill("a-shared-signing-secret-42")
    await box.locator("[data-provider=hmac]").get_by_role("button", name="Save").click()
    await expect(box.locator(".webhook-url")).to_have_text(
        f"{server.url}/api/webhooks/calls/{world['site'].public_id}"
    )
    await box.get_by_label("Tracking number").fill("+1 419 555 0202")
    await box.get_by_role("button", name="Add to pool").click()
    await expect(box).to_contain_text("+14195550202")
    async with db.system() as conn:
        kinds = await conn.fetch(
            "SELECT kind, secret_encrypted FROM call_providers WHERE site_id = $1", world["site"].id
        )
        numbers = await conn.fetch(
            "SELECT number FROM dni_numbers WHERE site_id = $1 ORDER BY number", world["site"].id
        )
    assert [r["kind"] for r in kinds] == ["hmac"]
    assert "a-shared-signing-secret-42" not in kinds[0]["secret_encrypted"]
    assert [r["number"] for r in numbers] == ["+14195550201", "+14195550202"]
