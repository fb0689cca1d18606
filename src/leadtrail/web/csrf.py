"""Cross-site request forgery: cookie-authenticated unsafe requests must come from our origin.

``SameSite`` does not separate origins of the same *site*: a page on another port of the same
host, or on a sibling subdomain, gets the dashboard cookie sent along. So every request that
is authenticated by the cookie and changes something is checked here: ``Sec-Fetch-Site`` must
be ``same-origin`` (or ``none``: typed by the user); without it (older browsers), ``Origin``
must be this server's own origin. Requests with neither header are not from a browser page
and pass (a bearer key never needs this check: a page cannot make the browser send one).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

from leadtrail.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(conn: HTTPConnection, base_url: str | None) -> set[str]:
    """This server's origins: as the request addressed it, and the configured base URL."""
    mine = {_origin(str(conn.base_url))}
    if base_url:
        mine.add(_origin(base_url))
    return mine


def check_same_origin(conn: HTTPConnection, base_url: str | None = None) -> None:
    """Raise 403 ``cross_origin_request`` for a browser request from another origin."""
    if conn.scope.get("method", "GET") in SAFE_METHODS:
        return
    fetch_site = conn.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site in ("same-origin", "none"):
            return
        raise Forbidden(
            "this request comes from another origin; the dashboard session only works from "
            "the dashboard itself (servers use an API key)",
            code="cross_origin_request",
        )
    origin = conn.headers.get("origin")
    if origin is None or origin.lower() in own_origins(conn, base_url):
        return
    raise Forbidden(
        "this request comes from another origin; the dashboard session only works from "
        "the dashboard itself (servers use an API key)",
        code="cross_origin_request",
    )
