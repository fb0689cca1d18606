"""The browser fixture works against the live server."""

from __future__ import annotations

import json

from playwright.async_api import Page

from tests.conftest import LiveServer


async def test_chromium_reaches_the_server(page: Page, server: LiveServer) -> None:
    response = await page.goto(f"{server.url}/healthz")
    assert response is not None and response.status == 200
    assert json.loads(await page.inner_text("body")) == {"status": "ok"}
    assert page.console_errors == []  # type: ignore[attr-defined]
