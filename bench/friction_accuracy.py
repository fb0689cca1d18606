"""Friction detection accuracy: the scripted browser sessions of
tests/e2e/friction_scenarios.py (known rage clicks, dead clicks, hesitations, abandoned forms
and JS errors), played in Debian's chromium against a real leadtrail server, compared with
what was stored in ``behavior_events``.

    .venv/bin/python -m bench.friction_accuracy --rounds 3
    .venv/bin/python -m bench.friction_accuracy --check     # one round, a quick self-test

Prints precision and recall per type (counted per session: extra detections are false
positives, missing ones false negatives). Target: >= 0.95 each.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

import uvicorn
from playwright.async_api import async_playwright
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path
from tests.e2e.friction_scenarios import SCENARIOS, TYPES, run_scenario, score
from tests.e2e.sites import serve_fixture_site

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from bench.scratch import scratch_dir
from leadtrail.app import create_app
from leadtrail.config import Settings
from leadtrail.sites.service import create_site
from leadtrail.storage import Database

TARGET = 0.95


async def run(rounds: int) -> bool:
    with scratch_dir("lt-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="bench", log_level="warning",
                            embedded_shared_buffers="256MB", sync_ip_rate_limit="1000000/minute")  # fmt: skip
        db = await Database.open(settings)
        try:
            return await measure(db, settings, rounds)
        finally:
            await db.close()


async def measure(db: Database, settings: Settings, rounds: int) -> bool:
    app = create_app(settings, database=db)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    truth: dict[str, Counter[str]] = {}
    started = time.perf_counter()
    try:
        with serve_fixture_site(f"http://127.0.0.1:{port}") as fixture:
            async with db.system() as conn:
                site = await create_site(
                    conn, name="bench", domain=fixture.host, public_id="bx_bench"
                )
                await conn.execute(
                    "UPDATE sites SET settings = settings || $2::jsonb WHERE id = $1",
                    site.id,
                    {"behaviour": {"enabled": True, "sample_rate": 1}},
                )
            fixture.site_id = site.public_id
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS
                )
                try:
                    for _ in range(rounds):
                        for scenario in SCENARIOS:
                            sid = await run_scenario(
                                browser, fixture.page("behaviour.html"), scenario
                            )
                            truth[sid] = Counter(scenario.truth)
                finally:
                    await browser.close()
            async with db.system() as conn:
                rows = await conn.fetch(
                    "SELECT session_id::text AS sid, event_type, count(*) AS n FROM behavior_events "
                    "WHERE site_id = $1 GROUP BY 1, 2",
                    site.id,
                )
    finally:
        server.should_exit = True
        await task
    found: dict[str, Counter[str]] = {}
    for row in rows:
        found.setdefault(row["sid"], Counter())[row["event_type"]] = row["n"]
    scores = score(truth, found)
    elapsed = time.perf_counter() - started
    print(
        f"friction accuracy: {rounds} round(s) x {len(SCENARIOS)} scripted sessions in {elapsed:.0f} s"
    )
    print(
        f"{'type':<14}{'truth':>7}{'found':>7}{'tp':>5}{'fp':>5}{'fn':>5}{'precision':>11}{'recall':>8}"
    )
    ok = True
    for kind in TYPES:
        s = scores[kind]
        want = sum(t[kind] for t in truth.values())
        print(f"{kind:<14}{want:>7}{s['tp'] + s['fp']:>7}{s['tp']:>5}{s['fp']:>5}{s['fn']:>5}"
              f"{s['precision']:>11.3f}{s['recall']:>8.3f}")  # fmt: skip
        ok = ok and s["precision"] >= TARGET and s["recall"] >= TARGET
    print(f"target precision and recall >= {TARGET}: {'met' if ok else 'NOT met'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="times every scenario is played")
    parser.add_argument("--check", action="store_true", help="one round: a quick self-test")
    args = parser.parse_args()
    print_machine_line()
    ok = asyncio.run(run(1 if args.check else max(1, args.rounds)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
