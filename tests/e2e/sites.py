"""Helpers for tracker browser tests: a customer's website on its own loopback origin, and a
stand-in for leadtrail's collection endpoints that records what the tracker sends.

``FixtureSite`` serves ``tests/e2e/fixtures/`` at ``http://localhost:<port>`` (a different
origin from the leadtrail server at ``http://127.0.0.1:<port>``) and replaces the
``<!--leadtrail-->`` marker in every page with the tracker snippet built from its current
settings (site id, script URL, extra attributes), so a test can change the snippet between
page loads. Point the snippet at the real leadtrail server to test end to end.

``FakeApi`` answers ``/api/sync``, ``/api/identify`` and ``/api/leads`` like the contract (or
with scripted failures) and records every request. It is a real HTTP server on a third
loopback origin rather than Playwright request interception: interception does not see the
beacon a page sends while it unloads, which is exactly what several tests must observe.
``FakeApi.intercept`` offers interception too, for tests that need the leadtrail origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Request, Route
from playwright.async_api import Error as PlaywrightError

FIXTURES = Path(__file__).parent / "fixtures"
TRACKER_SOURCE = Path(__file__).resolve().parents[2] / "src/leadtrail/web/static/core.js"
MARKER = "<!--leadtrail-->"


@contextlib.contextmanager
def _serve(handler: type[BaseHTTPRequestHandler], name: str) -> Iterator[ThreadingHTTPServer]:
    """Run ``handler`` on a free loopback port in a thread for the life of the generator."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    # Do not wait for handler threads on close: one may sit on a connection chromium opened
    # speculatively and never used (it would block server_close forever).
    httpd.block_on_close = False
    thread = threading.Thread(target=httpd.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class _Quiet(BaseHTTPRequestHandler):
    timeout = 30  # seconds a connection may stay silent

    def _send(
        self,
        body: bytes,
        content_type: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            pass  # the page went away before its answer (a beacon from an unloading page)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def log_message(self, format: str, *args: Any) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# The customer's website


@dataclass
class FixtureSite:
    """A website that embeds the tracker. Change the attributes before loading a page."""

    url: str
    #: where the default script src points: the live leadtrail server
    leadtrail_url: str
    site_id: str = "fixture_site"
    #: the script's src; None means leadtrail's own ``/assets/core.js``
    script_src: str | None = None
    #: the ``data-api`` attribute; None lets the tracker use its own src
    api_url: str | None = None
    #: extra attributes of the script tag, e.g. ``{"data-respect-dnt": ""}``
    attrs: dict[str, str] = field(default_factory=dict)
    #: how many times the tag appears (2 tests the double-initialisation guard)
    copies: int = 1

    def snippet(self) -> str:
        src = self.script_src or f"{self.leadtrail_url}/assets/core.js"
        attrs = {"data-api": self.api_url} if self.api_url else {}
        attrs.update(self.attrs)
        extra = "".join(f' {k}="{html.escape(v)}"' for k, v in attrs.items())
        tag = f'<script defer src="{src}" data-site-id="{self.site_id}"{extra}></script>'
        return tag * self.copies

    def page(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}"

    @property
    def host(self) -> str:
        """``localhost:<port>``: the domain to register for this site in leadtrail."""
        return self.url.removeprefix("http://")


class _SiteHandler(_Quiet):
    site: FixtureSite

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        if path == "/core.src.js":  # the tracker source file, self-hosted by the site
            self._send(TRACKER_SOURCE.read_bytes(), "application/javascript")
            return
        if path.startswith("/spa/"):  # deep links of the single-page app
            path = "/spa.html"
        file = (FIXTURES / (path.lstrip("/") or "index.html")).resolve()
        if FIXTURES not in file.parents or not file.is_file():
            self._send(b"not found", "text/plain", status=404)
        elif file.suffix == ".html":
            self._page(file)
        else:
            self._send(file.read_bytes(), "application/octet-stream")

    def do_POST(self) -> None:  # forms post here; the answer is a thank-you page
        self._body()
        self._page(FIXTURES / "thanks.html")

    def _page(self, file: Path) -> None:
        text = file.read_text().replace(MARKER, self.site.snippet())
        self._send(text.encode(), "text/html; charset=utf-8")


@contextlib.contextmanager
def serve_fixture_site(leadtrail_url: str) -> Iterator[FixtureSite]:
    """The fixture website on ``http://localhost:<port>`` while the context is open."""
    handler = type("SiteHandler", (_SiteHandler,), {})
    with _serve(handler, "fixture-site") as httpd:
        handler.site = FixtureSite(f"http://localhost:{httpd.server_address[1]}", leadtrail_url)
        yield handler.site


# ---------------------------------------------------------------------------------------------
# A stand-in for leadtrail's collection endpoints


@dataclass(frozen=True)
class Sent:
    """One request the tracker made."""

    method: str
    path: str
    body: Any
    raw: str
    content_type: str
    #: ``no-cors`` for sendBeacon, ``cors`` for fetch
    fetch_mode: str
    origin: str | None
    status: int

    @property
    def events(self) -> list[dict[str, Any]]:
        if self.path != "/api/sync" or not isinstance(self.body, dict):
            return []
        return list(self.body.get("batch", [self.body]))

    @property
    def beacon(self) -> bool:
        return self.fetch_mode == "no-cors"


DEFAULT_ANSWERS: dict[str, tuple[int, dict[str, Any]]] = {
    "/api/sync": (200, {"status": "synced", "score": 0}),
    "/api/identify": (200, {"status": "identified"}),
    "/api/leads": (201, {"status": "created"}),
}
CORS = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Retry-After"}


def _compact(body: Any) -> str:
    """JSON as leadtrail writes it (orjson: no spaces), which the tracker reads ``k`` from."""
    return json.dumps(body, separators=(",", ":"))


def _last_sid(body: Any) -> str | None:
    events = body.get("batch", [body]) if isinstance(body, dict) else []
    last = events[-1] if isinstance(events, list) and events else None
    return str(last["sid"]) if isinstance(last, dict) and last.get("sid") else None


class FakeApi:
    """Records the tracker's requests and answers like the contract.

    ``fail_next`` scripts the next answers (503 by default); otherwise each path gets
    ``DEFAULT_ANSWERS``. Thread-safe: the server thread records, the test's loop waits.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.url = ""
        #: when set, requests for other sites are answered but not recorded
        self.expect_site: str | None = None
        self.sent: list[Sent] = []
        self._scripted: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self._lock = threading.Lock()
        self._loop = loop
        self._arrived = asyncio.Event()

    def reset(self) -> None:
        with self._lock:
            self.sent.clear()
            self._scripted.clear()

    def fail_next(
        self, times: int = 1, status: int = 503, headers: dict[str, str] | None = None
    ) -> None:
        body = {"error": "unavailable", "detail": "scripted failure"}
        with self._lock:
            self._scripted.extend([(status, body, headers or {})] * times)

    def answer(
        self, method: str, path: str, raw: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Record one request; return the status, JSON body and headers to answer with."""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        default = DEFAULT_ANSWERS.get(path, (404, {"error": "not_found"}))
        if self.expect_site and _site_of(parsed) not in (None, self.expect_site):
            return default[0], default[1], CORS  # a page of an earlier test, still sending
        with self._lock:
            if method != "POST":
                status, body, extra = 204, {}, {"Access-Control-Allow-Methods": "POST"}
            elif self._scripted:
                status, body, extra = self._scripted.pop(0)
            else:
                (status, body), extra = default, {}
                if path == "/api/sync" and (sid := _last_sid(parsed)):
                    # the contract's session token (docs/security.md): "<sid>.<…>"
                    body = {**body, "k": f"{sid}.fake.token"}
            self.sent.append(
                Sent(
                    method=method,
                    path=path,
                    body=parsed,
                    raw=raw,
                    content_type=headers.get("content-type", ""),
                    fetch_mode=headers.get("sec-fetch-mode", ""),
                    origin=headers.get("origin"),
                    status=status,
                )
            )
        self._loop.call_soon_threadsafe(self._arrived.set)
        return status, body, {**CORS, **extra}

    async def intercept(self, context: BrowserContext, base_url: str) -> None:
        """Also answer requests to ``base_url/…/api/*`` through Playwright interception."""

        async def handle(route: Route, request: Request) -> None:
            path = "/api/" + request.url.rsplit("/api/", 1)[1].split("?", 1)[0]
            headers = await request.all_headers()
            status, body, extra = self.answer(
                request.method, path, request.post_data or "", headers
            )
            with contextlib.suppress(PlaywrightError):  # the page may be closing (its beacon)
                await route.fulfill(
                    status=status,
                    headers=extra,
                    body=_compact(body),
                    content_type="application/json",
                )

        await context.route(lambda url: url.startswith(base_url) and "/api/" in url, handle)

    # ---- reading what was sent ----

    def requests(self, path: str = "/api/sync") -> list[Sent]:
        return [s for s in list(self.sent) if s.path == path and s.method == "POST"]

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event the tracker posted, in order (a re-sent event appears again)."""
        return [e for s in list(self.sent) for e in s.events]

    def unique_events(self) -> list[dict[str, Any]]:
        """Every event once (by eid), as the server stores them."""
        seen: dict[str, dict[str, Any]] = {}
        for e in self.events:
            seen.setdefault(e["eid"], e)
        return list(seen.values())

    def find(self, action: str, **fields: Any) -> list[dict[str, Any]]:
        """Distinct events with this ``category/action`` whose fields equal ``fields``."""
        category, _, name = action.partition("/")
        return [
            e
            for e in self.unique_events()
            if e["ec"] == category
            and e["ea"] == name
            and all(e.get(k) == v for k, v in fields.items())
        ]

    async def wait_for(
        self, condition: Callable[[], Any], timeout: float = 10, what: str = "requests"
    ) -> Any:
        """Wait until ``condition()`` is truthy (checked after every request); return it."""
        try:
            async with asyncio.timeout(timeout):
                while not (result := condition()):
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            sent = [(s.method, s.path, s.status, s.raw[:200]) for s in self.sent]
            raise AssertionError(f"timed out waiting for {what}; sent: {sent}") from None
        return result

    async def wait_event(self, action: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        found = await self.wait_for(lambda: self.find(action, **fields), timeout, action)
        return found[0]  # type: ignore[no-any-return]


def _site_of(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("batch"), list) and body["batch"]:
        body = body["batch"][0]
    return body.get("s") if isinstance(body, dict) else None


class _ApiHandler(_Quiet):
    api: FakeApi

    def do_POST(self) -> None:
        self._answer(self._body().decode("utf-8", "replace"))

    def do_GET(self) -> None:
        """The per-site extension script core.js loads (none here): answered, not recorded."""
        if self.path.startswith("/assets/site/"):
            self._send(b"/* no extensions */", "application/javascript", headers=CORS)
        else:
            self._send(b"not found", "text/plain", status=404)

    def do_OPTIONS(self) -> None:  # recorded so a test can prove no preflight happens
        self._answer("")

    def _answer(self, raw: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = self.api.answer(self.command, self.path.split("?")[0], raw, headers)
        self._send(_compact(body).encode(), "application/json", status, extra)


@contextlib.contextmanager
def serve_fake_api(loop: asyncio.AbstractEventLoop) -> Iterator[FakeApi]:
    """A recording stand-in for leadtrail's collection endpoints while the context is open."""
    api = FakeApi(loop)
    handler = type("ApiHandler", (_ApiHandler,), {"api": api})
    with _serve(handler, "fake-api") as httpd:
        api.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        yield api
