"""Funnel counts against an independent brute-force computation over the raw rows: per
session and per person, strict and any order; and the job keeping conversion_funnels
current as sessions change."""

from __future__ import annotations

import itertools
import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from leadtrail.funnels import service
from leadtrail.funnels.model import Funnel
from leadtrail.sites.service import Site, create_site
from leadtrail.storage import Claims, Database, DbRole
from tests.conftest import make_settings

WINDOW = 3600
STEPS = [
    {"name": "Pricing", "kind": "page", "url": "/pricing*"},
    {"name": "Signup form", "kind": "event", "category": "conversion", "action": "form_submit"},
    {"name": "Lead", "kind": "lead"},
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_settings(tmp_path_factory, behaviour_interval=3600)


def _touch_kind(row: Any) -> set[int]:
    """Which steps (0-based) a raw row satisfies: written without the service's matcher."""
    hits = set()
    if (
        row["kind"] == "event"
        and row["action"] in ("view", "page_view")
        and row["path"].startswith("/pricing")
    ):
        hits.add(0)
    if (
        row["kind"] == "event"
        and row["category"] == "conversion"
        and row["action"] == "form_submit"
    ):
        hits.add(1)
    if row["kind"] == "lead":
        hits.add(2)
    return hits


def brute_force(rows: list[Any], order: str) -> int:
    """Steps reached: the largest k for which some choice of distinct rows satisfies steps
    1..k (in order when strict) within the window."""
    rows = sorted(rows, key=lambda r: r["at"])
    hits = [_touch_kind(r) for r in rows]
    for k in range(len(STEPS), 0, -1):
        if order == "strict":
            choices = itertools.combinations(range(len(rows)), k)
        else:
            choices = itertools.permutations(range(len(rows)), k)
        for pick in choices:
            if all(step in hits[i] for step, i in enumerate(pick)):
                times = [rows[i]["at"] for i in pick]
                if max(times) - min(times) <= timedelta(seconds=WINDOW):
                    return k
    return 0


@pytest.fixture(scope="module")
async def world(db: Database, test_database: Any) -> dict[str, Any]:
    """People with one to three sessions each, doing the steps in random orders and gaps."""
    rng = random.Random(12)
    async with db.system() as conn:
        site = await create_site(
            conn, name="Funnels", domain="funnels.example", public_id="funnels"
        )
    owner = await asyncpg.connect(test_database.owner_dsn)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    try:
        for person in range(70):
            user = uuid.uuid4() if person % 5 else None
            fp = f"fp-{person}"
            start = base + timedelta(minutes=rng.randrange(0, 24 * 60))
            for _ in range(rng.randint(1, 3)):
                sid = uuid.uuid4()
                month = date(start.year, start.month, 1)
                t = start
                actions = []
                for _ in range(rng.randint(1, 6)):
                    t += timedelta(minutes=rng.choice([1, 5, 20, 50]))
                    actions.append(
                        (t, rng.choice(["pricing", "home", "submit", "lead", "pricing2"]))
                    )
                await owner.execute(
                    "INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at, "
                    "canonical_user_id, fingerprint, device_type, utm_campaign) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    site.id, sid, month, start, t, user, fp, rng.choice(["desktop", "mobile"]),
                    rng.choice(["spring", None]),
                )  # fmt: skip
                for at, what in actions:
                    if what == "lead":
                        await owner.execute(
                            "INSERT INTO leads (site_id, session_id, session_month, submitted_at) VALUES ($1, $2, $3, $4)",
                            site.id, sid, month, at,
                        )  # fmt: skip
                        continue
                    url, cat, act = {
                        "pricing": ("https://funnels.example/pricing", "acquisition", "view"),
                        "pricing2": (
                            "https://funnels.example/pricing/team?x=1",
                            "interaction",
                            "page_view",
                        ),
                        "home": ("https://funnels.example/", "acquisition", "view"),
                        "submit": ("https://funnels.example/signup", "conversion", "form_submit"),
                    }[what]
                    await owner.execute(
                        "INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category, event_action) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        site.id, sid, month, at, url, cat, act,
                    )  # fmt: skip
                start = t + timedelta(minutes=rng.choice([10, 90, 600]))
        raw = await owner.fetch(
            """
            SELECT s.id AS session_id, coalesce('u:' || s.canonical_user_id::text, 'f:' || s.fingerprint) AS person,
                   t.at, t.kind, t.path, t.category, t.action
            FROM sessions s
            JOIN (SELECT session_id, created_at AS at, 'event' AS kind,
                         regexp_replace(regexp_replace(url, '^https?://[^/]+', ''), '[?#].*$', '') AS path,
                         event_category AS category, event_action AS action
                  FROM events WHERE site_id = $1
                  UNION ALL
                  SELECT session_id, submitted_at, 'lead', '', '', '' FROM leads WHERE site_id = $1) t
              ON t.session_id = s.id
            WHERE s.site_id = $1
            """,
            site.id,
        )
        sessions = await owner.fetch(
            "SELECT id, canonical_user_id, fingerprint FROM sessions WHERE site_id = $1", site.id
        )
    finally:
        await owner.close()
    funnels = {}
    claims = Claims(role=DbRole.ADMIN, site_ids=(site.id,))
    for order, count_by in itertools.product(("strict", "any"), ("session", "person")):
        definition = {"name": f"{order}-{count_by}", "steps": STEPS, "window_seconds": WINDOW,
                      "order": order, "count_by": count_by}  # fmt: skip
        async with db.transaction(claims) as conn:
            stored = await service.create_funnel(conn, site.id, definition)
        await service.FunnelJob(db).rebuild_funnel(site.id, stored.id)
        funnels[(order, count_by)] = stored
    return {"site": site, "raw": raw, "sessions": sessions, "funnels": funnels, "base": base}


def expected(raw: list[Any], order: str, count_by: str) -> list[int]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in raw:
        groups[str(row["session_id"]) if count_by == "session" else row["person"]].append(row)
    reached = [brute_force(rows, order) for rows in groups.values()]
    return [sum(1 for r in reached if r >= k) for k in range(1, len(STEPS) + 1)]


@pytest.mark.parametrize("order", ["strict", "any"])
@pytest.mark.parametrize("count_by", ["session", "person"])
async def test_report_counts_equal_a_brute_force_count(
    world: dict[str, Any], db: Database, order: str, count_by: str
) -> None:
    site: Site = world["site"]
    stored = world["funnels"][(order, count_by)]
    async with db.transaction(Claims(role=DbRole.ANALYST, site_ids=(site.id,))) as conn:
        result = await service.report(
            conn,
            site.id,
            stored,
            world["base"] - timedelta(days=1),
            world["base"] + timedelta(days=30),
        )
    entered = [s["entered"] for s in result["steps"]]
    assert entered == expected(world["raw"], order, count_by)
    assert entered[0] > entered[2] > 0  # the data exercises drop-off at every step
    steps = result["steps"]
    for i, step in enumerate(steps):
        nxt = steps[i + 1]["entered"] if i + 1 < len(steps) else step["entered"]
        assert (step["converted"], step["dropped"]) == (nxt, step["entered"] - nxt)
    assert sum(r["count"] for r in steps[0]["dropoff_reasons"]) == steps[0]["dropped"]


async def test_breakdown_sums_to_the_totals(world: dict[str, Any], db: Database) -> None:
    site: Site = world["site"]
    stored = world["funnels"][("strict", "session")]
    async with db.transaction(Claims(role=DbRole.ANALYST, site_ids=(site.id,))) as conn:
        result = await service.report(conn, site.id, stored, world["base"] - timedelta(days=1),
                                      world["base"] + timedelta(days=30), "device")  # fmt: skip
    groups = result["breakdown"]["groups"]
    assert {g["value"] for g in groups} == {"desktop", "mobile"}
    assert [sum(g["entered"][i] for g in groups) for i in range(3)] == [
        s["entered"] for s in result["steps"]
    ]


async def test_completed_agrees_with_the_brute_force(world: dict[str, Any], db: Database) -> None:
    site: Site = world["site"]
    by_session: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in world["raw"]:
        by_session[row["session_id"]].append(row)
    funnel = Funnel.parse({"name": "f", "steps": STEPS, "window_seconds": WINDOW})
    checked = {True: 0, False: 0}
    async with db.transaction(Claims(role=DbRole.ANALYST, site_ids=(site.id,))) as conn:
        for sid, rows in list(by_session.items())[:40]:
            done = await service.completed(conn, site.id, funnel, session_id=sid)
            assert done == (brute_force(rows, "strict") == 3)
            checked[done] += 1
        user = next(s["canonical_user_id"] for s in world["sessions"] if s["canonical_user_id"])
        rows = [r for r in world["raw"] if r["person"] == f"u:{user}"]
        assert await service.completed(conn, site.id, funnel, person=user) == (
            brute_force(rows, "strict") == 3
        )
    assert checked[True] and checked[False]


async def test_job_keeps_rows_current_when_a_session_moves_on(
    world: dict[str, Any], db: Database, test_database: Any
) -> None:
    site: Site = world["site"]
    stored = world["funnels"][("strict", "session")]
    job = service.FunnelJob(db)
    await job.refresh_site(site.id)  # the job's first pass: its progress mark
    owner = await asyncpg.connect(test_database.owner_dsn)
    try:
        sid = uuid.uuid4()
        now = datetime.now(UTC)
        month = date(now.year, now.month, 1)
        await owner.execute(
            "INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)",
            site.id, sid, month, now,
        )  # fmt: skip
        await owner.execute(
            "INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category, event_action) "
            "VALUES ($1, $2, $3, $4, 'https://funnels.example/pricing', 'acquisition', 'view')",
            site.id, sid, month, now,
        )  # fmt: skip
        assert await job.refresh_site(site.id) >= 1
        rows = await owner.fetch(
            "SELECT step_order, dropoff_reason FROM conversion_funnels WHERE funnel_id = $1 AND session_id = $2",
            stored.id, sid,
        )  # fmt: skip
        assert [(r["step_order"], r["dropoff_reason"]) for r in rows] == [(1, "timeout")]
        later = now + timedelta(minutes=3)
        await owner.execute(
            "INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category, event_action) "
            "VALUES ($1, $2, $3, $4, 'https://funnels.example/signup', 'conversion', 'form_submit')",
            site.id, sid, month, later,
        )  # fmt: skip
        await owner.execute(
            "UPDATE sessions SET last_seen_at = $3 WHERE site_id = $1 AND id = $2",
            site.id,
            sid,
            later,
        )
        await job.refresh_site(site.id)
        rows = await owner.fetch(
            "SELECT step_order, duration_seconds, dropoff_reason FROM conversion_funnels "
            "WHERE funnel_id = $1 AND session_id = $2 ORDER BY step_order",
            stored.id, sid,
        )  # fmt: skip
        assert [(r["step_order"], r["duration_seconds"], r["dropoff_reason"]) for r in rows] == [
            (1, 180, None), (2, 0, "timeout"),
        ]  # fmt: skip
    finally:
        await owner.close()


async def test_bad_definitions_are_refused(world: dict[str, Any], db: Database) -> None:
    site: Site = world["site"]
    claims = Claims(role=DbRole.ADMIN, site_ids=(site.id,))
    for bad, field in [
        ({"name": "", "steps": STEPS}, "name"),
        ({"name": "x", "steps": []}, "steps"),
        ({"name": "x", "steps": [{"kind": "page"}]}, "steps[0].url"),
        ({"name": "x", "steps": [{"kind": "nope"}]}, "steps[0].kind"),
        ({"name": "x", "steps": STEPS, "order": "sideways"}, "order"),
    ]:
        with pytest.raises(Exception) as info:
            async with db.transaction(claims) as conn:
                await service.create_funnel(conn, site.id, bad)
        assert getattr(info.value, "code", None) == "invalid_funnel"
        assert getattr(info.value, "field", None) == field


# -- the per-day counts (funnel_step_daily, funnel_duration_daily) ---------------------------


async def _daily_and_rows(
    db: Database, site: Site, stored: service.StoredFunnel, breakdown: str | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report over whole UTC days (answered from the per-day counts) and the same figures
    computed from the conversion_funnels rows."""
    first = datetime.combine(datetime.now(UTC).date() - timedelta(days=10), time(), UTC)
    end = first + timedelta(days=12)
    async with db.transaction(Claims(role=DbRole.ANALYST, site_ids=(site.id,))) as conn:
        daily = await service.report(conn, site.id, stored, first, end, breakdown)
        entered, medians, reasons, groups = await service._by_session_rows(
            conn, site.id, stored, first, end, breakdown
        )
    rows = {"steps": service._steps_out(stored.funnel, entered, medians, reasons)}
    if breakdown:
        rows["breakdown"] = [{"value": k, "entered": v} for k, v in sorted(groups.items())]
    got = {"steps": daily["steps"]}
    if breakdown:
        got["breakdown"] = daily["breakdown"]["groups"]
    return got, rows


@pytest.mark.parametrize("order", ["strict", "any"])
async def test_daily_counts_equal_the_rows_and_the_brute_force(
    world: dict[str, Any], db: Database, order: str
) -> None:
    site: Site = world["site"]
    stored = world["funnels"][(order, "session")]
    for breakdown in (None, "channel", "device", "campaign"):
        daily, rows = await _daily_and_rows(db, site, stored, breakdown)
        assert daily == rows
    assert daily["steps"][0]["entered"] > 0
    assert any(s["median_seconds_to_next"] is not None for s in daily["steps"])


async def _session(
    owner: asyncpg.Connection, site: Site, start: datetime, touches: list[tuple[datetime, str]],
    *, fingerprint: str | None = None, device: str = "desktop",
) -> uuid.UUID:  # fmt: skip
    """A session with page views ("pricing", "home"), form submits ("submit") and leads."""
    sid = uuid.uuid4()
    month = date(start.year, start.month, 1)
    last = max([start, *(t for t, _ in touches)])
    await owner.execute(
        "INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at, fingerprint, device_type) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        site.id, sid, month, start, last, fingerprint, device,
    )  # fmt: skip
    for at, what in touches:
        await _touch(owner, site, sid, month, at, what)
    return sid


async def _touch(
    owner: asyncpg.Connection, site: Site, sid: uuid.UUID, month: date, at: datetime, what: str
) -> None:
    if what == "lead":
        await owner.execute(
            "INSERT INTO leads (site_id, session_id, session_month, submitted_at) VALUES ($1, $2, $3, $4)",
            site.id, sid, month, at,
        )  # fmt: skip
        return
    url, cat, act = {
        "pricing": ("https://inc.example/pricing", "acquisition", "view"),
        "home": ("https://inc.example/", "acquisition", "view"),
        "submit": ("https://inc.example/signup", "conversion", "form_submit"),
    }[what]
    await owner.execute(
        "INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category, event_action) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        site.id, sid, month, at, url, cat, act,
    )  # fmt: skip
    await owner.execute(
        "UPDATE sessions SET last_seen_at = greatest(last_seen_at, $3) WHERE site_id = $1 AND id = $2",
        site.id, sid, at,
    )  # fmt: skip


async def test_daily_counts_follow_changes_merges_and_edits(
    db: Database, test_database: Any
) -> None:
    """A session started on a past day that goes on today (its day's counts move), a person
    merge (per-person counts regroup), a funnel edited after data exists (recomputed)."""
    async with db.system() as conn:
        site = await create_site(conn, name="Inc", domain="inc.example", public_id="funnels_inc")
    admin = Claims(role=DbRole.ADMIN, site_ids=(site.id,))
    analyst = Claims(role=DbRole.ANALYST, site_ids=(site.id,))
    definitions = {
        count_by: {"name": count_by, "steps": STEPS, "window_seconds": WINDOW, "count_by": count_by}
        for count_by in ("session", "person")
    }
    async with db.transaction(admin) as conn:
        funnels = {k: await service.create_funnel(conn, site.id, d) for k, d in definitions.items()}
    job = service.FunnelJob(db)
    now = datetime.now(UTC).replace(microsecond=0)
    midnight = datetime.combine(now.date(), time(), UTC)
    yesterday = midnight - timedelta(minutes=30)  # a session across midnight
    owner = await asyncpg.connect(test_database.owner_dsn)
    try:
        across = await _session(owner, site, yesterday, [(yesterday, "pricing")], device="mobile")
        a = await _session(owner, site, now - timedelta(hours=3),
                           [(now - timedelta(hours=3), "pricing")], fingerprint="fp-a")  # fmt: skip
        b = await _session(owner, site, now - timedelta(hours=3) + timedelta(minutes=5),
                           [(now - timedelta(hours=3) + timedelta(minutes=5), "submit"),
                            (now - timedelta(hours=3) + timedelta(minutes=6), "lead")],
                           fingerprint="fp-b")  # fmt: skip
        await job.refresh_site(site.id)

        async def entered(count_by: str) -> list[int]:
            async with db.transaction(analyst) as conn:
                result = await service.report(conn, site.id, funnels[count_by],
                                              midnight - timedelta(days=1), midnight + timedelta(days=1))  # fmt: skip
            return [s["entered"] for s in result["steps"]]

        assert await entered("session") == [2, 0, 0]
        assert await entered("person") == [2, 0, 0]  # fp-a reached step 1, fp-b none
        # the session from yesterday goes on after midnight, its outbox delivering a late
        # event with a current one: yesterday's counts change
        month = date(yesterday.year, yesterday.month, 1)
        await _touch(owner, site, across, month, yesterday + timedelta(minutes=40), "submit")
        await _touch(owner, site, across, month, datetime.now(UTC), "home")
        await job.refresh_site(site.id)
        assert await entered("session") == [2, 1, 0]
        for breakdown in (None, "device"):
            daily, rows = await _daily_and_rows(db, site, funnels["session"], breakdown)
            assert daily == rows
        assert daily["breakdown"] == [
            {"value": "desktop", "entered": [1, 0, 0]}, {"value": "mobile", "entered": [1, 1, 0]},
        ]  # fmt: skip
        # a merge: fp-a and fp-b are one person, who went through every step
        await owner.execute(
            "UPDATE sessions SET canonical_user_id = $3 WHERE site_id = $1 AND id = ANY ($2::uuid[])",
            site.id, [a, b], uuid.uuid4(),
        )  # fmt: skip
        await job.refresh_site(site.id)
        assert await entered("person") == [2, 2, 1]
        assert await entered("session") == [2, 1, 0]
        # an edit after data exists: the rows and the per-day counts are recomputed
        edited = {**definitions["session"], "steps": [STEPS[1], STEPS[2]]}
        async with db.transaction(admin) as conn:
            funnels["session"] = await service.update_funnel(
                conn, site.id, funnels["session"].id, edited
            )
        await job.rebuild_funnel(site.id, funnels["session"].id)
        assert await entered("session") == [2, 1]
        daily, rows = await _daily_and_rows(db, site, funnels["session"], "channel")
        assert daily == rows
        leftovers = await owner.fetchval(
            "SELECT count(*) FROM funnel_step_daily WHERE funnel_id = $1 AND step_order > 2 AND sessions <> 0",
            funnels["session"].id,
        )  # fmt: skip
        assert leftovers == 0
        # deleting the funnel takes its counts along
        async with db.transaction(admin) as conn:
            await service.delete_funnel(conn, site.id, funnels["session"].id)
        assert not await owner.fetchval(
            "SELECT count(*) FROM funnel_step_daily WHERE funnel_id = $1", funnels["session"].id
        )
    finally:
        await owner.close()
