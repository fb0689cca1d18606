"""Behaviour report speed: friction points, click map and funnel report for 30 days from the
behaviour rollups and ``conversion_funnels``, next to the same reports computed from the raw
rows in the same run.

    .venv/bin/python -m bench.behaviour_reports --events 500000 --behaviour-events 1000000
    .venv/bin/python -m bench.behaviour_reports --check     # tiny sizes, a few seconds

Builds a fresh embedded PostgreSQL and loads, with COPY, one site with ``--events`` tracker
events in ``--events / 5`` sessions over ``--days`` days and ``--behaviour-events`` behaviour
events (clicks with page positions, rage and dead clicks, hesitations, form abandons, errors,
scroll depths; Zipf-distributed pages and elements) plus leads, defines a three-step funnel,
then runs the behaviour job and the funnel job (timed: the backfill) and times each report
``--repeat`` times (raw: ``--raw-repeat``). Prints p50/p95 per report, the raw figures
beside them, the ratio, and whether rollup and raw agree.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from bench.scratch import scratch_dir
from leadtrail.behaviour import reports
from leadtrail.behaviour.job import BehaviourJob
from leadtrail.behaviour.records import FRICTION_TYPES
from leadtrail.config import Settings
from leadtrail.funnels import service
from leadtrail.funnels.evaluate import Q as FQ
from leadtrail.funnels.evaluate import evaluate, load_subjects
from leadtrail.sites.service import create_site
from leadtrail.storage import Claims, Database, DbRole

TARGET_MS = 500
STEPS = [
    {"name": "Pricing", "kind": "page", "url": "/pricing"},
    {"name": "Form", "kind": "event", "category": "conversion", "action": "form_submit"},
    {"name": "Lead", "kind": "lead"},
]
BX_KINDS = ["click"] * 70 + ["rage_click"] * 4 + ["dead_click"] * 6 + ["hesitation"] * 8 + [
    "form_abandon", "error", "scroll_depth", "scroll_depth", "page_exit", "quick_back",
    "excessive_scroll", "form_start", "form_submit", "page_view", "page_view", "page_view",
]  # fmt: skip


# The data is generated inside PostgreSQL (INSERT … SELECT over generate_series), in chunks
# of sessions: the size (10M events, 20M behaviour events) loads in minutes rather
# than hours of Python tuples. Pages and elements are close to Zipf (an index drawn as
# floor(N ** random()) - 1 has P(i) ∝ log((i + 2) / (i + 1)) ≈ 1 / (i + 1)).
GEN_SESSIONS = """
CREATE TEMP TABLE IF NOT EXISTS gen_sessions (
    id uuid, month date, started timestamptz, n integer, m integer, device text, campaign text);
TRUNCATE gen_sessions;
INSERT INTO gen_sessions
SELECT gen_random_uuid(), date_trunc('month', st AT TIME ZONE 'UTC')::date, st,
       greatest(1, round(-5 * ln(1 - random())))::int,
       round(-$3::float8 * ln(1 - random()))::int,
       (ARRAY['desktop', 'desktop', 'mobile', 'tablet'])[1 + floor(random() * 4)::int],
       (ARRAY[NULL, 'spring', 'brand'])[1 + floor(random() * 3)::int]
FROM (SELECT $1::timestamptz - random() * $2::float8 * interval '1 day' AS st
      FROM generate_series(1, $4::int)) g;
"""
GEN_REST = """
INSERT INTO sessions (site_id, id, created_month, created_at, last_seen_at, device_type, utm_campaign)
SELECT $1, id, month, started, started + make_interval(secs => n * 62 + 60), device, campaign
FROM gen_sessions;
CREATE TEMP TABLE IF NOT EXISTS gen_events (session_id uuid, month date, at timestamptz, submit boolean);
TRUNCATE gen_events;
INSERT INTO gen_events
SELECT s.id, s.month, s.started + make_interval(secs => k * 62 + random() * 50), k > 1 AND random() < 0.08
FROM gen_sessions s, generate_series(1, s.n) k;
INSERT INTO events (site_id, session_id, session_month, created_at, url, event_category, event_action)
SELECT $1, session_id, month, at,
       'https://b.example' || CASE WHEN submit THEN '/signup' ELSE ($2::text[])[floor($3::float8 ^ random())::int] END,
       CASE WHEN submit THEN 'conversion' ELSE 'acquisition' END,
       CASE WHEN submit THEN 'form_submit' ELSE 'view' END
