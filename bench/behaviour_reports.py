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
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from leadtrail.behaviour import reports
from leadtrail.behaviour.job import BehaviourJob
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


def zipf(rng: random.Random, items: list[Any], s: float = 1.1) -> Callable[[], Any]:
    cumulative, acc = [], 0.0
    for i in range(len(items)):
        acc += 1 / (i + 1) ** s
        cumulative.append(acc)
    return lambda: rng.choices(items, cum_weights=cumulative)[0]


def generate(site_id: uuid.UUID, events: int, behaviour: int, days: int, now: datetime, seed: int) -> dict[str, list[tuple[Any, ...]]]:  # fmt: skip
    rng = random.Random(seed)
    pages = ["/", "/pricing", "/signup"] + [f"/services/{i}" for i in range(40)]
    page = zipf(rng, pages)
    elements = [(f"main>section:nth-of-type({i % 7 + 1})>button:nth-of-type({i % 3 + 1})", "button", f"cta-{i % 12}") for i in range(120)]  # fmt: skip
    element = zipf(rng, elements, 1.0)
    sessions_n = max(1, events // 5)
    per_session_bx = behaviour / sessions_n
    out: dict[str, list[tuple[Any, ...]]] = {"sessions": [], "events": [], "leads": [], "bx": []}
    for _ in range(sessions_n):
        sid = uuid.uuid4()
        start = now - timedelta(seconds=rng.random() * days * 86400)
        month = date(start.year, start.month, 1)
        device = rng.choice(["desktop", "desktop", "mobile", "tablet"])
        t = start
        n = max(1, round(rng.expovariate(1 / 5)))
        for i in range(n):
            t += timedelta(seconds=rng.randint(5, 120))
            if i and rng.random() < 0.08:
                out["events"].append((site_id, uuid.uuid4(), sid, month, t, "https://b.example/signup", "conversion", "form_submit"))  # fmt: skip
                if rng.random() < 0.5:
                    out["leads"].append((site_id, sid, month, t + timedelta(seconds=2)))
            else:
                out["events"].append((site_id, uuid.uuid4(), sid, month, t, f"https://b.example{page()}", "acquisition", "view"))  # fmt: skip
        out["sessions"].append(
            (site_id, sid, month, start, t, device, rng.choice([None, "spring", "brand"]))
        )
        bt = start
        for _ in range(max(0, round(rng.expovariate(1 / per_session_bx)) if per_session_bx else 0)):
            bt += timedelta(seconds=rng.randint(1, 30))
            kind = rng.choice(BX_KINDS)
            path, etype, comp = element()
            pg = page()
            coords = {"x": rng.randint(0, 200), "y": rng.randint(0, 40), "px": rng.randint(0, 1200),
                      "py": int(rng.betavariate(1.2, 3) * 4000), "pw": 1200, "ph": 4000}  # fmt: skip
            data: dict[str, Any] = {}
            if kind == "hesitation":
                data = {"hesitation_ms": rng.randint(2000, 9000)}
            elif kind == "scroll_depth":
                data = {"percentage": rng.randint(5, 100)}
            elif kind == "form_abandon":
                data = {"form": "signup", "field": rng.choice(["email", "phone", "name"])}
            out["bx"].append((site_id, sid, uuid.uuid4(), month, bt, kind, f"https://b.example{pg}", pg, device,
                              path, etype, "Buy", comp, coords, {"w": 1200, "h": 800}, data))  # fmt: skip
    return out


async def load(db: Database, data: dict[str, list[tuple[Any, ...]]]) -> None:
    async with db.owner_connection() as conn:
        await conn.execute("SELECT leadtrail.ensure_partitions(1, 2)")
        await conn.copy_records_to_table(
            "sessions", records=data["sessions"],
            columns=("site_id", "id", "created_month", "created_at", "last_seen_at", "device_type", "utm_campaign"),
        )  # fmt: skip
        await conn.copy_records_to_table(
            "events", records=data["events"],
            columns=("site_id", "id", "session_id", "session_month", "created_at", "url", "event_category", "event_action"),
        )  # fmt: skip
        await conn.copy_records_to_table(
            "leads",
            records=data["leads"],
            columns=("site_id", "session_id", "session_month", "submitted_at"),
        )
        await conn.copy_records_to_table(
            "behavior_events", records=data["bx"],
            columns=("site_id", "session_id", "id", "session_month", "created_at", "event_type", "page_url",
                     "page_path", "device_class", "element_path", "element_type", "element_text",
                     "component_id", "coordinates", "viewport_size", "event_data"),
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO leadtrail.behaviour_dirty SELECT DISTINCT site_id, (created_at AT TIME ZONE 'UTC')::date "
            "FROM behavior_events ON CONFLICT DO NOTHING"
        )
        await conn.execute("ANALYZE")


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
    with tempfile.TemporaryDirectory(prefix="lt-bench-") as tmp:
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
    data = generate(site.id, args.events, args.behaviour_events, args.days, now, args.seed)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    await load(db, data)
    loaded = time.perf_counter() - started
    print(f"loaded {len(data['sessions']):,} sessions, {len(data['events']):,} events, {len(data['leads']):,} leads, "
          f"{len(data['bx']):,} behaviour events over {args.days} days (generated in {generated:.0f} s, COPY {loaded:.0f} s)")  # fmt: skip
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
    parser.add_argument("--check", action="store_true", help="tiny sizes: a quick self-test")
    args = parser.parse_args()
    print_machine_line()
    if args.check:
        args.events, args.behaviour_events, args.repeat, args.raw_repeat = 2000, 5000, 3, 1
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
