"""The official @supabase/realtime-js (vsn 2.0.0, Node) against leadtrail: array frames,
postgres_changes with a filter, binary and JSON broadcasts through realtime-js's own binary
push frames. Skipped when Node or ``tests/js/node_modules`` (``npm ci``) is missing."""

from __future__ import annotations

import asyncio
import os
import shutil
from typing import Any

import orjson
import pytest

from leadtrail.storage import Database
from tests.conftest import REPO, LiveServer
from tests.integration.realtime.conftest import Tenants, insert_event

JS = REPO / "tests" / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not (JS / "node_modules" / "@supabase" / "realtime-js").exists(),
    reason="needs node and `npm ci` in tests/js (scripts/test does it)",
)


async def test_realtime_js_vsn2(db: Database, server: LiveServer, tenants: Tenants) -> None:
    assert NODE is not None
    env = {
        **os.environ,
        "LT_URL": server.url + "/realtime/v1",
        "LT_KEY": tenants.key_a,
        "LT_EXPECT": "2",
    }
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(JS / "realtime_client.mjs"),
        cwd=JS,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    lines: list[dict[str, Any]] = []

    async def read_until(kind: str, **match: Any) -> dict[str, Any]:
        assert proc.stdout is not None
        while True:
            raw = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert raw, f"node exited early: {lines}"
            line = orjson.loads(raw)
            lines.append(line)
            if line["kind"] == kind and all(line.get(k) == v for k, v in match.items()):
                return line

    try:
        await read_until("system", message="Subscribed to PostgreSQL")
        async with db.system() as conn:
            await insert_event(conn, tenants.site_a, action="from-js-test", score=7)
            await insert_event(conn, tenants.site_a, action="not-for-js")
            await insert_event(conn, tenants.site_b, action="from-js-test")  # other tenant
            await insert_event(conn, tenants.site_a, action="from-js-test", score=8)
        done = await read_until("done")
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    assert done["vsn"] == "2.0.0"
    statuses = [line["status"] for line in lines if line["kind"] == "status"]
    assert statuses == ["SUBSCRIBED"]
    changes = [line for line in lines if line["kind"] == "change"]
    assert [(c["table"], c["eventType"], c["new"]["lead_score"]) for c in changes] == [
        ("events", "INSERT", 7),
        ("events", "INSERT", 8),
    ]
    assert all(c["new"]["site_id"] == str(tenants.site_a) for c in changes)
    broadcasts = {line["event"]: line for line in lines if line["kind"] == "broadcast"}
    assert broadcasts["bin"]["bytes"] == [0, 1, 2, 250]
    assert broadcasts["json"]["payload"] == {"hello": "js"}
