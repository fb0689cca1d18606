"""Traffic that was not stored is counted per site and reason, and the site's users can see
why (headless test browsers, an origin that is not the site's domain), never another site's."""

from __future__ import annotations

import uuid

import httpx

from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.people_support import make_tenant

HEADLESS = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/150.0.0.0 Safari/537.36"
CHROME = HEADLESS.replace("HeadlessChrome", "Chrome")


def event(public_id: str) -> dict[str, object]:
    return {
        "s": public_id,
        "u": "https://shop.example/",
        "sid": str(uuid.uuid4()),
        "ec": "acquisition",
        "ea": "view",
    }


async def test_refusals_are_counted_and_explained_per_site(
    client: httpx.AsyncClient, db: Database, server: LiveServer
) -> None:
    mine = await make_tenant(db, "ignored")
    other = await make_tenant(db, "bystander")
    for _ in range(3):
        r = await client.post(
            "/api/sync", json=event(mine.public_id), headers={"user-agent": HEADLESS}
        )
        assert r.status_code == 202 and r.json()["reason"] == "headless"
    r = await client.post(
        "/api/sync",
        json=event(mine.public_id),
        headers={"user-agent": CHROME, "origin": "https://staging.wrong.example"},
    )
    assert r.status_code == 403
    await server.app.state.services.ingest.rejections.flush()  # type: ignore[attr-defined]

    r = await client.get(
        f"/api/sites/{mine.public_id}/ignored-traffic", headers=mine.auth(mine.read_key)
    )
    assert r.status_code == 200, r.text
    got = {row["reason"]: row for row in r.json()["ignored"]}
    assert got["headless"]["count"] == 3 and got["headless"]["detail"].startswith("HeadlessChrome")
    assert "normal browser" in got["headless"]["hint"]
    assert got["origin_not_allowed"]["detail"] == "https://staging.wrong.example"
    assert got["origin_not_allowed"]["count"] == 1

    r = await client.get(
        f"/api/sites/{other.public_id}/ignored-traffic", headers=other.auth(other.read_key)
    )
    assert r.json()["ignored"] == []
    r = await client.get(
        f"/api/sites/{other.public_id}/ignored-traffic", headers=mine.auth(mine.read_key)
    )
    assert r.status_code == 404
