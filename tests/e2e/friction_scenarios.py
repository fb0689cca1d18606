"""Scripted browser sessions with known friction (the ground truth), shared by the browser
test (tests/e2e/test_behaviour_capture.py) and the accuracy benchmark
(bench/friction_accuracy.py).

Each scenario runs in a fresh browser context (a new tab session) on
``fixtures/behaviour.html`` and says how many of each friction type a person watching would
count. Pauses are part of the behaviour being scripted (a hesitation is a duration; a dead
click is a click after which nothing happens for a while), not waits for the code under test.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from playwright.async_api import Browser, Page

TYPES = ("rage_click", "dead_click", "hesitation", "form_abandon", "error")
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
#: longer than the dead-click threshold (1 s): the page stays unchanged
QUIET = 1400


async def _center(page: Page, selector: str, dx: float = 0) -> tuple[float, float]:
    box = await page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2


async def rage(page: Page, selector: str, clicks: int = 4) -> None:
    x, y = await _center(page, selector)
    for i in range(clicks):
        await page.mouse.click(x + i, y)
        await asyncio.sleep(0.08)
    await page.wait_for_timeout(QUIET)


async def dead(page: Page, selector: str, dx: float = 0) -> None:
    x, y = await _center(page, selector, dx)
    await page.mouse.click(x, y)
    await page.wait_for_timeout(QUIET)


async def hesitate(page: Page, selector: str, ms: int = 2600) -> None:
    await page.hover(selector)
    await page.wait_for_timeout(ms)
    await page.click(selector)
    await page.wait_for_timeout(300)


async def plain_click(page: Page, selector: str) -> None:
    await page.hover(selector)
    await page.wait_for_timeout(200)
    await page.click(selector)
    await page.wait_for_timeout(QUIET)


async def fill_form(page: Page, values: Iterable[tuple[str, str]]) -> None:
    for selector, value in values:
        await page.click(selector)
        await page.keyboard.type(value, delay=15)


async def error(page: Page) -> None:
    await page.click("#boom")
    await page.wait_for_timeout(QUIET)


FORM = [
    ("#name", "Ada Lovelace"),
    ("#email", "ada.private@example.org"),
    ("#phone", "+1 555 987 6543"),
]


async def _rage(page: Page) -> None:
    await rage(page, "#buy")
    await rage(page, "#buy")
    await plain_click(page, "#works")


async def _dead(page: Page) -> None:
    await dead(page, "#static", -80)
    await dead(page, "#static", 80)
    await plain_click(page, "#works")


async def _hesitation(page: Page) -> None:
    await hesitate(page, "#works")
    await plain_click(page, "#buy")
    await hesitate(page, "#buy", 3200)


async def _abandon(page: Page) -> None:
    await fill_form(page, FORM)
    await page.click("#away")
    await page.wait_for_load_state()


async def _errors(page: Page) -> None:
    await error(page)
    await error(page)


async def _clean(page: Page) -> None:
    await fill_form(page, FORM)
    await page.click("#send")
    await page.wait_for_timeout(300)
    await plain_click(page, "#works")


async def _mixed(page: Page) -> None:
    await rage(page, "#buy", 5)
    await dead(page, "#static")
    await hesitate(page, "#works", 2300)
    await error(page)
    await fill_form(page, FORM[:2])
    await page.click("#away")
    await page.wait_for_load_state()


@dataclass(frozen=True)
class Scenario:
    name: str
    truth: dict[str, int]
    act: Callable[[Page], Awaitable[None]]


SCENARIOS = (
    Scenario("rage", {"rage_click": 2}, _rage),
    Scenario("dead", {"dead_click": 2}, _dead),
    Scenario("hesitation", {"hesitation": 2}, _hesitation),
    Scenario("abandon", {"form_abandon": 1}, _abandon),
    Scenario("errors", {"error": 2}, _errors),
    Scenario("clean", {}, _clean),
    Scenario(
        "mixed",
        {"rage_click": 1, "dead_click": 1, "hesitation": 1, "error": 1, "form_abandon": 1},
        _mixed,
    ),
)


async def run_scenario(browser: Browser, url: str, scenario: Scenario) -> str:
    """Play one scenario in a new context; returns the tracker's session id once every event
    it queued has been acknowledged by the server."""
    ctx = await browser.new_context(user_agent=DESKTOP, viewport={"width": 1200, "height": 800})
    try:
        page = await ctx.new_page()
        await page.goto(url)
        await page.wait_for_function("window.leadtrail && leadtrail._bx === 1")
        sid = await page.evaluate("leadtrail.sessionId()")
        await scenario.act(page)
        await page.wait_for_function("window.leadtrail && leadtrail.sessionId()")
        await page.evaluate("leadtrail.flush()")
        await page.wait_for_function("!localStorage.leadtrail_outbox", timeout=20_000)
        return str(sid)
    finally:
        await ctx.close()


def score(
    truth: dict[str, Counter[str]], found: dict[str, Counter[str]]
) -> dict[str, dict[str, Any]]:
    """Precision and recall per type, counting per session: detections beyond the truth are
    false positives, missing ones false negatives."""
    out = {}
    for kind in TYPES:
        tp = fp = fn = 0
        for sid, want in truth.items():
            got = found.get(sid, Counter())[kind]
            tp += min(got, want[kind])
            fp += max(0, got - want[kind])
            fn += max(0, want[kind] - got)
        out[kind] = {
            "tp": tp, "fp": fp, "fn": fn,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
        }  # fmt: skip
    return out
