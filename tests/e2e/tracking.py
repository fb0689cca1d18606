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
    now = int(time.time())  # Playwright takes seconds here
    await page.clock.install(time=now - 1)
    await page.clock.pause_at(now)
    return now * 1000


# Counts answers the tracker has finished handling: the counter moves two microtasks after
# the response body was read, so after the tracker's own handler has updated its outbox.
COUNT_ANSWERS = """
window.__answers = 0;
const text = Response.prototype.text;
Response.prototype.text = function () {
    const body = text.call(this);
    body.finally(() => queueMicrotask(() => queueMicrotask(() => window.__answers++)));
    return body;
};
"""


async def answered(page: Page, count: int) -> None:
    """Wait until the tracker has handled ``count`` answers (needs ``COUNT_ANSWERS``)."""
    await page.wait_for_function(f"window.__answers >= {count}")