FROM gen_events;
INSERT INTO leads (site_id, session_id, session_month, submitted_at)
SELECT $1, session_id, month, at + interval '2 seconds' FROM gen_events WHERE submit AND random() < 0.5;
INSERT INTO behavior_events (site_id, session_id, id, session_month, created_at, event_type, page_url,
    page_path, device_class, element_path, element_type, element_text, component_id, coordinates,
    viewport_size, event_data)
SELECT $1, id, gen_random_uuid(), month, at, kind, 'https://b.example' || pg, pg, device,
       'main>section:nth-of-type(' || (el % 7 + 1) || ')>button:nth-of-type(' || (el % 3 + 1) || ')',
       'button', 'Buy', 'cta-' || (el % 12),
       jsonb_build_object('x', floor(random() * 201), 'y', floor(random() * 41),
                          'px', floor(random() * 1201), 'py', floor(4000 * random() * random()),
                          'pw', 1200, 'ph', 4000),
       '{"w": 1200, "h": 800}',
       CASE kind WHEN 'hesitation' THEN jsonb_build_object('hesitation_ms', 2000 + floor(random() * 7001))
                 WHEN 'scroll_depth' THEN jsonb_build_object('percentage', 5 + floor(random() * 96))
                 WHEN 'form_abandon' THEN jsonb_build_object('form', 'signup', 'field',
                     (ARRAY['email', 'phone', 'name'])[1 + floor(random() * 3)::int])
                 ELSE '{}' END
FROM (SELECT s.id, s.month, s.device, s.started + make_interval(secs => k * 15 + random() * 14) AS at,
             ($4::text[])[1 + floor(random() * $5::int)::int] AS kind,
             ($2::text[])[floor($3::float8 ^ random())::int] AS pg,
             floor($6::float8 ^ random())::int - 1 AS el
      FROM gen_sessions s, generate_series(1, s.m) k) b;
