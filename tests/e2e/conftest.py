"""Browser fixtures: Debian's chromium driven by Playwright, screenshots kept as artifacts."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.conftest import LiveServer
from tests.e2e.sites import FakeApi, FixtureSite, serve_fake_api, serve_fixture_site

_test_ids = itertools.count(1)
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # The machine has no internet; without these chromium keeps dialling Google.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("LEADTRAIL_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed; scripts/test installs Debian's package")
    return path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context()
    try:
        yield ctx
    finally:
        await ctx.close()


class ConsoleErrors(list[str]):
    """Console errors and uncaught exceptions seen by a page."""


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    tab = await context.new_page()
    errors = ConsoleErrors()
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.console_errors = errors  # type: ignore[attr-defined]
    yield tab


def screenshot_path(name: str) -> Path:
    """Where a test saves a screenshot artifact."""
    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


@pytest.fixture(scope="module")
def fixture_site(server: LiveServer) -> Iterator[FixtureSite]:
    """A customer's website on its own origin whose pages embed the tracker served by the
    live leadtrail ``server`` (see tests/e2e/sites.py). Point ``api_url`` where events go."""
    with serve_fixture_site(server.url) as site:
        yield site


@pytest.fixture(scope="module")
async def fake_api_server() -> AsyncIterator[FakeApi]:
    with serve_fake_api(asyncio.get_running_loop()) as api:
        yield api


@pytest.fixture
def fake_api(fake_api_server: FakeApi) -> FakeApi:
    """A recording stand-in for /api/sync, /api/identify and /api/leads, emptied per test."""
    fake_api_server.reset()
    return fake_api_server


@pytest.fixture
def site(fixture_site: FixtureSite, fake_api: FakeApi) -> Iterator[FixtureSite]:
    """The fixture website with the default snippet, sending to ``fake_api``."""
    fixture_site.script_src = None
    fixture_site.attrs = {}
    fixture_site.copies = 1
    # A new site id per test: a beacon from the previous test's closing page is not ours.
    fixture_site.site_id = fake_api.expect_site = f"fixture_{next(_test_ids)}"
    fixture_site.api_url = fake_api.url
    yield fixture_site
