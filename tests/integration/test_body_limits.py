"""Request bodies over real HTTP: one byte-counting limit per route, refused as soon as the
count passes it (nothing buffered past it, whatever Content-Length says), on FastAPI routes
and on ``/api/sync`` alike; call-event metadata bounded; bad JSON text is a 4xx."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from leadtrail.storage import Database
from tests.conftest import LiveServer
from tests.integration.people_support import Tenant, make_tenant

MB = 1024 * 1024


@pytest.fixture(scope="module")
async def tenant(db: Database) -> Tenant:
    return await make_tenant(db, "bodies", {"default_region": "US"})


async def chunked_until_answered(
    server: LiveServer, path: str, total: int, extra_headers: str = ""
) -> tuple[bytes, int]:
    """POST ``total`` bytes of a JSON string in 64 KiB chunks without Content-Length; stop
    sending once the server answers. (The answer, bytes sent.)"""
    url = urlsplit(server.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n{extra_headers}\r\n"
    )
    writer.write(head.encode())
    chunk = b'"' + b"x" * (64 * 1024 - 2) + b'"'
    sent = 0
    answer = asyncio.ensure_future(reader.read(4096))
    try:
        while sent < total and not answer.done():
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            try:
                await writer.drain()
            except ConnectionError:
                break
            sent += len(chunk)
            await asyncio.sleep(0)  # let the answer arrive if it is on its way
        if not answer.done():
            writer.write(b"0\r\n\r\n")
        data = await asyncio.wait_for(answer, 30)
        data += await asyncio.wait_for(rest_of_answer(reader, data), 30)
    finally:
        writer.close()
    return data, sent


async def rest_of_answer(reader: asyncio.StreamReader, start: bytes) -> bytes:
    """What is missing of a response whose first bytes are ``start`` (by Content-Length)."""
    data = start
    while b"\r\n\r\n" not in data:
        data += await reader.read(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    missing = length - len(body)
    return data[len(start) :] + (await reader.readexactly(missing) if missing > 0 else b"")


@pytest.fixture
async def raw(server: LiveServer) -> AsyncIterator[LiveServer]:
    yield server


@pytest.mark.parametrize(
    ("path", "limit"), [("/api/auth/login", 8 * 1024), ("/api/sync", 64 * 1024)]
)
async def test_a_chunked_body_is_cut_off_at_the_route_limit(
    raw: LiveServer, path: str, limit: int
) -> None:
    data, sent = await chunked_until_answered(raw, path, total=32 * MB)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), data[:200]
    assert orjson.loads(body)["error"] == "body_too_large"
    # Refused while the client was still sending, not after 32 MB were buffered.
    assert sent < 4 * MB


async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    raw: LiveServer,
) -> None:
    url = urlsplit(raw.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 300000000\r\n\r\n"
        )
        await writer.drain()
        first = await asyncio.wait_for(reader.read(4096), 30)
        data = first + await asyncio.wait_for(rest_of_answer(reader, first), 30)
    finally:
        writer.close()
    assert data.startswith(b"HTTP/1.1 413"), data[:200]
    assert b'"body_too_large"' in data


async def test_routes_have_sizes_of_their_own(tenant: Tenant, client: httpx.AsyncClient) -> None:
    big_call = {"site_id": tenant.public_id, "phone_number": "+14195550100", "x": "y" * 70_000}
    answer = await client.post("/api/call-event", json=big_call, headers=tenant.auth())
    assert answer.status_code == 413 and answer.json()["error"] == "body_too_large"
    # 1.5 MB of ad spend is over the default 1 MiB but within the route's own 8 MiB.
    row = {
        "platform": "google_ads",
        "campaign_id": "c1",
        "campaign_name": "n" * 100,
        "date": "2026-11-01",
        "clicks": 1,
        "impressions": 2,
        "cost": 1.5,
        "currency": "USD",
    }
    rows = [{**row, "campaign_id": f"c{i}"} for i in range(7000)]
    payload = orjson.dumps({"site_id": tenant.public_id, "rows": rows})
    assert len(payload) > 1.4 * MB
    spend = await client.post(
        "/api/ad-spend",
        content=payload,
        headers={**tenant.auth(), "Content-Type": "application/json"},
    )
    assert spend.status_code != 413, spend.text


@pytest.mark.parametrize(
    ("metadata", "code"),
    [
        ({f"k{i}": i for i in range(201)}, "invalid_metadata"),
        ({"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}, "invalid_metadata"),
        ({"blob": "x" * 20_000}, "metadata_too_large"),
    ],
)
async def test_call_event_metadata_is_bounded(
    tenant: Tenant, client: httpx.AsyncClient, metadata: dict[str, object], code: str
) -> None:
    answer = await client.post(
        "/api/call-event",
        json={"site_id": tenant.public_id, "phone_number": "+14195550100", "metadata": metadata},
        headers=tenant.auth(),
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == code and answer.json()["field"] == "metadata"


async def test_a_lone_surrogate_in_metadata_is_a_4xx(
    tenant: Tenant, client: httpx.AsyncClient
) -> None:
    body = (
        b'{"site_id": "%s", "phone_number": "+14195550100", "metadata": {"note": "a\\ud800b"}}'
        % tenant.public_id.encode()
    )
    answer = await client.post(
        "/api/call-event",
        content=body,
        headers={**tenant.auth(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_text"
    assert answer.json()["field"] == "metadata.note"
    # A proper pair (an emoji) is text like any other.
    paired = body.replace(b"a\\ud800b", b"\\ud83d\\ude00")
    ok = await client.post(
        "/api/call-event",
        content=paired,
        headers={**tenant.auth(), "Content-Type": "application/json"},
    )
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize("path", ["/api/sync", "/api/call-event", "/api/auth/login"])
async def test_thirty_thousand_nested_arrays_are_a_4xx(
    tenant: Tenant, client: httpx.AsyncClient, path: str
) -> None:
    body = b"[" * 30_000 + b"]" * 30_000
    if path == "/api/call-event":
        body = b'{"site_id": "%s", "metadata": {"a": %s}}' % (tenant.public_id.encode(), body)
    answer = await client.post(
        path, content=body, headers={**tenant.auth(), "Content-Type": "application/json"}
    )
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]  # a code, whichever check refuses it first
    if path == "/api/sync":
        assert answer.json()["error"] == "json_too_deep"
