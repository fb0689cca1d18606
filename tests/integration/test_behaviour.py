"""Behaviour capture end to end over HTTP: events of the behaviour module go through
``/api/sync`` and the group-commit writer into ``behavior_events``, the job keeps the daily
rollups equal to the same reports computed from the raw rows, and the API serves them."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from leadtrail.auth.users import create_user
from leadtrail.behaviour import reports
from leadtrail.behaviour.job import BehaviourJob
from leadtrail.behaviour.records import FRICTION_TYPES
from leadtrail.config import Settings
from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Claims, Database, DbRole
from tests.conftest import LiveServer, make_settings

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"
ON = {"behaviour": {"enabled": True, "sample_rate": 1}}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    # the tests run the behaviour job themselves
    return make_settings(tmp_path_factory, behaviour_interval=3600, rollup_interval=3600)


@pytest.fixture(scope="module")
async def sites(db: Database) -> dict[str, Site]:
    async with db.system() as conn:
        user = await create_user(conn, "bea@example.com", "correct horse")
        on = await create_site(
            conn, name="On", domain="on.example", public_id="bx_on", owner_id=user.id
        )
        off = await create_site(conn, name="Off", domain="off.example", public_id="bx_off")
        await conn.execute(
            "UPDATE sites SET settings = settings || $2::jsonb WHERE id = $1", on.id, ON
        )
    return {"on": on, "off": off}


@pytest.fixture
async def bea(server: LiveServer, sites: dict[str, Site]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        r = await http.post(
            "/api/auth/login", json={"email": "bea@example.com", "password": "correct horse"}
        )
        assert r.status_code == 200
        yield http


def bx(site: str, sid: uuid.UUID, kind: str, *, at: datetime, page: str = "/pricing",
       category: str = "interaction", **fields: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "s": site, "u": f"https://{site}.example{page}?q=1", "sid": str(sid), "ec": category,
        "ea": f"bx:{kind}", "eid": uuid.uuid4().hex, "ts": at.timestamp() * 1000,
        "meta": {"bx": fields},
    }  # fmt: skip


def view(site: str, sid: uuid.UUID, at: datetime, page: str = "/pricing") -> dict[str, Any]:
    return {
        "s": site, "u": f"https://{site}.example{page}", "sid": str(sid), "ec": "acquisition",
        "ea": "view", "eid": uuid.uuid4().hex, "ts": at.timestamp() * 1000,
    }  # fmt: skip


async def sync(client: httpx.AsyncClient, batch: list[dict[str, Any]]) -> None:
    r = await client.post("/api/sync", json={"batch": batch}, headers={"user-agent": CHROME})
    assert r.status_code == 200, r.text


def click(
    x: float, y: float, path: str = "main>button#buy", comp: str | None = "buy-box"
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "p": path, "t": "button", "x": "Buy now for jo@example.com",
        "co": {"x": 3, "y": 4, "px": x, "py": y, "pw": 1000, "ph": 2000}, "vp": {"w": 1000, "h": 700},
    }  # fmt: skip
    if comp:
        out["c"] = comp
    return out


@pytest.fixture(scope="module")
async def stored(server: LiveServer, db: Database, sites: dict[str, Site]) -> dict[str, Any]:
    """Three sessions on the enabled site, one on the disabled site."""
    now = datetime.now(UTC) - timedelta(minutes=5)
    sids = [uuid.uuid4() for _ in range(3)]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for n, sid in enumerate(sids):
            t = now + timedelta(seconds=n)
            batch = [view("bx_on", sid, t)]
            batch += [
                bx("bx_on", sid, "click", at=t + timedelta(seconds=2 + i), **click(100 * i, 300))
                for i in range(3)
            ]
            batch.append(
                bx(
                    "bx_on",
                    sid,
                    "rage_click",
                    at=t + timedelta(seconds=6),
                    **click(150, 300),
                    d={"clicks": 4},
                )
            )
            batch.append(bx("bx_on", sid, "hesitation", at=t + timedelta(seconds=7), **click(150, 300),
                            d={"hesitation_ms": 1000 * (n + 2)}))  # fmt: skip
            batch.append(
                bx(
                    "bx_on",
                    sid,
                    "dead_click",
                    at=t + timedelta(seconds=8),
                    **click(900, 1900, "p:nth-of-type(2)", None),
                )
            )
            batch.append(bx("bx_on", sid, "form_abandon", at=t + timedelta(seconds=9), p="form#signup", t="form",
                            d={"form": "signup", "field": "email", "value": "secret"}))  # fmt: skip
            batch.append(bx("bx_on", sid, "error", at=t + timedelta(seconds=10),
                            d={"message": "x is undefined for 555-123-4567", "source": "https://on.example/app.js",
                               "line": 12, "col": 3, "stack": "at f (app.js:12:3)"}))  # fmt: skip
            batch.append(
                bx(
                    "bx_on",
                    sid,
                    "scroll_depth",
                    at=t + timedelta(seconds=11),
                    d={"percentage": 35 + 30 * n},
                )
            )
            batch.append(bx("bx_on", sid, "page_exit", at=t + timedelta(seconds=12), category="system",
                            d={"reason": ["close", "navigation", "refresh"][n]}))  # fmt: skip
            await sync(client, batch)
        off = uuid.uuid4()
        await sync(
            client, [view("bx_off", off, now), bx("bx_off", off, "click", at=now, **click(1, 1))]
        )
    await BehaviourJob(db).run_once()
    return {"sids": sids, "off": off, "day": now.date()}


async def test_behaviour_events_are_stored_apart_from_events(
    stored: dict[str, Any], owner: asyncpg.Connection, sites: dict[str, Site]
) -> None:
    on = sites["on"].id
    kinds = await owner.fetch(
        "SELECT event_type, count(*) AS n FROM behavior_events WHERE site_id = $1 GROUP BY 1", on
    )
    assert {r["event_type"]: r["n"] for r in kinds} == {
        "click": 9, "rage_click": 3, "hesitation": 3, "dead_click": 3, "form_abandon": 3,
        "error": 3, "scroll_depth": 3, "page_exit": 3,
    }  # fmt: skip
    # the tracker's events table got the page views only: session counters are unchanged
    actions = await owner.fetch("SELECT DISTINCT event_action FROM events WHERE site_id = $1", on)
    assert [r["event_action"] for r in actions] == ["view"]
    counts = await owner.fetch(
        "SELECT event_count, page_views FROM sessions WHERE site_id = $1", on
    )
    assert {(r["event_count"], r["page_views"]) for r in counts} == {(1, 1)}
    reasons = await owner.fetch("SELECT id, exit_reason FROM sessions WHERE site_id = $1", on)
    assert {r["id"]: r["exit_reason"] for r in reasons} == dict(
        zip(stored["sids"], ["close", "navigation", "refresh"], strict=True)
    )
    # capture off: the site's behaviour events are acknowledged and dropped
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM behavior_events WHERE site_id = $1", sites["off"].id
        )
        == 0
    )


async def test_stored_rows_carry_element_details_and_nothing_unmasked(
    stored: dict[str, Any], owner: asyncpg.Connection, sites: dict[str, Site]
) -> None:
    row = await owner.fetchrow(
        "SELECT * FROM behavior_events WHERE site_id = $1 AND event_type = 'rage_click' LIMIT 1",
        sites["on"].id,
    )
    assert row["element_path"] == "main>button#buy" and row["component_id"] == "buy-box"
    assert row["element_text"] == "Buy now for [email]"
    assert json.loads(row["coordinates"]) == {
        "x": 3,
        "y": 4,
        "px": 150,
        "py": 300,
        "pw": 1000,
        "ph": 2000,
    }
    assert (
        json.loads(row["viewport_size"]) == {"w": 1000, "h": 700}
        and row["device_class"] == "desktop"
    )
    assert row["page_path"] == "/pricing" and row["page_url"].startswith(
        "https://bx_on.example/pricing"
    )
    abandon = await owner.fetchrow(
        "SELECT event_data FROM behavior_events WHERE site_id = $1 AND event_type = 'form_abandon' LIMIT 1",
        sites["on"].id,
    )
    assert json.loads(abandon["event_data"]) == {
        "form": "signup",
        "field": "email",
    }  # "value" is not kept
    error = await owner.fetchrow(
        "SELECT event_data FROM behavior_events WHERE site_id = $1 AND event_type = 'error' LIMIT 1",
        sites["on"].id,
    )
    data = json.loads(error["event_data"])
    assert data["message"] == "x is undefined for [number]" and data["line"] == 12


async def test_rollups_equal_the_reports_over_raw_rows(
    stored: dict[str, Any], db: Database, sites: dict[str, Site]
) -> None:
    site_id, day = sites["on"].id, stored["day"]
    claims = Claims(role=DbRole.ANALYST, site_ids=(site_id,))
    async with db.transaction(claims) as conn:
        rolled = await reports.friction_points(conn, site_id, day, day, threshold=0)
        raw = await reports.friction_points(conn, site_id, day, day, threshold=0, raw=True)
        grid = await reports.click_map(conn, site_id, day, day, "/pricing")
        raw_grid = await reports.click_map(conn, site_id, day, day, "/pricing", raw=True)
        summary = await reports.daily_summary(conn, site_id, day, day)
        scroll = await reports.scroll_reach(conn, site_id, day, day, "/pricing")
        comps = await reports.components(conn, site_id, day, day)
        sessions = await reports.sessions(conn, site_id, day, day)

    def norm(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted((r["element_path"], r["event_type"], r["event_count"], r["affected_sessions"],
                       round(r["avg_time_to_event"], 3), list(r["pages_affected"])) for r in rows)  # fmt: skip

    assert norm(rolled) == norm(raw)
    assert {r["event_type"] for r in rolled} == {
        "rage_click",
        "hesitation",
        "dead_click",
        "form_abandon",
        "error",
    }
    assert sorted(map(tuple, grid["cells"])) == sorted(map(tuple, raw_grid["cells"]))
    assert [0, 7, 3] in grid["cells"]  # px 0 of 1000, py 300 of 2000
    buy = next(e for e in grid["elements"] if e["element_path"] == "main>button#buy")
    assert (buy["clicks"], buy["rage_clicks"]) == (9, 3)
    hes = next(r for r in summary if r["event_type"] == "hesitation")
    assert (hes["avg_hesitation_ms"], hes["median_hesitation_ms"]) == (3000, 3000)
    assert [(p["depth"], p["views"]) for p in scroll["curve"]][3:8] == [
        (30, 3),
        (40, 2),
        (50, 2),
        (60, 2),
        (70, 1),
    ]
    assert comps[0]["component_id"] == "buy-box" and comps[0]["rage_clicks"] == 3
    assert {s["rage_click_count"] for s in sessions} == {1}
    assert {s["exit_reason"] for s in sessions} == {"close", "navigation", "refresh"}


async def test_late_events_update_only_their_day(
    stored: dict[str, Any],
    server: LiveServer,
    db: Database,
    owner: asyncpg.Connection,
    sites: dict[str, Site],
) -> None:
    sid = stored["sids"][0]
    at = datetime.now(UTC) - timedelta(minutes=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        await sync(client, [bx("bx_on", sid, "rage_click", at=at, **click(10, 10, "nav>a", None))])
    marked = await owner.fetch(
        "SELECT day FROM leadtrail.behaviour_dirty WHERE site_id = $1", sites["on"].id
    )
    assert [r["day"] for r in marked] == [at.date()]
    assert await BehaviourJob(db).run_once() == 1
    n = await owner.fetchval(
        "SELECT sum(events) FROM behaviour_friction_daily WHERE site_id = $1 AND element_path = 'nav>a'",
        sites["on"].id,
    )
    assert n == 1


async def test_api_reports_and_csv(stored: dict[str, Any], bea: httpx.AsyncClient) -> None:
    day = str(stored["day"])
    q = {"site_id": "bx_on", "from": day, "to": day}
    r = await bea.get("/api/behaviour/friction", params={**q, "threshold": 2})
    assert r.status_code == 200
    assert {row["event_type"] for row in r.json()["rows"]} <= set(FRICTION_TYPES)
    assert all(row["event_count"] > 2 for row in r.json()["rows"])
    r = await bea.get("/api/behaviour/friction", params={**q, "threshold": 0, "format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert any(row["event_type"] == "dead_click" for row in rows)
    for path in ("summary", "components", "sessions"):
        r = await bea.get(f"/api/behaviour/{path}", params={**q, "format": "csv"})
        assert r.status_code == 200, path
    r = await bea.get("/api/behaviour/clickmap", params={**q, "page": "/pricing", "image": "true"})
    assert r.headers["content-type"].startswith("image/svg+xml") and r.text.count("<rect") > 2
    r = await bea.get("/api/behaviour/scroll", params={**q, "page": "/pricing"})
    assert r.json()["views"] == 3
    r = await bea.get("/api/behaviour/friction", params={**q, "types": "nope"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_friction_type"
    r = await bea.get("/api/behaviour/clickmap", params={**q, "page": "/x", "device": "fridge"})
    assert r.status_code in (400, 422) and "error" in r.json()


async def test_settings_turn_the_module_on_and_validate(
    bea: httpx.AsyncClient, server: LiveServer, sites: dict[str, Site]
) -> None:
    script = await bea.get("/assets/site/bx_on.js", headers={"accept-encoding": "identity"})
    assert '"behaviour":{"rate":' in script.text and "bx:" in script.text
    r = await bea.patch("/api/sites/bx_on", json={"settings": {"behaviour": {"sample_rate": 2}}})
    assert r.status_code == 400 and r.json()["error"] == "invalid_setting"
    r = await bea.patch(
        "/api/sites/bx_on",
        json={"settings": {"behaviour": {"sample_rate": 0.25, "thresholds": {"rage_clicks": 4}}}},
    )
    assert r.status_code == 200
    behaviour = r.json()["settings"]["behaviour"]
    assert behaviour["sample_rate"] == 0.25 and behaviour["thresholds"]["rage_clicks"] == 4
    assert behaviour["enabled"] is True
