"""A webhook sender killed mid-delivery (SIGKILL of the serving process): another process
takes over, nothing is lost, and the only duplicates are the requests that were in flight,
recognisable by their webhook-id. The server logs of the run hold no secret."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import websockets

from leadtrail.auth.api_keys import create_key
from leadtrail.storage import Database
from tests.conftest import ModuleDatabase
from tests.integration.people_support import make_tenant
from tests.integration.serve_process import ServeProcess
from tests.integration.webhook_receiver import Receiver, running

LEADS = 10


async def test_killed_sender_loses_nothing_and_logs_no_secret(
    db: Database, test_database: ModuleDatabase, cli_env: dict[str, str], tmp_path: Path
) -> None:
    tenant = await make_tenant(db, "crash-hooks")
    async with db.system() as conn:
        admin = (await create_key(conn, tenant.site_id, name="admin", scopes=["admin"])).key
    env = {
        **cli_env,
        "LEADTRAIL_DATABASE_URL": test_database.owner_dsn,
        "LEADTRAIL_SECRET_KEY": "crash-hooks-secret",
        "LEADTRAIL_LEADER_LEASE_TTL": "2",
        "LEADTRAIL_WEBHOOK_TIMEOUT": "2",
        "LEADTRAIL_WEBHOOK_RETRY_BASE": "0.1",
        "LEADTRAIL_WEBHOOK_IDLE_INTERVAL": "0.05",
        "LEADTRAIL_LOG_LEVEL": "info",
        "LEADTRAIL_REALTIME_NODE": "crash",
    }
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first = ServeProcess({**env, "LEADTRAIL_DATA_DIR": str(tmp_path / "a")}, logs[0])
    second = ServeProcess({**env, "LEADTRAIL_DATA_DIR": str(tmp_path / "b")}, logs[1])
    async with running(Receiver(delay=0.3)) as receiver:
        await first.start()
        try:
            async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
                made = await http.post(
                    "/api/webhooks",
                    json={"url": receiver.url, "events": ["lead.created"], "max_concurrency": 1},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                assert made.status_code == 201, made.text
                receiver.secret = made.json()["secret"]
                lead_ids = []
                for n in range(LEADS):
                    r = await http.post(
                        "/api/leads",
                        json={"email": f"crash{n}@example.com"},
                        headers=tenant.auth(),
                    )
                    assert r.status_code == 201, r.text
                    lead_ids.append(r.json()["lead_id"])
                # Credentials in a query string, as realtime clients send them.
                ws_url = first.url.replace("http", "ws") + "/realtime/v1/websocket"
                async with websockets.connect(f"{ws_url}?apikey={tenant.read_key}&vsn=1.0.0"):
                    pass
            await receiver.wait_for(lambda r: len(r.requests) >= 3)
            first.kill(signal.SIGKILL)  # a delivery is in flight (0.3 s per request)
            await second.start()
            await receiver.wait_for(
                lambda r: len({x.webhook_id for x in r.delivered()}) >= LEADS, timeout=60
            )
        finally:
            first.kill(signal.SIGKILL)
            second.kill(signal.SIGTERM)
    assert receiver.bad_signatures == 0
    delivered = receiver.delivered()
    assert sorted({x.payload["data"]["lead_id"] for x in delivered}) == sorted(lead_ids)
    # At-least-once: only what was in flight at the kill comes twice, with the same id.
    assert len(delivered) - LEADS <= 1
    for x in delivered:
        same = [y for y in delivered if y.webhook_id == x.webhook_id]
        assert {y.payload["data"]["lead_id"] for y in same} == {x.payload["data"]["lead_id"]}

    text = "".join(p.read_text(errors="replace") for p in logs)
    assert "WebSocket" in text and "apikey=[redacted]" in text  # the line is there, masked
    for secret in (
        tenant.ingest_key,
        tenant.read_key,
        admin,
        receiver.secret,
        "crash-hooks-secret",
    ):
        assert secret not in text
    assert tenant.read_key.split("_")[-1] not in text
