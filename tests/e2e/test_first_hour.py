"""The first hour of a new user, end to end: `leadtrail serve` on an empty data directory, log
in with the printed password, add a site in the dashboard, paste its snippet into a page, see
the visit live, post a lead and a call, open the person. Screenshots at desktop and phone size
are kept in artifacts/screenshots/first-hour-*.png."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.conftest import free_port
from tests.e2e.conftest import screenshot_path
from tests.e2e.sites import serve_fixture_site
from tests.e2e.test_tracker_live import CHROME

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


class Server:
    def __init__(self, url: str, email: str, password: str) -> None:
        self.url, self.email, self.password = url, email, password


@pytest.fixture(scope="module")
def fresh_server(
    tmp_path_factory: pytest.TempPathFactory, cli_env: dict[str, str]
) -> Iterator[Server]:
    """`leadtrail serve` as a new user runs it: nothing but an empty data directory."""
    port = free_port()
    env = {
        **cli_env,
        "LEADTRAIL_DATA_DIR": str(tmp_path_factory.mktemp("first-hour")),
        "LEADTRAIL_EMBEDDED_SHARED_BUFFERS": "128MB",
        "LEADTRAIL_PORT": str(port),
        "LEADTRAIL_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "leadtrail", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    found: dict[str, str] = {}
    deadline = time.monotonic() + 90
    # The banner is printed once the server is set up; read it line by line as a user would.
    while time.monotonic() < deadline and len(found) < 2:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        if m := re.match(r"\s+(email|password)\s+(\S+)", line):
            found[m[1]] = m[2]
    assert len(found) == 2, "no first-run banner"
    url = f"http://127.0.0.1:{port}"
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)  # another process's port: no event to await
    try:
        yield Server(url, found["email"], found["password"])
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        proc.stdout.close()


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=screenshot_path(f"first-hour-{name}"), full_page=True)


async def no_sideways_scroll(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{page.url} scrolls sideways"  # type: ignore[index]


async def test_the_first_hour(browser: Browser, fresh_server: Server, tmp_path: Path) -> None:
    server = fresh_server
    admin: BrowserContext = await browser.new_context(viewport=DESKTOP, user_agent=CHROME)
    visitor: BrowserContext = await browser.new_context(viewport=DESKTOP, user_agent=CHROME)
    try:
        page = await admin.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"{server.url}/")
        await page.get_by_label("Email").fill(server.email)
        await page.get_by_label("Password").fill(server.password)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", name="Live feed")).to_be_visible()

        # add a site from the Account page
        await page.get_by_role("link", name=server.email).click()
        await page.get_by_label("Name").fill("Corner Bakery")
        await page.get_by_label("Domain").fill("localhost")
        await page.get_by_role("button", name="Add site").click()
        await expect(page.get_by_role("heading", name="Settings · Corner Bakery")).to_be_visible()
        snippet = await page.locator("#snippet-code").inner_text()
        public_id = re.search(r'data-site-id="([^"]+)"', snippet)[1]  # type: ignore[index]
        assert f'src="{server.url}/assets/core.js"' in snippet or "/assets/core.js" in snippet
        await shot(page, "settings-desktop")

        # paste the snippet into a page and visit it from an ad
        await page.get_by_role("link", name="Live").click()
        with serve_fixture_site(server.url) as shop:
            shop.site_id, shop.script_src, shop.api_url, shop.attrs = public_id, None, None, {}
            tab = await visitor.new_page()
            await tab.goto(
                shop.page("index.html?gclid=FIRST-HOUR&utm_source=google&utm_campaign=bread")
            )
            sid = await tab.evaluate("leadtrail.sessionId()")
            fp = await tab.evaluate("localStorage.leadtrail_fp")
            card = page.locator(".feed .card").first
            await expect(card).to_be_visible(timeout=20_000)
            await shot(page, "live-desktop")

            # a lead and a call from the site's server, with a key made in Settings
            await page.get_by_role("link", name="Settings").click()
            await page.locator("input[name=key_name]").fill("website")
            await page.get_by_role("button", name="Create key").click()
            secret = await page.locator(".reveal code.secret").inner_text()
            await page.get_by_role("link", name="Live").click()
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                auth = {"Authorization": f"Bearer {secret}"}
                lead = await http.post(
                    "/api/leads",
                    headers=auth,
                    json={
                        "site_id": public_id,
                        "session_id": sid,
                        "name": "Maria Baker",
                        "email": "maria@example.com",
                        "phone": "+14195550188",
                        "message": "Wedding cake?",
                    },
                )
                assert lead.status_code in (200, 201), lead.text
                call = await http.post(
                    "/api/call-event",
                    headers=auth,
                    json={"site_id": public_id, "phone_number": "+14195550188", "fingerprint": fp},
                )
                assert call.status_code in (200, 201), call.text
            await tab.close()

        # open the person: named, with the visit, the lead and the call on one timeline
        # the identity resolver (every second in the server) links the visit to a person; the
        # live card learns it over the realtime socket
        person_link = page.get_by_role("link", name="Open person →").first
        await expect(person_link).to_be_visible(timeout=20_000)
        # the live card re-renders as changes stream in: follow its link rather than race a
        # click against a re-render
        await page.goto(f"{server.url}/dashboard/{await person_link.get_attribute('href')}")
        await expect(page.get_by_role("heading", name="Maria Baker")).to_be_visible(timeout=15_000)
        timeline = page.locator(".timeline")
        await expect(timeline.locator(".tl-visit")).to_have_count(1)
        await expect(timeline.locator(".tl-lead")).to_contain_text("Wedding cake?")
        await expect(timeline.locator(".tl-call")).to_have_count(1)
        await expect(page.locator(".panel", has_text="How they found us")).to_contain_text("google")
        await shot(page, "person-desktop")
        person_url = page.url
        assert errors == []

        # the same pages on a phone
        phone = await browser.new_context(
            viewport=PHONE,
            is_mobile=True,
            user_agent=CHROME,
            storage_state=await admin.storage_state(),
        )
        try:
            small = await phone.new_page()
            pages = (
                ("live", f"{server.url}/dashboard/#/live", "Live feed"),
                ("person", person_url, "Maria Baker"),
            )
            for name, url, heading in pages:
                await small.goto(url)
                await expect(small.get_by_role("heading", name=heading)).to_be_visible()
                await expect(small.get_by_role("link", name="Settings")).to_be_in_viewport()
                await no_sideways_scroll(small)
                await shot(small, f"{name}-phone")
        finally:
            await phone.close()
    finally:
        await admin.close()
        await visitor.close()
