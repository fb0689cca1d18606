"""Report speed: every overview and breakdown query for 1, 7, 30 and 90 days, from the
rollup tables, next to the same report computed from raw events in the same run.

    python bench/reports.py [--events 10000000] [--days 90] [--repeat 20]
    python bench/reports.py behaviour [--events … --behaviour-events …]   # bench/behaviour_reports.py

Builds a fresh embedded PostgreSQL (leadtrail's own settings) and loads, with COPY, one
site with ``--events`` events in ``--events / 10`` sessions over ``--days`` days (daily
and weekly rhythm, Zipf-distributed pages, referrers, search terms, campaigns and places,
returning visitors, identified people, click ids, conversions, calls and leads) plus
``--noise-sites`` other sites with ``--noise`` times as many events between them, so the
indexes and partitions are shared as in production. Then:

1. backfills the rollups (the job's own code) and times it, and one incremental pass;
2. times each report ``--repeat`` times per range through the API's code path (analyst
   claims, RLS on), and the raw-events equivalent ``--raw-repeat`` times (overview, funnel
   and six breakdowns; ``--raw-repeat 0`` skips it);
3. prints p50/p95 per report and range, the raw p50/p95 beside it, and whether the
   targets hold (p95 < 200 ms up to 30 days, < 500 ms at 90 days); checks that rollup and
   raw agree (sessions, page views exactly; visitors within the HyperLogLog's error).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from bench.scratch import discard
from leadtrail.analytics import reports
from leadtrail.analytics.dimensions import DIMENSIONS, get_dimension
from leadtrail.analytics.ranges import Compare, DateRange, default_interval
from leadtrail.analytics.rollups import Rollups
from leadtrail.config import Settings
from leadtrail.storage import Claims, Database, DbRole
from leadtrail.storage.marks import mark_sessions

ZONE = ZoneInfo("America/New_York")
RANGES = (1, 7, 30, 90)
TARGET_MS = {1: 200, 7: 200, 30: 200, 90: 500}
RAW_DIMENSIONS = ("entry_page", "referrer", "utm_campaign", "country", "city", "device")
CHUNK = 50_000

# -- synthetic population --------------------------------------------------------------


def zipf_picker(rng: random.Random, items: list[Any], s: float = 1.1) -> Callable[[], Any]:
    weights = [1 / (i + 1) ** s for i in range(len(items))]
    total = sum(weights)
    cumulative = []
    acc = 0.0
    for w in weights:
        acc += w / total
        cumulative.append(acc)

    def pick() -> Any:
        r = rng.random()
        lo, hi = 0, len(cumulative) - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if cumulative[mid] < r:
                lo = mid + 1
            else:
                hi = mid
        return items[lo]

    return pick


class Population:
    """Draws sessions (and their events) with realistic, repeatable distributions."""

    def __init__(self, seed: int, days: int, now: datetime) -> None:
        rng = self.rng = random.Random(seed)
        self.now = now
        self.days = days
        self.page = zipf_picker(
            rng,
            ["/"] + [f"/services/{i}" for i in range(60)] + [f"/blog/post-{i}" for i in range(140)],
        )
        self.referrer = zipf_picker(
            rng,
            [
                ("google.com", "search"),
                (None, "direct"),
                ("facebook.com", "social"),
                ("bing.com", "search"),
                ("duckduckgo.com", "search"),
                ("instagram.com", "social"),
                ("mail.google.com", "email"),
            ]
            + [(f"blog{i}.example.org", "referral") for i in range(60)],
        )
        self.query = zipf_picker(rng, [f"plumber near me {i}" for i in range(5000)], 0.9)
        self.campaign = zipf_picker(rng, [f"campaign-{i}" for i in range(30)])
        countries = [
            "US",
            "DE",
            "TR",
            "GB",
            "FR",
            "CA",
            "NL",
            "ES",
            "IT",
            "BR",
            "IN",
            "AU",
            "MX",
            "PL",
            "SE",
            "BE",
            "CH",
            "AT",
            "IE",
            "PT",
            "DK",
            "NO",
            "FI",
            "JP",
            "KR",
            "AR",
            "CL",
            "CO",
            "ZA",
            "NG",
            "EG",
            "AE",
            "SA",
            "IL",
            "GR",
            "RO",
            "CZ",
            "HU",
            "UA",
            "NZ",
        ]
        geo = [
            (country, f"Region {c}-{r}", f"City {c}-{r}-{k}")
            for c, country in enumerate(countries)
            for r in range(4)
            for k in range(4 if c < 5 else 1)
        ]
        self.place = zipf_picker(rng, geo, 1.0)
        self.browser = zipf_picker(
            rng,
            [
                "Chrome",
                "Safari",
                "Edge",
                "Firefox",
                "Samsung Internet",
                "Opera",
                "Chrome Mobile",
                "Mobile Safari",
            ],
        )
        self.os = zipf_picker(rng, ["Windows", "iOS", "Android", "Mac OS X", "Linux", "Chrome OS"])
        self.device = zipf_picker(rng, ["desktop", "mobile", "tablet"], 0.8)
        self.visitors: list[str] = []
        self.people: dict[str, uuid.UUID] = {}

    def start_time(self) -> datetime:
        """Daily (busy afternoons) and weekly (quiet Sundays) rhythm."""
        while True:
            t = self.now - timedelta(seconds=self.rng.random() * self.days * 86400)
            local = t.astimezone(ZONE)
            weight = (0.3 + math.sin(math.pi * max(0, local.hour - 6) / 18) ** 2) * (
                0.6 if local.weekday() == 6 else 1
            )
            if self.rng.random() < weight / 1.3:
                return t

    def visitor(self) -> tuple[str, uuid.UUID | None]:
        if self.visitors and self.rng.random() < 0.3:
            fp = self.rng.choice(self.visitors)
        else:
            fp = f"fp{self.rng.getrandbits(48):012x}"
            self.visitors.append(fp)
            if self.rng.random() < 0.2:
                self.people[fp] = uuid.uuid4()
        return fp, self.people.get(fp)

    def session(
        self, site_id: uuid.UUID, events_per_session: float
    ) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        rng = self.rng
        sid = uuid.uuid4()
        start = self.start_time()
        month = start.astimezone(UTC).date().replace(day=1)
        fp, person = self.visitor()
        domain, kind = self.referrer()
        paid = rng.random() < 0.15
        campaign = self.campaign() if paid or rng.random() < 0.1 else None
        n = max(1, int(rng.expovariate(1 / events_per_session)))
        country, region, city = self.place()
        events = []
        t = start
        pages = []
        score = 0
        converted = False
        for i in range(n):
            if i == 0 or rng.random() < 0.45:
                category, action, value = (
                    ("acquisition", "view", None) if i == 0 else ("interaction", "page_view", None)
                )
                pages.append(self.page())
            elif rng.random() < 0.04:
                category, action, value = (
                    "conversion",
                    rng.choice(["phone_call", "form_submit", "whatsapp"]),
                    None,
                )
                converted = True
            else:
                category, action, value = rng.choice(
                    [
                        ("interaction", "scroll_depth", 50),
                        ("interaction", "scroll_depth", 90),
                        ("interaction", "hover_intent", None),
                        ("system", "heartbeat", None),
                    ]
                )
            points = {"conversion": 50, "interaction": 10}.get(category, 0) + (
                20 if value == 90 else 10 if value == 50 else 0
            )
            score = min(100, max(score, points + (5 if domain == "google.com" else 0)))
            events.append(
                (
                    site_id,
                    uuid.uuid4(),
                    sid,
                    month,
                    t,
                    f"https://bench.example{pages[-1]}",
                    category,
                    action,
                    None,
                    value,
                    points,
                    None,
                    {},
                )
            )
            t += timedelta(seconds=rng.expovariate(1 / 25))
        duration = int((t - start).total_seconds())
        row = (
            site_id,
            sid,
            month,
            start,
            t,
            person,
            fp,
            f"https://bench.example{pages[0]}",
            f"https://bench.example{pages[-1]}",
            f"https://{domain}/" if domain else None,
            "paid" if paid else kind,
            domain,
            self.query() if kind == "search" and rng.random() < 0.4 else None,
            ("google" if paid else None),
            ("cpc" if paid else None),
            campaign,
            f"g{rng.getrandbits(40):x}" if paid else None,
            self.browser(),
            self.os(),
            self.device(),
            country,
            region,
            city,
            len(pages),
            n,
            duration,
            len(pages) <= 1,
            score,
            "First Click (Paid)" if paid else "Organic",
            converted,
        )
        return row, events


SESSION_COLUMNS = [
    "site_id",
    "id",
    "created_month",
    "created_at",
    "last_seen_at",
    "canonical_user_id",
    "fingerprint",
    "entry_page",
    "exit_page",
    "referrer",
    "referrer_type",
    "referrer_domain",
    "search_query",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "gclid",
    "browser",
    "os",
    "device_type",
    "country_code",
    "region",
    "city",
    "page_views",
    "event_count",
    "total_duration_sec",
    "is_bounce",
    "lead_score",
    "attribution_source",
    "converted",
]
EVENT_COLUMNS = [
    "site_id",
    "id",
    "session_id",
    "session_month",
    "created_at",
    "url",
    "event_category",
    "event_action",
    "event_label",
    "event_value",
    "lead_score",
    "client_event_id",
    "metadata",
]


async def load_site(
    db: Database, site_id: uuid.UUID, events: int, days: int, seed: int, now: datetime
) -> tuple[int, int]:
    """COPY one site's sessions, events, calls and leads; returns (sessions, events)."""
    population = Population(seed, days, now)
    sessions_n = max(1, events // 10)
    per_session = events / sessions_n
    made_sessions = made_events = 0
    calls: list[tuple[Any, ...]] = []
    leads: list[tuple[Any, ...]] = []
    async with db.system() as conn:
        while made_sessions < sessions_n:
            session_rows, event_rows = [], []
            for _ in range(min(CHUNK // 10, sessions_n - made_sessions)):
                row, evs = population.session(site_id, per_session)
                session_rows.append(row)
                event_rows.extend(evs)
                if row[-1] and population.rng.random() < 0.3:
                    calls.append(
                        (
                            site_id,
                            "+15550100",
                            "matched",
                            row[1],
                            row[2],
                            row[6],
                            row[27],
                            population.rng.choice(["qualified", "junk", None]),
                            row[4],
                        )
                    )
                elif row[-1]:
                    leads.append((site_id, row[1], row[2], "Lead", row[4]))
            await conn.copy_records_to_table(
                "sessions", records=session_rows, columns=SESSION_COLUMNS
            )
            await conn.copy_records_to_table("events", records=event_rows, columns=EVENT_COLUMNS)
            made_sessions += len(session_rows)
            made_events += len(event_rows)
        await conn.copy_records_to_table(
            "calls",
            records=calls,
            columns=[
                "site_id",
                "phone_number",
                "match_status",
                "matched_session_id",
                "matched_session_month",
                "matched_fingerprint",
                "lead_score",
                "status",
                "created_at",
            ],
        )
        await conn.copy_records_to_table(
            "leads",
            records=leads,
            columns=["site_id", "session_id", "session_month", "name", "submitted_at"],
        )
    return made_sessions, made_events


# -- raw-events baselines ------------------------------------------------------------------

RAW_OVERVIEW = """
SELECT count(DISTINCT e.session_id) FILTER (WHERE s.created_at >= $2 AND s.created_at < $3)
           AS sessions,
       count(*) FILTER (WHERE e.event_action IN ('view', 'page_view')) AS page_views,
       count(*) AS events,
       count(DISTINCT coalesce(s.canonical_user_id::text, s.fingerprint)) AS visitors,
       count(DISTINCT e.session_id) FILTER (WHERE e.event_category = 'conversion') AS conversions
FROM events e JOIN sessions s ON s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month
WHERE e.site_id = $1 AND e.created_at >= $2 AND e.created_at < $3
"""
RAW_SERIES = """
SELECT date_trunc($4, e.created_at, $5) AS bucket, count(DISTINCT e.session_id) AS sessions,
       count(*) FILTER (WHERE e.event_action IN ('view', 'page_view')) AS page_views,
       count(DISTINCT coalesce(s.canonical_user_id::text, s.fingerprint)) AS visitors
FROM events e JOIN sessions s ON s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month
WHERE e.site_id = $1 AND e.created_at >= $2 AND e.created_at < $3
GROUP BY 1 ORDER BY 1
"""
RAW_FUNNEL = """
SELECT count(DISTINCT coalesce(s.canonical_user_id::text, s.fingerprint)) AS visitors,
       count(DISTINCT coalesce(s.canonical_user_id::text, s.fingerprint))
           FILTER (WHERE EXISTS (SELECT 1 FROM sessions p WHERE p.site_id = s.site_id
                                 AND p.fingerprint = s.fingerprint AND p.created_at < s.created_at)) AS returning,
       count(DISTINCT coalesce(s.canonical_user_id::text, s.fingerprint)) FILTER (WHERE e.event_category = 'conversion') AS converted
FROM events e JOIN sessions s ON s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month
WHERE e.site_id = $1 AND e.created_at >= $2 AND e.created_at < $3
"""
RAW_DIMENSION_SQL = {
    "entry_page": "leadtrail.url_path(s.entry_page)",
    "referrer": "s.referrer_domain",
    "utm_campaign": "s.utm_campaign",
    "country": "s.country_code",
    "city": "concat_ws('/', s.country_code, s.region, s.city)",
    "device": "s.device_type",
}
RAW_BREAKDOWN = """
SELECT {expr} AS value, count(DISTINCT e.session_id) AS sessions,
       count(*) FILTER (WHERE e.event_action IN ('view', 'page_view')) AS page_views
FROM events e JOIN sessions s ON s.site_id = e.site_id AND s.id = e.session_id AND s.created_month = e.session_month
WHERE e.site_id = $1 AND e.created_at >= $2 AND e.created_at < $3
GROUP BY 1 ORDER BY 2 DESC LIMIT 50
"""


# -- timing -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[list[float], Any]:
    result = await fn()  # warm-up (plans, caches), not counted
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


def ms(v: float | None) -> str:
    return f"{'—':>8}  " if v is None else f"{v:8.1f}ms"


Run = Callable[[], Awaitable[Any]]


def report_cases(
    db: Database, claims: Claims, site: uuid.UUID, span: DateRange
) -> list[tuple[str, Run, Run | None]]:
    """(name, the report as the API computes it, the raw-events baseline or None)."""
    interval = default_interval(span)
    lower, upper = span.lower, span.upper

    async def in_tx(fn: Callable[[Any], Awaitable[Any]]) -> Any:
        async with db.transaction(claims) as conn:
            return await fn(conn)

    def overview() -> Awaitable[Any]:
        return in_tx(lambda c: reports.overview(c, site, span, interval, Compare.PREVIOUS))

    def overview_raw() -> Awaitable[Any]:
        return in_tx(lambda c: raw_overview(c, site, lower, upper, span, interval))

    def funnel() -> Awaitable[Any]:
        return in_tx(lambda c: reports.funnel(c, site, span))

    def funnel_raw() -> Awaitable[Any]:
        return in_tx(lambda c: c.fetchrow(RAW_FUNNEL, site, lower, upper))

    def breakdown(name: str) -> Run:
        return lambda: in_tx(lambda c: reports.breakdown(c, site, span, get_dimension(name)))

    def breakdown_raw(name: str) -> Run | None:
        if name not in RAW_DIMENSIONS:
            return None
        sql = RAW_BREAKDOWN.format(expr=RAW_DIMENSION_SQL[name])
        return lambda: in_tx(lambda c: c.fetch(sql, site, lower, upper))

    return [
        ("overview", overview, overview_raw),
        ("funnel", funnel, funnel_raw),
        *[(f"breakdown/{n}", breakdown(n), breakdown_raw(n)) for n in DIMENSIONS],
    ]


async def run(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="leadtrail-bench-reports-"))
    settings = Settings(
        data_dir=data_dir,
        database_url=args.database_url,
        pool_min_size=1,
        pool_max_size=4,
        log_level="warning",
    )
    db = await Database.open(settings)
    try:
        async with db.system() as conn:
            await conn.execute("SELECT leadtrail.ensure_partitions(1, $1)", args.days // 28 + 2)
            await conn.execute("SET synchronous_commit = off")
            site = await conn.fetchval(
                "INSERT INTO sites (public_id, name, domain, timezone) VALUES ($1, 'Bench', 'bench.example', $2) RETURNING id",
                f"bench_{uuid.uuid4().hex[:8]}",
                str(ZONE.key),
            )
            noise = [
                await conn.fetchval(
                    "INSERT INTO sites (public_id, name, domain) VALUES ($1, 'Noise', 'noise.example') RETURNING id",
                    f"noise_{uuid.uuid4().hex[:8]}",
                )
                for _ in range(args.noise_sites)
            ]
        now = datetime.now(UTC)
        t0 = time.perf_counter()
        sessions_n, events_n = await load_site(db, site, args.events, args.days, 1, now)
        noise_events = 0
        for i, other in enumerate(noise):
            noise_events += (
                await load_site(
                    db,
                    other,
                    int(args.events * args.noise / max(1, len(noise))),
                    args.days,
                    100 + i,
                    now,
                )
            )[1]
        load_s = time.perf_counter() - t0
        async with db.system() as conn:
            await conn.execute("ANALYZE")
        print(
            f"loaded {events_n:,} events / {sessions_n:,} sessions for the site and {noise_events:,} noise events "
            f"on {len(noise)} other sites in {load_s:.0f} s ({(events_n + noise_events) / load_s:,.0f} events/s incl. sessions)"
        )

        job = Rollups(db)
        t0 = time.perf_counter()
        hours = await job.run_once()
        backfill_s = time.perf_counter() - t0
        async with db.system() as conn:
            sizes = await conn.fetchrow(
                """
                SELECT (SELECT count(*) FROM rollup_hourly) AS hourly, (SELECT count(*) FROM rollup_dim_hourly) AS dim_hourly,
                       (SELECT count(*) FROM rollup_dim_daily) AS dim_daily,
                       (SELECT count(*) FROM rollup_local_daily) AS local_daily,
                       pg_size_pretty(pg_total_relation_size('rollup_hourly') + pg_total_relation_size('rollup_dim_hourly')
                                      + pg_total_relation_size('rollup_dim_daily') + pg_total_relation_size('rollup_daily')
                                      + pg_total_relation_size('rollup_local_daily')) AS rollup_size,
                       (SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits
                        WHERE inhparent = 'events'::regclass) AS events_size,
                       (SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits
                        WHERE inhparent = 'sessions'::regclass) AS sessions_size
                """
            )
            # an incremental pass: 200 live sessions get more page views
            # (marked as leadtrail's writers mark what they change, storage/marks.py)
            changed = await conn.fetch(
                "UPDATE sessions SET page_views = page_views + 1, last_seen_at = now() WHERE (site_id, id) IN "
                "(SELECT site_id, id FROM sessions WHERE site_id = $1 ORDER BY created_at DESC LIMIT 200) "
                "RETURNING site_id, created_at, canonical_user_id",
                site,
            )
            await mark_sessions(conn, changed)
        t0 = time.perf_counter()
        await job.run_once()
        incremental_s = time.perf_counter() - t0
        print(
            f"rollup backfill: {hours:,} site-hours in {backfill_s:.1f} s; incremental pass after 200 session "
            f"updates: {incremental_s * 1000:.0f} ms"
        )
        print(
            f"rows: rollup_hourly {sizes['hourly']:,}, rollup_dim_hourly {sizes['dim_hourly']:,}, rollup_dim_daily "
            f"{sizes['dim_daily']:,}, rollup_local_daily {sizes['local_daily']:,}; size: rollups {sizes['rollup_size']}, events {sizes['events_size']}, sessions {sizes['sessions_size']}"
        )

        claims = Claims(role=DbRole.ANALYST, sub="bench", site_ids=(site,))
        today = now.astimezone(ZONE).date()
        results: list[tuple[int, str, list[float], list[float] | None]] = []
        problems: list[str] = []
        for days in args.ranges:
            span = DateRange(today - timedelta(days=days - 1), today, ZONE)
            cases = report_cases(db, claims, site, span)
            for label, fast, slow in cases:
                fast_times, fast_result = await timed(fast, args.repeat)
                slow_times = None
                if slow is not None and args.raw_repeat > 0:
                    slow_times, slow_result = await timed(slow, args.raw_repeat)
                    if label == "overview":
                        check(problems, days, fast_result, slow_result)
                results.append((days, label, fast_times, slow_times))
                sys.stdout.write(".")
                sys.stdout.flush()
        print()
        print_table(results)
        misses = [
            (d, label) for d, label, t, _ in results if percentile(t, 0.95) >= TARGET_MS.get(d, 500)
        ]
        for problem in problems:
            print("MISMATCH", problem)
        print(f"targets: {'all met' if not misses else f'{len(misses)} missed: {misses}'}")
        return 1 if problems else 0
    finally:
        await db.close()
        if not args.data_dir and not args.keep:
            discard(data_dir)


async def raw_overview(
    conn: Any, site: uuid.UUID, lower: datetime, upper: datetime, span: DateRange, interval: Any
) -> dict[str, Any]:
    """The overview a naive implementation computes from events: totals for the range and
    the comparison period, and the time series."""
    length = upper - lower
    current = await conn.fetchrow(RAW_OVERVIEW, site, lower, upper)
    await conn.fetchrow(RAW_OVERVIEW, site, lower - length, lower)
    await conn.fetch(RAW_SERIES, site, lower, upper, interval.value, span.tz)
    return dict(current)


def check(problems: list[str], days: int, rollup: reports.Overview, raw: dict[str, Any]) -> None:
    """Sessions must match exactly: both count a session on the day it started (the raw
    query used to count every session with an event in the range, so a session running past
    midnight counted on both days: the 'mismatch' of earlier runs). Visitors are an estimate
    (1.6 % error)."""
    got = rollup.totals
    if got["sessions"] != raw["sessions"]:
        problems.append(f"{days}d sessions rollup {got['sessions']} raw {raw['sessions']}")
    if raw["visitors"] and abs(got["visitors"] - raw["visitors"]) > max(5, raw["visitors"] * 0.05):
        problems.append(f"{days}d visitors rollup {got['visitors']} raw {raw['visitors']}")


def print_table(results: list[tuple[int, str, list[float], list[float] | None]]) -> None:
    print(
        f"{'range':>5}  {'report':<24} {'rollup p50':>10} {'rollup p95':>10}   {'raw p50':>9} {'raw p95':>9}  {'speed-up':>8}  target"
    )
    for days, label, fast, slow in results:
        p50, p95 = statistics.median(fast), percentile(fast, 0.95)
        r50 = statistics.median(slow) if slow else None
        r95 = percentile(slow, 0.95) if slow else None
        target = TARGET_MS.get(days, 500)
        ratio = f"{r50 / p50:7.0f}x" if r50 else "       —"
        verdict = "ok" if p95 < target else "MISS"
        print(
            f"{days:>4}d  {label:<24} {ms(p50)} {ms(p95)}   {ms(r50)} {ms(r95)}  {ratio}  <{target}ms {verdict}"
        )


def iter_ranges(text: str) -> Iterator[int]:
    for part in text.split(","):
        yield int(part)


def main() -> None:
    if sys.argv[1:2] == ["behaviour"]:  # friction, click map and funnel: bench/behaviour_reports.py
        from bench import behaviour_reports

        sys.argv = [sys.argv[0], *sys.argv[2:]]
        behaviour_reports.main()
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=10_000_000, help="events of the measured site"
    )
    parser.add_argument("--days", type=int, default=90, help="days of history")
    parser.add_argument("--noise-sites", type=int, default=3, help="other sites sharing the tables")
    parser.add_argument(
        "--noise", type=float, default=0.2, help="their events, as a share of --events"
    )
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per report and range")
    parser.add_argument(
        "--raw-repeat", type=int, default=3, help="timed runs of each raw baseline (0: skip)"
    )
    parser.add_argument(
        "--ranges", type=lambda t: list(iter_ranges(t)), default=list(RANGES), help="e.g. 1,7,30,90"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL to use instead of a fresh embedded one (its data is added to)",
    )
    parser.add_argument(
        "--data-dir", help="keep the embedded database here (default: a temporary folder, removed)"
    )
    parser.add_argument("--keep", action="store_true", help="do not remove the temporary folder")
    parser.add_argument(
        "--check",
        action="store_true",
        help="tiny run for the test suite (20k events, 1 and 7 days, one timed run each): exits "
        "non-zero when rollups and raw data disagree",
    )
    args = parser.parse_args()
    if args.check:
        args.events, args.days, args.repeat, args.raw_repeat, args.ranges = 20_000, 14, 1, 1, [1, 7]
        args.noise_sites = 1
    print_machine_line()
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
