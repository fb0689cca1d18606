"""Static files (tracker script, dashboard assets) served by leadtrail itself: no CDN."""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

import rjsmin
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
TRACKER_SOURCE = STATIC_DIR / "core.js"
#: Sites embed an unversioned URL, so browsers and proxies re-check it hourly; the ETag makes
#: that a 304.
TRACKER_CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class TrackerBundle:
    """What visitors download: the tracker minified, and the same gzipped."""

    body: bytes
    gzipped: bytes
    etag: str


def tracker_bundle() -> TrackerBundle:
    """The current tracker, rebuilt only when the source file changes."""
    stat = TRACKER_SOURCE.stat()
    return _build_bundle(stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=1)
def _build_bundle(mtime_ns: int, size: int) -> TrackerBundle:
    # The source is readable JavaScript with comments; the cache key is only there so an edited
    # file is picked up without a restart.
    source = TRACKER_SOURCE.read_text(encoding="utf-8")
    body = str(rjsmin.jsmin(source)).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return TrackerBundle(body, gzip.compress(body, compresslevel=9, mtime=0), etag)


@router.get("/assets/core.js")
@router.get("/ux-core.js")  # the seed's legacy path: old snippets keep working
async def tracker_script(request: Request) -> Response:
    bundle = tracker_bundle()
    headers = {
        "Cache-Control": TRACKER_CACHE_CONTROL,
        "ETag": bundle.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Lets sites load it with crossorigin (and SRI) so its own errors are not opaque.
        "Access-Control-Allow-Origin": "*",
    }
    if bundle.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = bundle.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = bundle.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)


@router.get("/favicon.ico")
async def favicon() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
