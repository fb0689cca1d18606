"""The per-site tracker extension script: ``/assets/site/{public_id}.js``.

``core.js`` stays small (< 5 KB gzipped) by carrying only what every site needs. Features a
site turns on (behaviour capture, dynamic number insertion, experiments …) ship as optional
modules: after its first page view, ``core.js`` loads this one script, which the server
assembles per site from the extensions the site has enabled. Each extension gives its
configuration (a JSON section of ``leadtrail._cfg``) and, optionally, a module file under
``static/modules/`` that reads that section and talks to the tracker through
``leadtrail._t`` (the tracker's own ``track``: opt-out, DNT, session and delivery included).

A domain adds an extension by writing a provider (site -> ``TrackerExtension`` or ``None``)
and appending it to ``PROVIDERS``. A site with nothing enabled gets an empty script, which
browsers cache like any other asset.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import rjsmin
from fastapi import APIRouter, Request
from starlette.responses import Response

from leadtrail.behaviour.extension import behaviour_extension
from leadtrail.dni.extension import dni_extension
from leadtrail.experiments import tracker as experiments_tracker
from leadtrail.ingest.sites import SiteConfig
from leadtrail.storage import Database
from leadtrail.web.assets import STATIC_DIR
from leadtrail.web.services import services

MODULES_DIR = STATIC_DIR / "modules"
#: Settings changes reach visitors within this time; the ETag makes re-checks a 304.
SITE_SCRIPT_CACHE_CONTROL = "public, max-age=300, stale-while-revalidate=3600"
_PUBLIC_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MODULE_NAME = re.compile(r"^[a-z0-9_-]{1,40}\.js$")

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class TrackerExtension:
    """One enabled feature of a site's tracker."""

    #: key of its section in ``leadtrail._cfg``
    name: str
    #: JSON-serialisable configuration the module reads (public: never a secret)
    config: dict[str, Any] = field(default_factory=dict)
    #: a file in ``static/modules/``, or None for a configuration-only extension
    module: str | None = None


ExtensionProvider = Callable[[SiteConfig, Database], Awaitable[TrackerExtension | None]]

#: Every provider, in load order. Domains append theirs here (one line each).
PROVIDERS: list[ExtensionProvider] = [
    dni_extension,
    experiments_tracker.provider,
    behaviour_extension,
]


def module_source(name: str) -> str:
    """A module's minified source, cached until the file changes."""
    if not _MODULE_NAME.match(name):
        raise ValueError(f"bad tracker module name {name!r}")
    path = MODULES_DIR / name
    stat = path.stat()
    return _minified(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _minified(path: Path, mtime_ns: int, size: int) -> str:
    # mtime and size are only the cache key: an edited module is picked up without a restart.
    return str(rjsmin.jsmin(path.read_text(encoding="utf-8")))


def assemble(extensions: list[TrackerExtension]) -> bytes:
    """The script body: the configuration first, then each module once, in order."""
    if not extensions:
        return b"/* leadtrail: no extensions */\n"
    config = {ext.name: ext.config for ext in extensions}
    # orjson escapes nothing HTML-special, but this is served as JavaScript, never inlined in
    # HTML by us; "</" is still escaped so a site that inlines it cannot be broken out of.
    config_json = orjson.dumps(config).decode().replace("</", "<\\/")
    # window.leadtrail is created when missing: a site may load this script in <head>, before
    # core.js (experiments without flicker, docs/experiments.md); core.js keeps what it finds.
    parts = [f"(window.leadtrail=window.leadtrail||{{}})._cfg={config_json};"]
    seen: set[str] = set()
    for ext in extensions:
        if ext.module and ext.module not in seen:
            seen.add(ext.module)
            parts.append(module_source(ext.module))
    return "\n".join(parts).encode()


async def extensions_for(site: SiteConfig, db: Database) -> list[TrackerExtension]:
    found = []
    for provider in PROVIDERS:
        ext = await provider(site, db)
        if ext is not None:
            found.append(ext)
    return found


@router.get("/assets/site/{public_id}.js")
async def site_script(public_id: str, request: Request) -> Response:
    svc = services(request)
    site = await svc.ingest.sites.get(public_id) if _PUBLIC_ID.match(public_id) else None
    body = (
        assemble(await extensions_for(site, svc.db)) if site else b"/* leadtrail: unknown site */\n"
    )
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    headers = {
        "Cache-Control": SITE_SCRIPT_CACHE_CONTROL,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Allow-Origin": "*",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "") and len(body) > 512:
        body = gzip.compress(body, compresslevel=6, mtime=0)
        headers["Content-Encoding"] = "gzip"
    # An unknown site is answered 200 with a comment rather than 404: the page's console stays
    # quiet and the answer is cached like a real one.
    return Response(body, media_type="application/javascript; charset=utf-8", headers=headers)
