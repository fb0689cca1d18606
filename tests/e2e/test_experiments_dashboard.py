"""The Experiments and Proposals pages in Debian's chromium: create and start a test, read
results with intervals and the SRM warning, pause; move a proposal through its states."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from playwright.async_api import Page, expect

from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.e2e.conftest import screenshot_path
from tests.integration.experiments_support import seed_arm

PASSWORD = "correct horse"


@pytest.fixture(scope="module")
async def world(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        owner = await create_user(conn, "xp@example.com", PASSWORD, name="Exp Owner")
        site = await create_site(
            conn, name="Exp Co", domain="127.0.0.1", owner_id=owner.id, timezone="UTC"
        )
    return {"site": site}


@pytest.fixture
async def logged_in(page: Page, server: LiveServer, world: dict[str, Any]) -> AsyncIterator[Page]:
    await page.goto(f"{server.url}/dashboard/")
    await page.get_by_label("Email").fill("xp@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", name="Live feed")).to_be_visible()
    yield page
    assert page.console_errors == []  # type: ignore[attr-defined]


async def test_create_start_read_results_with_srm_warning_and_pause(
    logged_in: Page, server: LiveServer, world: dict[str, Any], owner: asyncpg.Connection
) -> None:
    page = logged_in
    await page.get_by_role("link", name="Experiments").click()
    await expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    await page.get_by_label("Key").fill("hero")
    await page.get_by_label("Name").fill("Hero headline")
    await page.get_by_label("Sample size per variant").fill("100")
    await page.get_by_label("Start now").check()
    await page.get_by_role("button", name="Create experiment").click()
    row = page.get_by_role("row").filter(has_text="Hero headline")
    await expect(row).to_contain_text("active")
    # visitors arrive, unevenly: 300 vs 200 on a 50/50 split
    site_id = world["site"].id
    now = datetime.now(UTC)
    await seed_arm(owner, site_id, "hero", "A", 300, converters=30, at=now)
    await seed_arm(owner, site_id, "hero", "B", 200, converters=40, at=now)
    await row.get_by_role("link", name="hero").click()
    await expect(page.get_by_role("heading", name="Experiment hero")).to_be_visible()
    await expect(page.get_by_test_id("srm-warning")).to_contain_text("Sample ratio mismatch")
    results = page.get_by_role("table", name="Results")
    b_row = results.get_by_role("row").filter(has=page.get_by_role("cell", name="B", exact=True))
    await expect(b_row).to_contain_text("20%")  # 40 of 200 converted
    await expect(results).to_contain_text("…")  # intervals shown
    await page.screenshot(path=screenshot_path("experiments-results"), full_page=True)
    await page.get_by_role("link", name="All experiments").click()
    row = page.get_by_role("row").filter(has_text="Hero headline")
    await row.get_by_role("button", name="pause").click()
    await expect(row).to_contain_text("paused")
    await expect(row.get_by_role("button", name="resume")).to_be_visible()


async def test_proposals_page_moves_a_proposal(
    logged_in: Page, db: Database, world: dict[str, Any], owner: asyncpg.Connection
) -> None:
    page = logged_in
    await owner.execute(
        """INSERT INTO optimization_history (site_id, proposal_id, friction_point, change_description,
                                             ai_confidence, expected_impact)
           VALUES ($1, 'p-page', 'rage clicks on the hero image', 'link the image', 0.7, 0.12)""",
        world["site"].id,
    )
    await page.get_by_role("link", name="Proposals").click()
    row = page.get_by_role("table", name="Proposals").get_by_role("row").filter(has_text="p-page")
    await expect(row).to_contain_text("proposed")
    await row.get_by_role("button", name="approved").click()
    await expect(row).to_contain_text("approved")
    await expect(row.get_by_role("button", name="implemented")).to_be_visible()
    impact = page.get_by_role("table", name="Conversion impact")
    await expect(impact).to_contain_text("p-page")
    await page.screenshot(path=screenshot_path("proposals"), full_page=True)
    moves = await owner.fetch(
        "SELECT to_status, actor FROM proposal_transitions WHERE proposal_id = 'p-page'"
    )
    assert [(m["to_status"], m["actor"]) for m in moves] == [("approved", "user:xp@example.com")]