"""
PAGES = ["/", "/pricing", "/signup"] + [f"/services/{i}" for i in range(40)]
ELEMENTS = 120
CHUNK_SESSIONS = 50_000


def _statements(script: str) -> list[str]:
    return [q.strip() for q in script.split(";\n") if q.strip()]


async def load(db: Database, site_id: uuid.UUID, events: int, behaviour: int, days: int, now: datetime) -> dict[str, int]:  # fmt: skip
    """Generate and store the data in chunks of sessions; returns the row counts."""
    sessions_n = max(1, events // 5)
    per_session = behaviour / sessions_n
    async with db.owner_connection() as conn:
        await conn.execute("SELECT leadtrail.ensure_partitions(1, 2)")
        await conn.execute("SELECT leadtrail.ensure_behaviour_partitions(2)")
        # a month in the past: behaviour partitions for it (ensure_* only go forward)
        for month in {date(d.year, d.month, 1) for d in (now - timedelta(days=days + 1), now)}:
            part = await conn.fetchval(
                "SELECT leadtrail.partition_name('behavior_events', $1)", month
            )
            if await conn.fetchval("SELECT to_regclass($1)", f"public.{part}") is None:
                upper = date(month.year + month.month // 12, month.month % 12 + 1, 1)
                await conn.execute(f"CREATE TABLE {part} PARTITION OF behavior_events "
                                   f"FOR VALUES FROM ('{month}') TO ('{upper}')")  # fmt: skip
                await conn.execute(f"ALTER TABLE {part} ENABLE ROW LEVEL SECURITY")
                await conn.execute(f"ALTER TABLE {part} FORCE ROW LEVEL SECURITY")
        await conn.execute("SELECT setseed(0.5)")
        done = 0
        while done < sessions_n:
            n = min(CHUNK_SESSIONS, sessions_n - done)
            async with conn.transaction():
                create, truncate, fill = _statements(GEN_SESSIONS)
                await conn.execute(create)
                await conn.execute(truncate)
                await conn.execute(fill, now, days, per_session, n)
                statements = _statements(GEN_REST)
                await conn.execute(statements[0], site_id)
                await conn.execute(statements[1])
                await conn.execute(statements[2])
                await conn.execute(statements[3])
                await conn.execute(statements[4], site_id, PAGES, len(PAGES) + 1)
                await conn.execute(statements[5], site_id)
                await conn.execute(statements[6], site_id, PAGES, len(PAGES) + 1, BX_KINDS,
                                   len(BX_KINDS), ELEMENTS + 1)  # fmt: skip
            done += n
            print(f"  generated {done:,} / {sessions_n:,} sessions", flush=True)
        await conn.execute(
            "INSERT INTO leadtrail.behaviour_dirty SELECT DISTINCT site_id, (created_at AT TIME ZONE 'UTC')::date "
            "FROM behavior_events ON CONFLICT DO NOTHING"
        )
        await conn.execute("ANALYZE")
        counts = {}
        for table in ("sessions", "events", "leads", "behavior_events"):
            counts[table] = await conn.fetchval(f"SELECT count(*) FROM {table}")
        return counts


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[list[float], Any]:
    out, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await fn()
        out.append((time.perf_counter() - started) * 1000)
    return out, result


async def raw_funnel(db: Database, claims: Claims, site_id: uuid.UUID, stored: Any, start: datetime, end: datetime) -> list[int]:  # fmt: skip
    """The funnel counted from raw events, leads and calls (no conversion_funnels)."""
    async with db.transaction(claims) as conn:
        sessions = await conn.fetch(FQ.sessions_started, site_id, start, end)
        subjects = await load_subjects(conn, site_id, sessions, False)
    reached = [evaluate(stored.funnel, s).reached for s in subjects]
    return [sum(1 for r in reached if r >= k) for k in range(1, len(STEPS) + 1)]


async def explain(db: Database, claims: Claims, site_id: uuid.UUID, funnel_id: uuid.UUID, first: date, last: date, page: str) -> None:  # fmt: skip
    """EXPLAIN (ANALYZE, BUFFERS) of every query the three reports run."""
    plans = [
        ("friction points", reports.Q.friction_points, (site_id, first, last, list(FRICTION_TYPES), 10)),
        ("click grid", reports.Q.click_grid, (site_id, first, last, page, "", list(reports.CLICK_TYPES))),
        ("click elements", reports.Q.click_elements, (site_id, first, last, page)),
        ("funnel steps", FQ.daily_steps, (site_id, funnel_id, first, last + timedelta(days=1))),
        ("funnel durations", FQ.daily_durations, (site_id, funnel_id, first, last + timedelta(days=1))),
    ]  # fmt: skip
    for name, query, params in plans:
        async with db.transaction(claims) as conn:
            rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS) " + query, *params)
        print(f"\n-- {name}")
        print("\n".join(r[0] for r in rows))


def friction_agrees(rollup: list[dict[str, Any]], raw: list[dict[str, Any]]) -> bool:
    """Events exactly; affected sessions may differ by the sessions active on two UTC days
    (the rollup counts distinct sessions per day, docs/behaviour.md)."""
    got = {(r["element_path"], r["event_type"]): r for r in rollup}
    want = {(r["element_path"], r["event_type"]): r for r in raw}
    if got.keys() != want.keys():
        print("differ:", sorted(got.keys() ^ want.keys())[:5])
        return False
    for k, r in want.items():
        g = got[k]
        if g["event_count"] != r["event_count"]:
            print("count:", k, g["event_count"], r["event_count"])
            return False
        if (
            not r["affected_sessions"]
            <= g["affected_sessions"]
            <= r["affected_sessions"] * 1.05 + 1
        ):
            return False
    return True


async def run(args: argparse.Namespace) -> int:
    now = datetime.now(UTC).replace(microsecond=0)
    with scratch_dir("lt-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench", log_level="warning",
                            embedded_shared_buffers="512MB")  # fmt: skip
        db = await Database.open(settings)
        try:
            return await measure(db, args, now)
        finally:
            await db.close()


async def measure(db: Database, args: argparse.Namespace, now: datetime) -> int:
    async with db.system() as conn:
        site = await create_site(conn, name="bench", domain="b.example", public_id="bx_reports")
    started = time.perf_counter()
    counts = await load(db, site.id, args.events, args.behaviour_events, args.days, now)
    loaded = time.perf_counter() - started
    print(f"loaded {counts['sessions']:,} sessions, {counts['events']:,} events, {counts['leads']:,} leads, "
          f"{counts['behavior_events']:,} behaviour events over {args.days} days (generated in SQL, {loaded:.0f} s)")  # fmt: skip
    admin = Claims(role=DbRole.ADMIN, site_ids=(site.id,))
    async with db.transaction(admin) as conn:
        stored = await service.create_funnel(
            conn, site.id, {"name": "signup", "steps": STEPS, "window_seconds": 3600}
        )
    started = time.perf_counter()
    days_done = await BehaviourJob(db).run_once()
    backfill = time.perf_counter() - started
    started = time.perf_counter()
    await service.FunnelJob(db).rebuild_funnel(site.id, stored.id)
    funnel_backfill = time.perf_counter() - started
    print(
        f"behaviour rollups backfilled: {days_done} days in {backfill:.1f} s; conversion_funnels: {funnel_backfill:.1f} s"
    )

    async with db.owner_connection() as conn:
        await conn.execute("ANALYZE")  # as autovacuum would after the backfill
    claims = Claims(role=DbRole.ANALYST, site_ids=(site.id,))
    end_day = now.date()
    start_day = end_day - timedelta(days=29)
    start = datetime.combine(start_day, datetime.min.time(), UTC)
    end = datetime.combine(end_day, datetime.min.time(), UTC) + timedelta(days=1)
    busiest = "/"

    async def with_conn(fn: Callable[[Any], Awaitable[Any]]) -> Any:
        async with db.transaction(claims) as conn:
            return await fn(conn)

    if args.explain:
        await explain(db, claims, site.id, stored.id, start_day, end_day, busiest)
    cases: list[tuple[str, Callable[[], Awaitable[Any]], Callable[[], Awaitable[Any]]]] = [
        ("friction points", lambda: with_conn(lambda c: reports.friction_points(c, site.id, start_day, end_day)),
         lambda: with_conn(lambda c: reports.friction_points(c, site.id, start_day, end_day, raw=True))),
        ("click map", lambda: with_conn(lambda c: reports.click_map(c, site.id, start_day, end_day, busiest)),
         lambda: with_conn(lambda c: reports.click_map(c, site.id, start_day, end_day, busiest, raw=True))),
        ("funnel", lambda: with_conn(lambda c: service.report(c, site.id, stored, start, end)),
         lambda: raw_funnel(db, claims, site.id, stored, start, end)),
    ]  # fmt: skip
    problems = []
    print(
        f"\n30-day reports (repeat {args.repeat}, raw {args.raw_repeat}); target p95 < {TARGET_MS} ms"
    )
    print(
        f"{'report':<18}{'p50 ms':>9}{'p95 ms':>9}{'raw p50':>10}{'raw p95':>10}{'raw/rollup':>12}"
    )
    for name, fast, slow in cases:
        times, result = await timed(fast, args.repeat)
        raw_times, raw = await timed(slow, args.raw_repeat) if args.raw_repeat else ([], None)
        p50, p95 = statistics.median(times), pct(times, 0.95)
        rp50 = statistics.median(raw_times) if raw_times else float("nan")
        rp95 = pct(raw_times, 0.95) if raw_times else float("nan")
        print(f"{name:<18}{p50:>9.1f}{p95:>9.1f}{rp50:>10.1f}{rp95:>10.1f}{rp50 / p50:>11.1f}x")
        if p95 >= TARGET_MS:
            problems.append(f"{name}: p95 {p95:.0f} ms >= {TARGET_MS} ms")
        if raw is not None:
            if name == "friction points":
                same = friction_agrees(result, raw)
            elif name == "click map":
                same = sorted(map(tuple, result["cells"])) == sorted(map(tuple, raw["cells"]))
            else:
                same = [s["entered"] for s in result["steps"]] == raw
            if not same:
                problems.append(f"{name}: rollup and raw disagree")
    print(
        "\nrollup and raw agree: " + ("yes" if not any("disagree" in p for p in problems) else "NO")
    )
    for problem in problems:
        print("problem:", problem)
    return 1 if problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--behaviour-events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--raw-repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print the reports' query plans")
    parser.add_argument("--check", action="store_true", help="tiny sizes: a quick self-test")
    args = parser.parse_args()
    print_machine_line()
    if args.check:
        args.events, args.behaviour_events, args.repeat, args.raw_repeat = 2000, 5000, 3, 1
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
