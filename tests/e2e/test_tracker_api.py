"""The page-facing API (send, identify, lead forms), the snippet's options, SPA navigation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import BrowserContext, Page

from tests.conftest import LiveServer
from tests.e2e.sites import FakeApi, FixtureSite
from tests.e2e.tracking import freeze_clock


@pytest.fixture
async def tab(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    await freeze_clock(page)
    yield page


async def started(tab: Page, site: FixtureSite, fake_api: FakeApi, path: str = "index.html") -> str:
    await tab.goto(site.page(path))
    await tab.clock.run_for(2000)
    return str((await fake_api.wait_event("acquisition/view"))["sid"])


async def test_manual_send(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    warnings: list[str] = []
    tab.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    await started(tab, site, fake_api)
    results = await tab.evaluate(
        """() => [
            leadtrail.send('conversion', 'cta_click', 'pricing', 12.5, {plan: 'pro', fp: 'spoof'}),
            leadtrail.send('interaction', 'video_watch', 'intro', '42'),
            leadtrail.send('nonsense', 'x'),
            leadtrail.send('interaction', 'has spaces'),
            leadtrail.send('interaction', 'deep_meta', '', null, {a: {b: {c: {d: 1}}}}),
            leadtrail.send('interaction', 'big_meta', '', undefined, {x: 'y'.repeat(6000)}),
        ]"""
    )
    assert results == [True, True, False, False, True, True]
    await tab.clock.run_for(2000)
    await fake_api.wait_event("interaction/big_meta")

    cta = fake_api.find("conversion/cta_click")[0]
    assert (cta["el"], cta["ev"], cta["meta"]["plan"]) == ("pricing", 12.5, "pro")
    assert cta["meta"]["fp"] != "spoof"  # the tracker's own fields win
    video = fake_api.find("interaction/video_watch")[0]
    assert video["ev"] == 42
    for name in ("deep_meta", "big_meta"):  # sent, without the meta the server would refuse
        event = fake_api.find(f"interaction/{name}")[0]
        assert set(event["meta"]) == {"fp", "device_info"} and "ev" not in event
    assert [e["ea"] for e in fake_api.events][1:] == [
        "cta_click",
        "video_watch",
        "deep_meta",
        "big_meta",
    ]
    assert len([w for w in warnings if w.startswith("leadtrail")]) == 4


async def test_seed_alias_and_double_initialisation(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    site.copies = 2  # the snippet pasted twice
    await started(tab, site, fake_api)
    assert await tab.evaluate("window.opmantik === window.leadtrail && leadtrail._initialized")
    await tab.evaluate("opmantik.send('conversion', 'cta_click', 'pricing_cta')")
    await fake_api.wait_event("conversion/cta_click", el="pricing_cta")
    assert len(fake_api.find("acquisition/view")) == 1
    assert len(fake_api.requests()) == 2


async def test_identify(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    sid = await started(tab, site, fake_api)
    assert await tab.evaluate("leadtrail.identify({})") is False
    sent = await tab.evaluate(
        "leadtrail.identify({email: 'ada@example.com', phone: '+90 555 123 45 67', id: 42,"
        " uh: 'c0ffee'})"
    )
    assert sent is True
    await fake_api.wait_for(lambda: fake_api.requests("/api/identify"))
    [request] = fake_api.requests("/api/identify")
    assert request.content_type == "text/plain;charset=UTF-8"
    assert request.body == {
        "s": site.site_id,
        "sid": sid,
        "email": "ada@example.com",
        "phone": "+90 555 123 45 67",
        "id": "42",
        "uh": "c0ffee",
        "k": f"{sid}.fake.token",  # the session token /api/sync answered
    }


async def test_lead_capture_only_from_marked_forms(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    sid = await started(tab, site, fake_api)
    await tab.fill("form[name=newsletter] input[name=email]", "news@example.com")
    await tab.click("#newsletter-send")
    await tab.wait_for_url("**/thanks.html")
    await tab.clock.run_for(2000)
    await fake_api.wait_event("acquisition/view", u=site.page("thanks.html"))
    await fake_api.wait_event("conversion/form_submit", el="newsletter")
    assert fake_api.requests("/api/leads") == []  # the newsletter form has no data-leadtrail-lead

    await tab.go_back()
    form = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "email": "ada@example.com",
        "phone": "+90 555 123 45 67",
        "company": "Analytical Engines",
        "password": "secret-password",
        "notes": "Call me after 5pm",
    }
    for name, value in form.items():
        await tab.fill(f"#contact [name={name}]", value)
    await tab.select_option("#contact [name=budget]", "big")
    await tab.click("#contact-send")
    # (closing a browser context in the middle of a navigation can hang chromium: wait)
    await tab.wait_for_url("**/thanks.html")
    await fake_api.wait_for(lambda: fake_api.requests("/api/leads"))
    [lead] = fake_api.requests("/api/leads")
    assert lead.content_type == "text/plain;charset=UTF-8"
    body = dict(lead.body)
    eid = body.pop("eid")
    assert isinstance(eid, str) and len(eid) == 32
    assert body == {
        "s": site.site_id,
        "sid": sid,
        "fp": fake_api.events[0]["meta"]["fp"],
        "form_type": "quote",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+90 555 123 45 67",
        "company": "Analytical Engines",
        "message": "Call me after 5pm",
        "k": f"{sid}.fake.token",
    }  # never the password, hidden fields or unrecognised ones
    await fake_api.wait_event("conversion/form_submit", el="contact")


async def test_api_origin_from_the_script_src(
    tab: Page, context: BrowserContext, site: FixtureSite, fake_api: FakeApi, server: LiveServer
) -> None:
    """Without data-api the tracker posts where it came from: here leadtrail's legacy
    ``/ux-core.js`` path, its calls caught by request interception."""
    await fake_api.intercept(context, server.url)
    site.api_url = None
    site.script_src = f"{server.url}/ux-core.js"
    await started(tab, site, fake_api)
    [request] = fake_api.requests()
    assert request.origin == site.url
    await context.unroute_all(behavior="ignoreErrors")  # the closing page's beacon: let it go


async def test_self_hosted_source_with_data_api(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    """The unminified source works as is (no build step), served by the site itself."""
    site.script_src = site.page("core.src.js")
    await started(tab, site, fake_api)
    assert fake_api.requests()[0].origin == site.url


async def test_single_page_app_navigation(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    sid = await started(tab, site, fake_api, "spa.html")
    await tab.fill("#signup input", "ada@example.com")
    await tab.evaluate("go('/spa/pricing')")
    await tab.evaluate("go('/spa/pricing', true)")  # same URL again: no page view
    await tab.evaluate("location.hash = 'faq'")  # a hash change is no navigation
    await tab.evaluate("go('/spa/contact', true)")
    await tab.evaluate("history.back()")  # to /spa/pricing (#faq was replaced by /spa/contact)
    await tab.wait_for_url("**/spa/pricing")
    await tab.clock.run_for(2000)
    await fake_api.wait_for(lambda: len(fake_api.find("interaction/page_view")) >= 3)

    views = [
        (e["u"].removeprefix(site.url), e["r"].removeprefix(site.url), e["el"])
        for e in fake_api.find("interaction/page_view")
    ]
    assert views == [
        ("/spa/pricing", "/spa.html", "SPA /spa/pricing"),
        ("/spa/contact", "/spa/pricing", "SPA /spa/contact"),
        ("/spa/pricing", "/spa/contact", "SPA /spa/contact"),  # popstate: title not yet set
    ]
    abandon = fake_api.find("interaction/form_abandon")
    assert [(e["el"], e["u"].removeprefix(site.url)) for e in abandon] == [("signup", "/spa.html")]
    assert {e["sid"] for e in fake_api.events} == {sid}
