"""Do-Not-Track and Global Privacy Control (when the snippet asks), opt-out and opt-in.

Proving that nothing is sent needs an event to wait for: each test ends by loading a page that
does track (a marker), and everything the stand-in received must come from that page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.sites import FakeApi, FixtureSite
from tests.e2e.tracking import freeze_clock, storage

SIGNALS = {
    "dnt": "Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})",
    "gpc": "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})",
}


async def browse(tab: Page) -> None:
    """A visit that would send many events."""
    await tab.click("#tel")
    await tab.hover("#cta")
    await tab.clock.run_for(31_000)
    await tab.evaluate("leadtrail.send('conversion', 'cta_click')")
    await tab.evaluate("leadtrail.identify({email: 'ada@example.com'})")
    await tab.click("#next")
    await tab.wait_for_url("**/page2.html")
    await tab.clock.run_for(31_000)


async def only_marker_sent(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    """Load a tracking page, wait for its view, check nothing else was ever sent."""
    site.attrs = {}
    await tab.goto(site.page("page2.html?marker"))
    await tab.clock.run_for(2000)
    await fake_api.wait_event("acquisition/view", u=site.page("page2.html?marker"))
    assert [(s.path, [e["ea"] for e in s.events]) for s in fake_api.sent] == [
        ("/api/sync", ["view"])
    ]


@pytest.fixture(params=sorted(SIGNALS))
async def private_tab(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A browser that sends Do-Not-Track or Global Privacy Control."""
    ctx = await browser.new_context()
    await ctx.add_init_script(SIGNALS[request.param])
    page = await ctx.new_page()
    await freeze_clock(page)
    try:
        yield page
    finally:
        await ctx.close()


async def test_signal_honoured_when_the_snippet_says_so(
    private_tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    site.attrs = {"data-respect-dnt": ""}
    await private_tab.goto(site.page("index.html"))
    assert await private_tab.evaluate("leadtrail.send('interaction', 'x')") is False
    assert await private_tab.evaluate("leadtrail.sessionId()") is None
    await browse(private_tab)
    stored = await storage(private_tab)
    assert not [k for part in stored.values() for k in part if k.startswith("leadtrail")]
    await only_marker_sent(private_tab, site, fake_api)


@pytest.mark.parametrize("attribute", [None, "false"])
async def test_signal_ignored_otherwise(
    private_tab: Page, site: FixtureSite, fake_api: FakeApi, attribute: str | None
) -> None:
    """Without data-respect-dnt the browser's signal travels to the server, which applies the
    site's own respect_dnt setting."""
    site.attrs = {} if attribute is None else {"data-respect-dnt": attribute}
    await private_tab.goto(site.page("index.html"))
    await private_tab.clock.run_for(2000)
    await fake_api.wait_event("acquisition/view")


async def test_opt_out_and_back_in(page: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await freeze_clock(page)
    await page.goto(site.page("index.html"))
    await page.clock.run_for(2000)
    first = await fake_api.wait_event("acquisition/view")
    # Wait until the browser has handled the view's answer (the outbox is empty again): the
    # session token in that answer makes the tracker flush its queue at once, which would
    # otherwise race the event queued below and send it before the opt-out.
    await page.wait_for_function("!localStorage.getItem('leadtrail_outbox')", polling=50)
    await page.evaluate("leadtrail.send('interaction', 'queued_before_opt_out')")
    await page.evaluate("leadtrail.optOut()")
    assert await page.evaluate("leadtrail.sessionId()") is None
    stored = await storage(page)
    assert (
        stored["local"] == {"leadtrail_optout": "1"}
        and "leadtrail_session" not in stored["session"]
    )

    await browse(page)  # opted out: nothing, on this page and the next
    await page.goto(site.page("index.html"))
    await browse(page)
    assert [e["eid"] for e in fake_api.events] == [first["eid"]], [
        (e.get("ec"), e.get("ea")) for e in fake_api.events
    ]

    await page.evaluate("leadtrail.optIn()")  # tracking starts again with a new session
    await page.clock.run_for(2000)
    back = await fake_api.wait_event("acquisition/view", u=site.page("page2.html"))
    assert back["sid"] != first["sid"]
    assert not fake_api.find("interaction/queued_before_opt_out")
