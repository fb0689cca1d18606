"""Small helpers shared by the tracker's browser tests."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.async_api import Page

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
EID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


async def set_visibility(page: Page, state: str) -> None:
    """Make the page report ``state`` and fire ``visibilitychange``, as a tab switch does
    (a headless browser never hides its only tab)."""
    await page.evaluate(
        """state => {
            Object.defineProperty(document, 'visibilityState', {value: state, configurable: true});
            Object.defineProperty(document, 'hidden', {value: state === 'hidden', configurable: true});
            document.dispatchEvent(new Event('visibilitychange'));
        }""",
        state,
    )


async def storage(page: Page) -> dict[str, Any]:
    """The page's localStorage and sessionStorage."""
    result: dict[str, Any] = await page.evaluate(
        "({local: {...localStorage}, session: {...sessionStorage}})"
    )
    return result


async def freeze_clock(page: Page) -> int:
    """Install Playwright's fake clock and stop it: from here on time moves only with
    ``page.clock.run_for`` / ``fast_forward``, so timers fire exactly when a test says.
    Returns the frozen time (ms since the epoch)."""
    now = int(time.time() * 1000)
    await page.clock.install(time=now - 1000)
    await page.clock.pause_at(now)
    return now
