"""People hot paths at size: correlate-lead and call-event latency, attribution report time.

    python bench/people.py                                   # 100k people, 1M events (the target)
    python bench/people.py --users 5000 --events 50000 --requests 200   # a quick look

Loads the database with COPY (people, their sessions over 60 days, events, identity links,
leads), then times, through the real HTTP server on loopback, one request at a time:
``POST /api/leads`` (half with the session id, half found by the lookback),
``POST /api/call-event`` (half matching a session active in the last 30 minutes) and
``GET /api/attribution`` for 30 days. Baselines measured in the same run: ``GET /healthz``
(HTTP floor) and ``GET /api/auth/me`` (API key check plus one query). Targets: lead and call
p99 < 20 ms, attribution < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from bench.scratch import scratch_dir
from leadtrail.app import create_app
from leadtrail.auth.api_keys import create_key
from leadtrail.config import Settings
from leadtrail.sites.service import create_site
from leadtrail.storage import Database

BROWSERS = ["Chrome", "Safari", "Firefox", "Edge"]
DEVICES = ["desktop", "mobile", "tablet"]
CITIES = [
    ("US", "OH", "Toledo"),
    ("US", "OH", "Columbus"),
    ("US", "MI", "Detroit"),
    ("TR", "34", "Istanbul"),
]
REFERRERS = ["search", "direct", "social", "referral", "paid", "email"]
CAMPAIGNS = [None, None, "spring_sale", "brand", "retarget", "summer"]


async def load(
    db: Database, site_id: uuid.UUID, users: int, events: int, seed: int
) -> dict[str, list[object]]:
    """COPY a site's worth of people; returns handles the timed requests use."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    people, sessions, links, leads = [], [], [], []
    recent_fps: list[str] = []
    emails: list[str] = []
    session_ids: list[uuid.UUID] = []
    sessions_per_user = max(1, round(events / users / 5))
    for i in range(users):
        uid = uuid.uuid4()
        country, region, city = rng.choice(CITIES)
        first = now - timedelta(days=rng.uniform(1, 60))
        people.append(
            (
                site_id,
                uid,
                first,
                first,
                rng.choice(BROWSERS),
                rng.choice(DEVICES),
                country,
                region,
                city,
                first,
            )
        )
        fp = f"fp-{seed}-{i}"
        links.append((site_id, "fingerprint", fp, uid, "active", "bench"))
        if rng.random() < 0.3:
            email = f"user{i}@example.com"
            emails.append(email)
            links.append((site_id, "email", email, uid, "active", "bench"))
        for _ in range(rng.randint(1, 2 * sessions_per_user - 1) if sessions_per_user > 1 else 1):
            start = first + timedelta(minutes=rng.uniform(0, (now - first).total_seconds() / 60))
            if rng.random() < 0.002:
                start = now - timedelta(minutes=rng.uniform(2, 25))
                recent_fps.append(fp)
            sid = uuid.uuid4()
            session_ids.append(sid)
            campaign = rng.choice(CAMPAIGNS)
            sessions.append(
                (
                    site_id,
                    sid,
                    start.date().replace(day=1),
                    start,
                    start + timedelta(minutes=rng.uniform(0, 20)),
                    uid,
                    fp,
                    f"81.{rng.randrange(250)}.{rng.randrange(250)}.{rng.randrange(250)}",
                    rng.choice(REFERRERS),
                    campaign,
                    f"Cj0KCQiA{rng.getrandbits(40):x}" if campaign else None,
                    rng.randrange(0, 100),
                    rng.choice(BROWSERS),
                    rng.choice(DEVICES),
                    country,
                    region,
                    city,
                    "fingerprint",
                )
            )
            if rng.random() < 0.03:
                leads.append(
                    (
                        site_id,
                        uuid.uuid4(),
                        f"bench-{sid}",
                        sid,
                        start.date().replace(day=1),
                        uid,
                        f"user{i}@example.com",
                        start + timedelta(minutes=3),
                        campaign,
                    )
                )
    per_session = max(1, events // len(sessions))
    async with db.system() as conn:
        await conn.execute("SELECT leadtrail.ensure_partitions(3, 3)")
        await conn.copy_records_to_table(
            "canonical_users",
            records=people,
            columns=[
                "site_id",
                "id",
                "first_seen_at",
                "last_seen_at",
                "preferred_browser",
                "preferred_device",
                "country_code",
                "region",
                "city",
                "created_at",
            ],
        )
        await conn.copy_records_to_table(
            "sessions",
            records=sessions,
            columns=[
                "site_id",
                "id",
                "created_month",
                "created_at",
                "last_seen_at",
                "canonical_user_id",
                "fingerprint",
                "ip_address",
                "referrer_type",
                "utm_campaign",
                "gclid",
                "lead_score",
                "browser",
                "device_type",
                "country_code",
                "region",
                "city",
                "identity_via",
            ],
        )
        await conn.copy_records_to_table(
            "identity_links",
            records=links,
            columns=["site_id", "kind", "value", "canonical_user_id", "state", "source"],
        )
        await conn.copy_records_to_table(
            "leads",
            records=leads,
            columns=[
                "site_id",
                "id",
                "external_lead_id",
                "session_id",
                "session_month",
                "canonical_user_id",
                "email",
                "submitted_at",
                "attributed_campaign",
            ],
        )
        written = 0
        batch: list[tuple[object, ...]] = []
        for s in sessions:
            for j in range(per_session):
                batch.append(
                    (
                        site_id,
                        s[1],
                        s[2],
                        s[3] + timedelta(seconds=30 * j),
                        "https://shop.example/",
                        "interaction" if j else "acquisition",
                        "page_view" if j else "view",
                    )
                )
            if len(batch) >= 100_000:
                await conn.copy_records_to_table(
                    "events",
                    records=batch,
                    columns=[
                        "site_id",
                        "session_id",
                        "session_month",
                        "created_at",
                        "url",
                        "event_category",
                        "event_action",
                    ],
                )
                written += len(batch)
                batch = []
        if batch:
            await conn.copy_records_to_table(
                "events",
                records=batch,
                columns=[
                    "site_id",
                    "session_id",
                    "session_month",
                    "created_at",
                    "url",
                    "event_category",
                    "event_action",
                ],
            )
            written += len(batch)
        await conn.execute("ANALYZE")
    print(
        f"loaded {len(people)} people, {len(sessions)} sessions, {written} events, {len(links)} identity links, "
        f"{len(leads)} leads; {len(recent_fps)} sessions active in the last 30 minutes"
    )
    return {
        "recent_fps": list(recent_fps),
        "emails": list(emails),
        "session_ids": list(session_ids),
    }


async def timed(count: int, call: Callable[[int], Awaitable[httpx.Response]]) -> list[float]:
    out = []
    for i in range(count):
        started = time.perf_counter()
        response = await call(i)
        out.append((time.perf_counter() - started) * 1000)
        assert response.status_code < 300, response.text
    return out


def summary(name: str, ms: list[float], baseline: list[float] | None = None) -> str:
    ordered = sorted(ms)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    line = f"{name:28s} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"
    if baseline:
        base = sorted(baseline)[min(len(baseline) - 1, int(len(baseline) * 0.99))]
        line += f"   ({p99 / base:4.1f}x the baseline p99)"
    return line


async def run(args: argparse.Namespace) -> None:
    with scratch_dir("lt-bench-people-") as tmp:
        settings = Settings(
            data_dir=Path(tmp), secret_key="bench", log_level="warning", identity_resolve_interval=0
        )
        db = await Database.open(settings)
        try:
            async with db.system() as conn:
                site = await create_site(
                    conn, name="bench", domain="shop.example", public_id="site_bench"
                )
                key = (await create_key(conn, site.id, name="bench", scopes=["ingest", "read"])).key
            started = time.perf_counter()
            handles = await load(db, site.id, args.users, args.events, args.seed)
            print(f"load took {time.perf_counter() - started:.1f}s")
            app = create_app(settings, database=db)
            server = uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
            )
            task = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            try:
                await measure(f"http://127.0.0.1:{port}", key, site.public_id, handles, args)
            finally:
                server.should_exit = True
                await task
        finally:
            await db.close()


