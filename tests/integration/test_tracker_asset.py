"""The tracker script over HTTP: both paths, caching headers, gzip, conditional requests."""

from __future__ import annotations

import gzip

import httpx
import pytest

from leadtrail.web.assets import tracker_bundle


@pytest.mark.parametrize("path", ["/assets/core.js", "/ux-core.js"])
async def test_tracker_script_paths(client: httpx.AsyncClient, path: str) -> None:
    plain = await client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"] == "application/javascript; charset=utf-8"
    assert plain.headers["cache-control"] == "public, max-age=3600, stale-while-revalidate=86400"
    assert plain.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in plain.headers
    assert plain.content == tracker_bundle().body
    assert b"leadtrail" in plain.content and b"sendBeacon" in plain.content

    zipped = await client.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert int(zipped.headers["content-length"]) < 5 * 1024
    assert zipped.content == plain.content  # httpx decodes it
    assert gzip.decompress(tracker_bundle().gzipped) == plain.content

    etag = plain.headers["etag"]
    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag


async def test_other_static_files_still_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/assets/favicon.svg")).status_code == 200
    assert (await client.get("/assets/nothing-here.js")).status_code == 404
