"""Settings > System in a real browser: a live component and one that went silent (dead),
the scheduler's leader with its fencing token, a webhook endpoint whose deliveries failed
into the dead letters, and the Replay button delivering one to a real local receiver that
verifies the signature with ``standardwebhooks``."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest
from playwright.async_api import Page, expect

from leadtrail.auth.api_keys import create_key
from leadtrail.auth.users import create_user
from leadtrail.config import Settings
from leadtrail.sites.service import create_site
from leadtrail.storage import Claims, Database, DbRole
from leadtrail.webhooks import outbox
from tests.conftest import LiveServer, free_port, make_settings
from tests.e2e.conftest import screenshot_path
from tests.integration.webhook_receiver import Receiver, running

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return make_settings(
        tmp_path_factory,
        webhook_retry_base=0.05,
        webhook_retry_cap=0.2,
        webhook_retry_window=2,
        webhook_idle_interval=0.05,
    )


@pytest.fixture(scope="module")
async def world(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        user = await create_user(conn, "ops@example.com", PASSWORD, is_superuser=True)
        site = await create_site(
            conn, name="Ops Co", domain="ops.example", owner_id=user.id, timezone="UTC"
        )
        key = await create_key(conn, site.id, name="admin", scopes=["admin"])
    return {"site": site, "key": key.key}


async def test_system_page_shows_components_leaders_and_replays_a_dead_letter(
    page: Page,
    server: LiveServer,
    client: httpx.AsyncClient,
    world: dict[str, Any],
    db: Database,
    owner: asyncpg.Connection,
) -> None:
    site, auth = world["site"], {"Authorization": f"Bearer {world['key']}"}
    for cid in ("crm-sync-live", "crm-sync-gone"):
        beat = {"component_type": "crm-sync", "component_id": cid, "status": "healthy"}
        posted = await client.post("/api/heartbeats", json=beat, headers=auth)
        assert posted.status_code == 201, posted.text
    # crm-sync-gone last beat three minutes ago: past the default 2 minutes, so dead
    await owner.execute(
        "UPDATE realtime_heartbeats SET heartbeat_timestamp = now() - interval '3 minutes' "
        "WHERE component_id = 'crm-sync-gone'"
    )

    # An endpoint nobody listens on yet: the delivery fails until it is dead-lettered.
    port = free_port()
    created = await client.post(
        "/api/webhooks",
        json={"url": f"http://127.0.0.1:{port}/hook", "events": ["lead.created"]},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    claims = Claims(role=DbRole.ADMIN, sub="test", site_ids=(site.id,))
    async with db.transaction(claims) as conn:
        await outbox.emit(conn, site.id, "lead.created", {"email": "replay-me@example.com"})
    log_url = f"/api/webhooks/{endpoint['id']}/deliveries"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as poll:
        for _ in range(600):  # the retry window is 2 s in this module
            rows = (await poll.get(log_url, headers=auth)).json()
            if rows and rows[0]["status"] == "dead":
                break
            await poll.get("/healthz")  # pace on a round trip
    (dead,) = rows
    assert dead["status"] == "dead" and dead["attempts"] >= 2

    await page.goto(f"{server.url}/dashboard/")
    await page.get_by_label("Email").fill("ops@example.com")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.locator(".nav").get_by_role("link", name="Settings").click()
    await page.get_by_role("link", name="System: components, leaders, webhooks").click()
    await expect(page.get_by_role("heading", name="System · Ops Co")).to_be_visible()

    components = page.locator("#system-components")
    live = components.locator('tr[data-component="crm-sync/crm-sync-live"]')
    gone = components.locator('tr[data-component="crm-sync/crm-sync-gone"]')
    await expect(live.locator("[data-status]")).to_have_text("healthy")
    await expect(live).to_have_attribute("data-dead", "false")
    await expect(gone.locator("[data-status]")).to_have_text("dead")
    await expect(gone).to_have_attribute("data-dead", "true")
    await expect(components).to_contain_text("no heartbeat for 2m 00s is dead")

    leaders = page.locator("#system-leaders")
    scheduler = leaders.locator('tr[data-lease="scheduler"]')
    await expect(scheduler).to_be_visible()
    lease = await owner.fetchrow(
        "SELECT holder, token FROM leadtrail.leases WHERE name = 'scheduler'"
    )
    assert lease is not None
    await expect(scheduler).to_contain_text(lease["holder"])
    await expect(scheduler).to_contain_text(str(lease["token"]))

    hooks = page.locator("#system-webhooks")
    await expect(hooks).to_contain_text(f"http://127.0.0.1:{port}/hook")
    letter = hooks.locator(f'tr[data-delivery="{dead["webhook_id"]}"][data-status="dead"]')
    await expect(letter.first).to_be_visible()
    # the recorded cause of the last failure (the client's error: nobody listens on the port)
    assert dead["last_error"], dead
    await expect(letter.first).to_contain_text(dead["last_error"][:40])
    await page.screenshot(path=screenshot_path("system-page-dead-letter"), full_page=True)

    # The receiver comes up; Replay sends the dead letter again with the same webhook-id.
    async with running(Receiver(secret=endpoint["secret"], port=port)) as receiver:
        await letter.last.get_by_role("button", name=f"Replay {dead['webhook_id']}").click()
        await receiver.wait_for(lambda r: len(r.delivered()) == 1, timeout=30)
        (got,) = receiver.delivered()
        assert got.webhook_id == dead["webhook_id"] and receiver.bad_signatures == 0
        assert got.payload["data"]["email"] == "replay-me@example.com"
        delivered = hooks.locator(
            f'tr[data-delivery="{dead["webhook_id"]}"][data-status="delivered"]'
        )
        await expect(delivered).to_be_visible(timeout=20_000)
        await expect(hooks.locator('tr[data-status="dead"]')).to_have_count(0)
    await page.screenshot(path=screenshot_path("system-page-replayed"), full_page=True)
    assert page.console_errors == []  # type: ignore[attr-defined]