async def measure(
    url: str, key: str, site: str, handles: dict[str, list[object]], args: argparse.Namespace
) -> None:
    rng = random.Random(args.seed + 1)
    auth = {"Authorization": f"Bearer {key}"}
    n = args.requests
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for _ in range(20):  # warm connections and caches
            await http.get("/healthz")
            await http.get("/api/auth/me", headers=auth)
        health = await timed(n, lambda i: http.get("/healthz"))
        me = await timed(n, lambda i: http.get("/api/auth/me", headers=auth))

        def lead_with_session(i: int) -> Awaitable[httpx.Response]:
            body = {
                "site_id": site,
                "external_lead_id": f"timed-s-{i}-{uuid.uuid4()}",
                "email": f"new{i}-{uuid.uuid4().hex[:6]}@example.com",
                "session_id": str(rng.choice(handles["session_ids"])),
            }
            return http.post("/api/leads", json=body, headers=auth)

        def lead_by_lookback(i: int) -> Awaitable[httpx.Response]:
            body = {
                "site_id": site,
                "external_lead_id": f"timed-l-{i}-{uuid.uuid4()}",
                "email": rng.choice(handles["emails"]),
            }
            return http.post("/api/leads", json=body, headers=auth)

        def call(i: int) -> Awaitable[httpx.Response]:
            fps = handles["recent_fps"]
            fp = rng.choice(fps) if i % 2 and fps else f"fp-unknown-{i}"
            return http.post(
                "/api/call-event",
                json={"site_id": site, "phone_number": "+14195550100", "fingerprint": fp},
                headers={**auth, "X-Forwarded-For": f"10.9.{i // 250}.{i % 250}"},
            )

        with_session = await timed(n // 2, lead_with_session)
        by_lookback = await timed(n - n // 2, lead_by_lookback)
        leads = with_session + by_lookback
        calls = await timed(n, call)
        attribution = await timed(
            5,
            lambda i: http.get(
                "/api/attribution", params={"site_id": site, "model": "linear"}, headers=auth
            ),
        )
        campaigns = await timed(
            3,
            lambda i: http.get(
                "/api/campaigns/performance", params={"site_id": site}, headers=auth
            ),
        )
    print(summary("GET /healthz (baseline)", health))
    print(summary("GET /api/auth/me (baseline)", me))
    print(summary("POST /api/leads", leads, me) + "   target p99 < 20 ms")
    print(summary("  with session_id", with_session, me))
    print(summary("  by lookback", by_lookback, me))
    print(summary("POST /api/call-event", calls, me) + "   target p99 < 20 ms")
    print(
        f"{'GET /api/attribution 30 days':28s} median {statistics.median(attribution):7.1f} ms   max {max(attribution):7.1f} ms   target < 1000 ms"
    )
    print(f"{'GET /api/campaigns/performance':28s} median {statistics.median(campaigns):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--check",
        action="store_true",
        help="tiny run for the test suite (2k people, 20k events, 20 requests each); any answer "
        "other than 2xx ends it with an error",
    )
    args = parser.parse_args()
    if args.check:
        args.users, args.events, args.requests = 2000, 20_000, 20
    print_machine_line()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
