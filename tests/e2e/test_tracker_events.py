"""Every automatic event of the tracker, asserted on what the browser really sends.

The pages come from the fixture website (another origin); the tracker script comes from the
live leadtrail server; events go to the recording stand-in ``fake_api``. Time is Playwright's
fake clock, so the 2 s batch timer, hover intent and heartbeats run without sleeping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page

from tests.e2e.sites import FakeApi, FixtureSite
from tests.e2e.tracking import EID, UUID4, freeze_clock, set_visibility


@pytest.fixture
async def tab(browser: Browser) -> AsyncIterator[Page]:
    """A page with a known screen, viewport, locale and time zone."""
    ctx = await browser.new_context(
        viewport={"width": 1024, "height": 700},
        screen={"width": 1920, "height": 1080},
        device_scale_factor=2,
        locale="tr-TR",
        timezone_id="Europe/Istanbul",
    )
    page = await ctx.new_page()
    await freeze_clock(page)
    try:
        yield page
    finally:
        await ctx.close()


async def test_page_view_payload(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await tab.goto(site.page("index.html"), referer="https://www.google.com/")
    start = await tab.evaluate("Date.now()")
    await tab.clock.run_for(2000)
    view = await fake_api.wait_event("acquisition/view")

    [request] = fake_api.requests()
    assert request.method == "POST"
    assert request.content_type == "text/plain;charset=UTF-8"  # a simple request: no preflight
    assert request.origin == site.url
    assert request.body == {"batch": [view]}
    assert set(view) == {"s", "u", "sid", "ec", "ea", "el", "eid", "ts", "r", "meta"}
    assert view["s"] == site.site_id
    assert view["u"] == site.page("index.html")
    assert UUID4.match(view["sid"])
    assert (view["ec"], view["ea"], view["el"]) == ("acquisition", "view", "Fixture home")
    assert EID.match(view["eid"])
    assert view["ts"] == start
    assert view["r"] == "https://www.google.com/"
    meta = view["meta"]
    assert set(meta) == {"fp", "device_info"}
    assert EID.match(meta["fp"])
    assert meta["device_info"] == {
        "screen": "1920x1080",
        "viewport": "1024x700",
        "tz": "Europe/Istanbul",
        "lang": "tr-TR",
        "dpr": 2,
    }
    assert [s.method for s in fake_api.sent] == ["POST"]


async def loaded(tab: Page, site: FixtureSite, fake_api: FakeApi, path: str = "index.html") -> str:
    """Load a page, let the first batch go, return the session id."""
    await tab.goto(site.page(path))
    await tab.clock.run_for(2000)
    view = await fake_api.wait_event("acquisition/view")
    return str(view["sid"])


async def test_link_clicks(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    sid = await loaded(tab, site, fake_api)
    # Conversions are sent at once, without waiting for the batch timer.
    await tab.click("#tel")
    call = await fake_api.wait_event("conversion/phone_call")
    await tab.click("#wa")
    whatsapp = await fake_api.wait_event("conversion/whatsapp")
    for link in ("#out", "#pdf", "#dl", "#same"):
        await tab.click(link)
    # Off the links before the clock runs, or the last one clicked could count as hovered for
    # two seconds (hover intent is its own test).
    await tab.mouse.move(0, 0)
    await tab.clock.run_for(2000)
    await fake_api.wait_event("interaction/external_link")

    assert call["el"] == "tel:+90 555 123 45 67"
    assert whatsapp["el"] == "https://wa.me/905551234567?text=hi"
    assert [(e["ec"], e["ea"], e.get("el")) for e in fake_api.unique_events()[3:]] == [
        ("interaction", "external_link", "https://partner.example/offer?x=1"),
        ("interaction", "download", site.page("files/brochure.pdf")),
        ("interaction", "download", site.page("files/price-list")),
    ]  # the link to a page of the same site is no event
    assert {e["sid"] for e in fake_api.events} == {sid}
    assert all(e["u"] == site.page("index.html") for e in fake_api.events)


async def test_scroll_depth_once_per_threshold(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    await loaded(tab, site, fake_api)
    # Resolves once the page has seen the scroll event (the browser fires it asynchronously).
    scroll_to = """f => new Promise(done => {
        addEventListener('scroll', () => done(), {once: true});
        scrollTo(0, document.documentElement.scrollHeight * f - innerHeight);
    })"""
    await tab.evaluate(scroll_to, 0.3)
    await tab.clock.run_for(2000)
    await fake_api.wait_event("interaction/scroll_depth")
    await tab.evaluate(scroll_to, 1.0)
    await tab.clock.run_for(2000)
    await fake_api.wait_event("interaction/scroll_depth", ev=90)
    await tab.evaluate(scroll_to, 0.1)
    await tab.evaluate(scroll_to, 1.0)
    await tab.evaluate("leadtrail.send('interaction', 'marker')")
    await tab.clock.run_for(2000)
    await fake_api.wait_event("interaction/marker")

    depths = [e["ev"] for e in fake_api.find("interaction/scroll_depth")]
    assert depths == [25, 50, 75, 90]
    assert all("el" not in e for e in fake_api.find("interaction/scroll_depth"))


async def test_hover_intent_after_two_seconds(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    await loaded(tab, site, fake_api)
    await tab.hover("#next")  # a link, left after 1.9 s: no intent
    await tab.clock.run_for(1900)
    await tab.hover("#dead")  # not a link, button or input: never an intent
    await tab.clock.run_for(3000)
    await tab.hover("#cta")
    await tab.clock.run_for(2000)
    await tab.hover("#dead")
    await tab.hover("#cta")  # the same button again: reported once per page
    await tab.clock.run_for(2000)
    await tab.hover("input[name=email] >> nth=0")
    await tab.clock.run_for(4000)
    await fake_api.wait_for(lambda: len(fake_api.find("interaction/hover_intent")) >= 2)

    hovers = [e["el"] for e in fake_api.find("interaction/hover_intent")]
    assert hovers == ["Get a quote", "input:email"]


async def test_rage_clicks(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await loaded(tab, site, fake_api)
    box = await tab.locator("#dead").bounding_box()
    assert box is not None
    x, y = box["x"] + 50, box["y"] + 50
    # Two quick clicks, three slow ones, three far apart: no rage.
    for dx in (0, 5):
        await tab.mouse.click(x + dx, y)
    await tab.clock.run_for(1500)
    for _ in range(3):
        await tab.mouse.click(x, y)
        await tab.clock.run_for(600)
    await tab.clock.run_for(1500)
    for dx in (0, 40, 80):
        await tab.mouse.click(x + dx, y)
    await tab.clock.run_for(1500)
    # Three clicks within 1 s and 30 px: rage.
    for dx, dy in ((0, 0), (10, 10), (-10, 15)):
        await tab.mouse.click(x + dx, y + dy)
        await tab.clock.run_for(300)
    await tab.clock.run_for(2000)
    rage = await fake_api.wait_event("interaction/rage_click")

    assert (rage["el"], rage["ev"]) == ("DIV", 3)
    assert len(fake_api.find("interaction/rage_click")) == 1


async def test_form_start_submit_and_abandon(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    await loaded(tab, site, fake_api)
    await tab.fill("form[name=newsletter] input[name=email]", "ada@example.com")
    await tab.click("#newsletter-send")
    await tab.wait_for_url("**/thanks.html")
    await tab.go_back()
    await tab.fill("#contact input[name=first_name]", "Ada")
    await tab.clock.run_for(5000)
    await tab.fill("#contact input[name=email]", "ada@example.com")
    await tab.clock.run_for(2000)
    await tab.click("#next")  # leaves the started contact form
    await tab.wait_for_url("**/page2.html")
    await fake_api.wait_event("interaction/form_abandon")

    forms = [
        (e["ea"], e["el"], e.get("ev"), e["meta"].get("field"))
        for e in fake_api.unique_events()
        if e["ea"].startswith("form_")
    ]
    assert forms == [
        ("form_start", "newsletter", None, None),
        ("form_submit", "newsletter", None, None),
        ("form_start", "contact", None, None),
        ("form_abandon", "contact", 7, "email"),
    ]
    assert fake_api.find("conversion/form_submit")[0]["ec"] == "conversion"
    assert fake_api.requests("/api/leads") == []  # the newsletter form is not a lead form


async def test_javascript_errors(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await loaded(tab, site, fake_api)
    await tab.click("#boom")
    await tab.evaluate("Promise.reject(new Error('nope')); undefined")
    await tab.clock.run_for(2000)
    await fake_api.wait_for(lambda: len(fake_api.find("system/js_error")) >= 2)
    thrown, rejected = fake_api.find("system/js_error")

    assert thrown["el"] == "Uncaught Error: fixture boom"
    assert thrown["meta"]["src"] == site.page("index.html")
    assert thrown["meta"]["line"] > 0
    assert (rejected["el"], rejected["meta"]["src"]) == ("nope", "promise")
    # A page that keeps failing reports its first ten errors only.
    await tab.evaluate(
        """for (let i = 0; i < 20; i++) {
            const button = document.createElement('button');
            button.onclick = () => { throw new Error('x' + i); };
            button.click();
        }"""
    )
    await tab.clock.run_for(2000)
    await tab.evaluate("leadtrail.send('interaction', 'marker')")
    await tab.clock.run_for(2000)
    await fake_api.wait_event("interaction/marker")
    assert len(fake_api.find("system/js_error")) == 10


async def test_heartbeat_while_visible(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await loaded(tab, site, fake_api)
    await tab.clock.run_for(30_000)
    await fake_api.wait_event("system/heartbeat", ev=30)
    await set_visibility(tab, "hidden")
    await tab.clock.run_for(60_000)  # hidden: no heartbeat, no engaged time
    await set_visibility(tab, "visible")
    await tab.clock.run_for(30_000)
    await fake_api.wait_for(lambda: len(fake_api.find("system/heartbeat")) >= 2)
    await tab.clock.run_for(30_000)
    await fake_api.wait_for(lambda: len(fake_api.find("system/heartbeat")) >= 3)

    beats = fake_api.find("system/heartbeat")
    # ev is the time the page was visible: 30 s, then 60 s + at most one interval.
    assert [e["ev"] for e in beats][:1] == [30]
    assert len(beats) == 3
    assert 60 <= beats[1]["ev"] <= 90 and beats[2]["ev"] == beats[1]["ev"] + 30


async def test_session_end_on_leaving(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    sid = await loaded(tab, site, fake_api)
    await tab.clock.run_for(12_000)
    await tab.click("#next")
    await tab.wait_for_url("**/page2.html")
    end = await fake_api.wait_event("system/session_end")

    assert (end["sid"], end["ev"], end["u"]) == (sid, 14, site.page("index.html"))
    beacon = next(s for s in fake_api.requests() if end in s.events)
    assert beacon.beacon  # sent with navigator.sendBeacon while the page unloaded
