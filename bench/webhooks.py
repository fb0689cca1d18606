"""Webhook delivery latency (commit -> receiver) and what the sender costs the fact path.

    PYTHONPATH=. python bench/webhooks.py [--rate 500] [--seconds 10] [--writers 8]

On a fresh embedded PostgreSQL, in one process: a real HTTP receiver on loopback that
verifies every signature with ``standardwebhooks``, the real sender (leader service under a
real lease) and leads stored with ``submit_lead`` (the lead insert and its outbox row in one
transaction).

1. latency: leads paced at ``--rate`` per second; for each, the time from its COMMIT
   returning to the receiver getting it; p50 / p99;
2. throughput: ``--writers`` concurrent submitters as fast as possible for ``--seconds``,
   webhooks on (sender running, an endpoint subscribed) and off (no sender), same run;
   the ratio on/off is the figure (target >= 0.9).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.integration.webhook_receiver import Receiver, running

from leadtrail.auth.users import create_user
from leadtrail.config import Settings
from leadtrail.leads.service import LeadInput, submit_lead
from leadtrail.scheduling import Lease
from leadtrail.sites.service import create_site
from leadtrail.storage import Claims, Database, DbRole
from leadtrail.webhooks import service as webhooks
from leadtrail.webhooks.secrets import SecretBox
from leadtrail.webhooks.sender import SenderConfig, WebhookSender

KEY = b"bench-webhooks"


def lead(n: int) -> LeadInput:
    return LeadInput(
        external_lead_id=f"bench-{n}", session_id=None, fingerprint=None, form_type="contact",
        name=None, email=f"bench{n}@example.com", phone=None, company=None, message=None,
        value=None, currency=None, submitted_at=datetime.now(UTC),
    )  # fmt: skip


async def store(db: Database, claims: Claims, site_id: object, n: int) -> float:
    async with db.transaction(claims) as conn:
        await submit_lead(conn, site_id, lead(n), lookback_minutes=60, actor="bench")  # type: ignore[arg-type]
    return time.perf_counter()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, default=8)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="lt-hooks-")), secret_key="bench")
    db = await Database.open(settings)
    try:
        async with db.system() as conn:
            user = await create_user(conn, "bench@example.com", "correct horse battery")
            site = await create_site(conn, name="Bench", domain="bench.example", owner_id=user.id)
        claims = Claims(role=DbRole.ADMIN, sub="bench", site_ids=(site.id,))
        box = SecretBox(KEY)
        async with running(Receiver()) as receiver:
            async with db.transaction(claims) as conn:
                ep = await webhooks.create_endpoint(
                    conn, box, site.id, url=receiver.url, events=["lead.created"],
                    format="standard", description=None, max_concurrency=16,
                )  # fmt: skip
            receiver.secret = ep["secret"]
            fence = await Lease(db, "scheduler", "bench", 600).acquire()
            assert fence is not None
            sender = WebhookSender(
                db, box, SenderConfig(10, 1, 60, 86400, 0.005, 0.05, "http://127.0.0.1")
            )
            await sender.start_leading(fence)

            # 1. latency at a paced rate
            committed: dict[str, float] = {}
            count = int(args.rate * args.seconds)
            start = time.perf_counter()
            pending = set()
            for n in range(count):
                await asyncio.sleep(max(0.0, start + n / args.rate - time.perf_counter()))
                task = asyncio.create_task(store(db, claims, site.id, n))
                task.add_done_callback(
                    lambda t, n=n: committed.__setitem__(f"bench{n}@example.com", t.result())
                )
                pending.add(task)
                task.add_done_callback(pending.discard)
            await asyncio.gather(*pending)
            await receiver.wait_for(lambda r: len(r.delivered()) >= count, timeout=120)
            arrived = {}
            for r in receiver.delivered():
                arrived.setdefault(r.payload["data"]["email"], r.at)
            lat = sorted((arrived[k] - committed[k]) * 1000 for k in committed)
            p50, p99 = statistics.median(lat), lat[int(len(lat) * 0.99) - 1]
            print(f"latency at {args.rate:.0f} leads/s ({count} leads, signatures verified, "
                  f"{receiver.bad_signatures} bad): p50 {p50:.1f} ms, p99 {p99:.1f} ms")  # fmt: skip

            # 2. throughput with the sender on, then off
            async def flood(offset: int) -> int:
                done = 0
                stop = time.perf_counter() + args.seconds

                async def writer(w: int) -> None:
                    nonlocal done
                    i = 0
                    while time.perf_counter() < stop:
                        await store(db, claims, site.id, offset + w * 1_000_000 + i)
                        i += 1
                        done += 1

                await asyncio.gather(*(writer(w) for w in range(args.writers)))
                return done

            on = await flood(10_000_000) / args.seconds
            await sender.stop_leading()
            off = await flood(20_000_000) / args.seconds
            print(f"leads stored per second: webhooks on {on:.0f}, off {off:.0f}, "
                  f"ratio {on / off:.2f} (target >= 0.9)")  # fmt: skip
    finally:
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
