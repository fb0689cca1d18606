"""Sessions, fingerprint, click ids and UTM; the seed's old storage keys are migrated."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from tests.e2e.sites import FakeApi, FixtureSite
from tests.e2e.tracking import UUID4, freeze_clock, storage

CLICK = {"gclid": "G-1", "wbraid": "W-1", "gbraid": "GB-1", "fbclid": "F-1", "msclkid": "M-1"}
UTM = {
    "source": "google",
    "medium": "cpc",
    "campaign": "spring",
    "term": "plumber",
    "content": "ad1",
}
LANDING = "&".join(
    [f"{k}={v}" for k, v in CLICK.items()] + [f"utm_{k}={v}" for k, v in UTM.items()]
)


@pytest.fixture
async def tab(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    await freeze_clock(page)  # the clock belongs to the context: every tab shares it
    yield page


async def view_on(tab: Page, fake_api: FakeApi, url: str, *, go: bool = True) -> dict[str, Any]:
    """Load ``url`` in ``tab`` (or wait for it) and return the page view it sends."""
    if go:
        await tab.goto(url)
    else:
        await tab.wait_for_url(url)
    await tab.clock.run_for(2000)
    return await fake_api.wait_event("acquisition/view", u=url)


async def test_session_id_and_fingerprint(
    tab: Page, context: BrowserContext, site: FixtureSite, fake_api: FakeApi
) -> None:
    first = await view_on(tab, fake_api, site.page("index.html"))
    await tab.click("#next")
    second = await view_on(tab, fake_api, site.page("page2.html"), go=False)
    assert UUID4.match(first["sid"]) and second["sid"] == first["sid"]
    assert second["r"] == site.page("index.html")
    stored = await storage(tab)
    assert stored["local"]["leadtrail_fp"] == first["meta"]["fp"]
    assert f'"id":"{first["sid"]}"' in stored["session"]["leadtrail_session"]
    assert await tab.evaluate("leadtrail.sessionId()") == first["sid"]

    other = await context.new_page()  # another tab: its own session, the same browser
    third = await view_on(other, fake_api, site.page("page2.html?tab=2"))
    assert UUID4.match(third["sid"]) and third["sid"] != first["sid"]
    assert third["meta"]["fp"] == first["meta"]["fp"]


async def test_new_session_after_30_minutes_without_activity(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    first = await view_on(tab, fake_api, site.page("index.html"))
    await tab.clock.fast_forward("29:00")
    await tab.click("#cta")  # activity after 29 minutes: the same session
    await tab.evaluate("leadtrail.send('interaction', 'still_here')")
    await tab.clock.run_for(2000)
    still = await fake_api.wait_event("interaction/still_here")
    assert still["sid"] == first["sid"]

    await tab.clock.fast_forward("30:00")  # the heartbeat finds 30 idle minutes: session over
    await tab.clock.run_for(2000)
    end = await fake_api.wait_event("system/session_end")
    assert end["sid"] == first["sid"]
    # It ended at its last activity (here the hover intent the click also caused).
    last = max(e["ts"] for e in fake_api.events if e["sid"] == first["sid"] and e["ec"] != "system")
    assert last >= still["ts"] and end["ev"] == (last - first["ts"]) // 1000

    await tab.click("#cta")  # back: a new session, which starts with a page view
    await tab.clock.run_for(2000)
    renewed = await fake_api.wait_for(
        lambda: [e for e in fake_api.find("acquisition/view") if e["sid"] != first["sid"]]
    )
    assert UUID4.match(renewed[0]["sid"])
    assert renewed[0]["u"] == site.page("index.html")
    assert fake_api.find("system/heartbeat", sid=first["sid"])  # it beat before going idle

    await tab.clock.fast_forward("20:00")  # 20 minutes later the next page continues it
    second = await view_on(tab, fake_api, site.page("page2.html"))
    assert second["sid"] == renewed[0]["sid"]
    await tab.clock.fast_forward("31:00")
    third = await view_on(tab, fake_api, site.page("index.html?again"))
    assert third["sid"] not in {first["sid"], second["sid"]}


async def test_click_ids_and_utm_kept_for_the_session(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    landing = await view_on(tab, fake_api, site.page(f"index.html?{LANDING}"))
    assert {k: landing["meta"].get(k) for k in CLICK} == CLICK
    assert landing["meta"]["utm"] == UTM

    await tab.click("#next")
    inner = await view_on(tab, fake_api, site.page("page2.html"), go=False)
    await tab.evaluate("leadtrail.send('conversion', 'cta_click', 'pricing')")
    cta = await fake_api.wait_event("conversion/cta_click")
    for event in (inner, cta):
        assert event["sid"] == landing["sid"]
        assert {k: event["meta"].get(k) for k in CLICK} == CLICK
        assert event["meta"]["utm"] == UTM

    # Another ad click within the session's 30 minutes is a new visit from a new campaign.
    other = await view_on(tab, fake_api, site.page("index.html?gclid=G-2"))
    assert other["sid"] != landing["sid"]
    assert other["meta"]["gclid"] == "G-2"
    assert "utm" not in other["meta"] and "fbclid" not in other["meta"]
    after = await view_on(tab, fake_api, site.page("page2.html?n=2"))
    assert (after["sid"], after["meta"]["gclid"]) == (other["sid"], "G-2")
    # Landing again with the same parameters (a reload) keeps the session.
    reload = await view_on(tab, fake_api, site.page("index.html?gclid=G-2&n=3"))
    assert reload["sid"] == other["sid"]


async def test_seed_storage_is_migrated(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await tab.goto(site.page("blank.html"))  # the same site, without the tracker
    await tab.evaluate(
        """() => {
            sessionStorage.setItem('opmantik_session_sid', 'sess_1712345678_k3j2h1');
            localStorage.setItem('opmantik_session_fp', 'fp-from-the-seed');
            sessionStorage.setItem('opmantik_session_context',
                JSON.stringify({gclid: 'OLD-G', utm_source: 'bing', utm_medium: 'cpc'}));
        }"""
    )
    view = await view_on(tab, fake_api, site.page("index.html"))
    assert UUID4.match(view["sid"])
    assert view["meta"]["fp"] == "fp-from-the-seed"
    assert view["meta"]["gclid"] == "OLD-G"
    assert view["meta"]["utm"] == {"source": "bing", "medium": "cpc"}
    stored = await storage(tab)
    assert not [k for part in stored.values() for k in part if k.startswith("opmantik")]
    assert stored["local"]["leadtrail_fp"] == "fp-from-the-seed"

    # A seed session id that is already a UUID v4 is kept, a bare context is a gclid.
    keep = "0b6f5f8e-9a4c-4d2b-8e7f-1a2b3c4d5e6f"
    await tab.goto(site.page("blank.html"))
    await tab.evaluate(
        """sid => {
            sessionStorage.clear();
            sessionStorage.setItem('opmantik_session_sid', sid);
            sessionStorage.setItem('opmantik_session_context', 'BARE-GCLID');
        }""",
        keep,
    )
    again = await view_on(tab, fake_api, site.page("page2.html"))
    assert again["sid"] == keep
    assert again["meta"]["gclid"] == "BARE-GCLID"
