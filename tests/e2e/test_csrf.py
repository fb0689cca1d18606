"""CSRF in Chromium: a page on another origin of the same site (another port of 127.0.0.1)
posts to the dashboard's cookie-authenticated endpoints; leadtrail refuses, and the
same-origin dashboard keeps working."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from playwright.async_api import Page

from leadtrail.auth.users import create_user
from leadtrail.sites.service import create_site
from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.e2e.sites import _serve

PASSWORD = "correct horse"
ATTACK = """<!doctype html><title>prize</title><script>
window.attack = async (target, site) => {
  const send = (path, body) => fetch(target + path, {method: 'POST', mode: 'no-cors',
    credentials: 'include', headers: {'Content-Type': 'text/plain'}, body});
  await send('/api/identify', JSON.stringify({site_id: site, email: 'csrf@example.com'}));
  await send('/api/auth/logout', '');
  return 'sent';
};
</script>"""


@pytest.fixture(scope="module")
async def world(db: Database) -> dict[str, Any]:
    async with db.system() as conn:
        owner = await create_user(conn, "csrf-owner@example.com", PASSWORD)
        site = await create_site(conn, name="CSRF", domain="127.0.0.1", owner_id=owner.id)
    return {"site": site}


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    """An attacker's page on another port of the same host: same site, other origin."""

    class Attacker(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = ATTACK.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    with _serve(Attacker, "csrf-attacker") as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"


async def test_a_second_origin_is_refused_and_the_dashboard_keeps_working(
    page: Page, server: LiveServer, world: dict[str, Any], other_origin: str
) -> None:
    await page.goto(f"{server.url}/dashboard/")
    login = await page.evaluate(
        """async (password) => (await fetch('/api/auth/login', {method: 'POST',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({email: 'csrf-owner@example.com', password})})).status""",
        PASSWORD,
    )
    assert login == 200
    answers: dict[str, int] = {}
    page.on(
        "response",
        lambda r: (
            answers.__setitem__(r.url.removeprefix(server.url), r.status)
            if r.url.startswith(server.url + "/api/")
            else None
        ),
    )
    await page.goto(f"{other_origin}/")
    async with page.expect_response(f"{server.url}/api/auth/logout"):
        assert (
            await page.evaluate("([t, s]) => attack(t, s)", [server.url, world["site"].public_id])
            == "sent"
        )
    assert answers == {"/api/identify": 403, "/api/auth/logout": 403}
    # Back on the dashboard's origin: still logged in, and its own requests work.
    await page.goto(f"{server.url}/dashboard/")
    me = await page.evaluate("async () => (await fetch('/api/auth/me')).status")
    assert me == 200
    out = await page.evaluate(
        "async () => (await fetch('/api/auth/logout', {method: 'POST'})).status"
    )
    assert out == 200
    assert await page.evaluate("async () => (await fetch('/api/auth/me')).status") == 401
