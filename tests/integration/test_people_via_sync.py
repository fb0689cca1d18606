"""Sessions written by the real ingest path (/api/sync) become people, get matched by calls
and credited by attribution."""

from __future__ import annotations

import uuid

import httpx
import orjson

from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.people_support import make_tenant, person_of

UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"


async def test_synced_visits_become_a_person_and_a_matched_call(
    db: Database, server: LiveServer, client: httpx.AsyncClient
) -> None:
    t = await make_tenant(db, "via-sync")
    sessions = [uuid.uuid4(), uuid.uuid4()]
    for n, sid in enumerate(sessions):
        events = [
            {
                "s": t.public_id,
                "u": f"https://{t.domain}/?gclid=Cj0KCQiA-sync-{n}",
                "sid": str(sid),
                "ec": "acquisition",
                "ea": "view",
                "eid": f"view-{sid.hex[:12]}",
                "meta": {
                    "fp": "fp-sync-phone",
                    "gclid": f"Cj0KCQiA-sync-{n}",
                    "utm": {"source": "google", "medium": "cpc", "campaign": "sync"},
                },
            },
            {
                "s": t.public_id,
                "u": f"https://{t.domain}/contact",
                "sid": str(sid),
                "ec": "conversion",
                "ea": "phone_call",
                "el": "tel:+14195550100",
                "eid": f"call-{sid.hex[:12]}",
                "meta": {"fp": "fp-sync-phone"},
            },
        ]
        response = await client.post(
            "/api/sync",
            content=orjson.dumps({"batch": events}),
            headers={
                "Content-Type": "text/plain",
                "User-Agent": UA,
                "Origin": f"https://{t.domain}",
            },
        )
        assert response.status_code == 200, response.text
    resolver = server.app.state.services.identity_resolver  # type: ignore[attr-defined]
    for _ in range(100):
        # The server's own resolver pass (every second) may hold the site's lock: ours then
        # skips the site. Run passes until the site's queue has been resolved.
        await resolver.run_once()
        people = {await person_of(db, t.site_id, s) for s in sessions}
        if None not in people:
            break
    assert len(people) == 1 and None not in people

    call = await client.post(
        "/api/call-event",
        headers=t.auth(),
        json={
            "site_id": t.public_id,
            "phone_number": "+14195550100",
            "fingerprint": "fp-sync-phone",
        },
    )
    assert call.status_code == 201, call.text
    assert call.json()["status"] == "matched" and call.json()["session_id"] in {
        str(s) for s in sessions
    }
    assert call.json()["lead_score"] >= 50 and call.json()["gclid"].startswith("Cj0KCQiA-sync-")
    report = await client.get(
        "/api/attribution",
        params={"site_id": t.public_id, "model": "linear"},
        headers=t.auth(t.read_key),
    )
    assert {r["channel"]: r["conversions"] for r in report.json()["results"]} == {
        "Paid Search": 1.0
    }
