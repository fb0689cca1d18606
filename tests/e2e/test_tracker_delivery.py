"""How the tracker delivers: batches, flushes, body limits, retries with the same eid.

Design (docs/tracker.md): events wait at most 2 s or until 10 are queued; every item stays
in a localStorage outbox until the server answers; fetch gives that answer, a beacon on
unload does not, so the next page sends beaconed items again and the server stores each eid
once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page

from tests.e2e.sites import FakeApi, FixtureSite
from tests.e2e.tracking import COUNT_ANSWERS, answered, freeze_clock, set_visibility, storage

BODY_LIMIT = 60 * 1024


@pytest.fixture
async def tab(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    await page.add_init_script(COUNT_ANSWERS)
    await freeze_clock(page)
    yield page


async def outbox(page: Page, until: str = "true") -> Any:
    """The localStorage outbox, once ``until`` (JavaScript about ``box``) holds: the page
    handles an answer a moment after the stand-in recorded the request."""
    await page.wait_for_function(
        f"(box => {until})(JSON.parse(localStorage.leadtrail_outbox || 'null'))"
    )
    raw = (await storage(page))["local"].get("leadtrail_outbox")
    return json.loads(raw) if raw else None


async def send(page: Page, count: int, action: str = "manual", meta_bytes: int = 0) -> None:
    await page.evaluate(
        """([count, action, size]) => {
            for (let i = 0; i < count; i++)
                leadtrail.send('interaction', action, 'n' + i, i, size ? {pad: 'x'.repeat(size)} : undefined);
        }""",
        [count, action, meta_bytes],
    )


async def test_batches_every_two_seconds(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await tab.goto(site.page("index.html"))
    await tab.clock.run_for(1500)
    await send(tab, 2)
    await tab.clock.run_for(499)
    await send(tab, 1)
    await tab.clock.run_for(1)  # 2 s after the first event: everything queued goes together
    await fake_api.wait_for(fake_api.requests)

    [first] = fake_api.requests()
    assert [(e["ea"], e.get("el")) for e in first.events] == [
        ("view", "Fixture home"),
        ("manual", "n0"),
        ("manual", "n1"),
        ("manual", "n0"),
    ]
    await send(tab, 1, "later")
    await tab.clock.run_for(2000)
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 2)
    assert [e["ea"] for e in fake_api.requests()[1].events] == ["later"]
    assert await outbox(tab, "!box") is None  # both answered: nothing left to retry


async def test_ten_events_go_at_once(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await tab.goto(site.page("index.html"))
    await send(tab, 12)  # with the page view: 13 events, the clock stands still
    await fake_api.wait_for(fake_api.requests)

    [request] = fake_api.requests()
    assert len(request.events) == 10
    await tab.clock.run_for(2000)
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 2)
    assert [e["el"] for e in fake_api.requests()[1].events] == ["n9", "n10", "n11"]


async def test_flush_when_hidden_then_beacon_on_pagehide(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    await tab.goto(site.page("index.html"))
    await set_visibility(tab, "hidden")  # tab switch: sent now, by fetch (answer readable)
    await fake_api.wait_for(fake_api.requests)
    [hidden] = fake_api.requests()
    assert [e["ea"] for e in hidden.events] == ["view"] and not hidden.beacon
    assert await outbox(tab, "!box") is None  # answered and read

    await set_visibility(tab, "visible")
    await send(tab, 1, "last_words")
    await tab.click("#next")  # unload: sent now, by beacon
    await tab.wait_for_url("**/page2.html")
    await fake_api.wait_for(lambda: len(fake_api.requests()) >= 2)
    [beacon] = [r for r in fake_api.requests() if r.beacon]
    assert beacon.content_type == "text/plain;charset=UTF-8"
    assert [e["ea"] for e in beacon.events] == ["last_words", "session_end"]

    # A beacon has no answer: the next page sends the same events again, with the same eids,
    # together with its own page view; the server keeps each eid once.
    await tab.clock.run_for(2000)
    await fake_api.wait_for(lambda: len(fake_api.requests()) >= 3)
    [again] = [r for r in fake_api.requests()[1:] if not r.beacon]
    assert again.events[:2] == beacon.events
    assert [e["ea"] for e in again.events[2:]] == ["view"]
    assert await outbox(tab, "!box") is None
    assert len(fake_api.requests()) == 3  # nothing else was sent twice


async def test_bodies_stay_under_60_kb(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    """A backlog (here: 20 events of ~5 KB after two failed sends, then 150 small ones) goes
    out split into bodies under 60 KB and 100 events, in order, each event once."""
    await tab.goto(site.page("index.html"))
    fake_api.fail_next(2)
    await send(tab, 9, "big", meta_bytes=4900)  # + the view: a first batch of 10
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 1)
    await send(tab, 10, "big", meta_bytes=4900)
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 2)
    await answered(tab, 2)
    queued = (await outbox(tab))["q"]
    assert len(queued) == 20

    fake_api.reset()
    await tab.clock.run_for(10_000)  # past the backoff: the whole backlog goes
    await fake_api.wait_for(lambda: len(fake_api.unique_events()) == 20)
    sizes = [len(r.raw.encode()) for r in fake_api.requests()]
    assert len(sizes) >= 2 and all(size < BODY_LIMIT for size in sizes)
    # Sent concurrently, so they may arrive in any order; each body is a run of the backlog.
    position = {item["k"]: n for n, item in enumerate(queued)}
    runs = sorted([position[e["eid"]] for e in r.events] for r in fake_api.requests())
    assert [n for run in runs for n in run] == list(range(20))

    fake_api.reset()
    fake_api.fail_next(15)
    await send(tab, 150, "small")
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 15)
    await answered(tab, 2 + 15)
    fake_api.reset()
    await tab.clock.run_for(300_000)  # the longest backoff: 5 minutes
    await fake_api.wait_for(lambda: len(fake_api.find("interaction/small")) == 150)
    small = [[e for e in r.events if e["ea"] == "small"] for r in fake_api.requests()]
    assert sorted(len(events) for events in small if events) == [50, 100]  # concurrent
    assert all(len(r.events) <= 100 for r in fake_api.requests())  # heartbeats ride along


async def test_failed_send_is_retried_on_the_next_page_with_the_same_eid(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    await tab.goto(site.page("index.html"))
    fake_api.fail_next(1)
    await tab.clock.run_for(2000)
    await fake_api.wait_for(fake_api.requests)
    [failed] = fake_api.requests()
    [view] = failed.events
    box = await outbox(tab, "box && box.n")
    assert [i["b"] for i in box["q"]] == [view]

    await tab.goto(site.page("page2.html"))
    await tab.clock.run_for(2000)  # the retry is due: page 2 sends it with its own view
    await fake_api.wait_for(lambda: len(fake_api.requests()) >= 3)
    [beacon] = [r for r in fake_api.requests() if r.beacon]
    [retried] = [r for r in fake_api.requests()[1:] if not r.beacon]
    assert beacon.beacon and [e["ea"] for e in beacon.events] == ["session_end"]
    assert retried.events == [view, *beacon.events, retried.events[-1]]
    assert retried.events[-1]["u"] == site.page("page2.html")
    assert await outbox(tab, "!box") is None


async def test_backoff_and_retry_after(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await tab.goto(site.page("index.html"))
    fake_api.fail_next(2)
    t0 = await tab.evaluate("Date.now()")
    await tab.clock.run_for(2000)
    await fake_api.wait_for(fake_api.requests)
    box = await outbox(tab, "box && box.n")
    assert (box["n"], box["at"]) == (1, t0 + 2000 + 2000)

    await tab.clock.run_for(1000)  # the retry is due 2 s after the failure
    await send(tab, 1, "fresh")
    await tab.evaluate("leadtrail.flush()")  # fresh events go now; the backlog waits
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 2)
    assert [e["ea"] for e in fake_api.requests()[1].events] == ["fresh"]
    box = await outbox(tab, "box.n == 2")
    assert box["at"] == t0 + 3000 + 4000

    await tab.clock.run_for(4000)
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 3)
    assert [e["ea"] for e in fake_api.requests()[2].events] == ["view", "fresh"]
    assert await outbox(tab, "!box") is None

    fake_api.fail_next(1, status=429, headers={"Retry-After": "30"})
    await send(tab, 1, "limited")
    t1 = await tab.evaluate("Date.now()")
    await tab.clock.run_for(2000)
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 4)
    box = await outbox(tab, "box && box.n")
    assert box["at"] == t1 + 2000 + 30_000


async def test_rejected_batch_is_not_retried(
    tab: Page, site: FixtureSite, fake_api: FakeApi
) -> None:
    warnings: list[str] = []
    tab.on("console", lambda msg: warnings.append(msg.text) if msg.type == "warning" else None)
    await tab.goto(site.page("index.html"))
    fake_api.fail_next(1, status=400)
    await tab.clock.run_for(2000)
    await fake_api.wait_for(fake_api.requests)
    await tab.wait_for_function("!localStorage.leadtrail_outbox")
    assert any("/api/sync 400" in w for w in warnings)


async def test_outbox_is_bounded(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await tab.goto(site.page("index.html"))
    fake_api.fail_next(100)
    await send(tab, 519)  # 520 events with the view, in 52 failing requests
    await fake_api.wait_for(lambda: len(fake_api.requests()) == 52)
    await answered(tab, 52)
    box = await outbox(tab)
    assert [i["b"]["el"] for i in box["q"]] == [f"n{i}" for i in range(19, 519)]

    # A day later (no timer runs meanwhile), stale events are dropped from the outbox.
    fake_api.reset()
    fake_api.fail_next(5)
    await tab.clock.set_system_time(await tab.evaluate("Date.now()") / 1000 + 25 * 3600)
    await send(tab, 1, "tomorrow")
    await tab.evaluate("leadtrail.flush()")
    await fake_api.wait_for(fake_api.requests)
    await answered(tab, 53)
    box = await outbox(tab)
    # (a day without activity also started a new session, with its page view)
    assert [i["b"]["ea"] for i in box["q"]] == ["view", "tomorrow"]


async def test_no_preflight(tab: Page, site: FixtureSite, fake_api: FakeApi) -> None:
    await tab.goto(site.page("index.html"))
    await tab.evaluate("leadtrail.identify({email: 'ada@example.com'})")
    await tab.clock.run_for(2000)
    await fake_api.wait_for(lambda: fake_api.requests() and fake_api.requests("/api/identify"))
    assert {s.method for s in fake_api.sent} == {"POST"}
    assert {s.content_type for s in fake_api.sent} == {"text/plain;charset=UTF-8"}
