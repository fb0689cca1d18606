"""What the request guard costs per request, in process (no network, no database).

    .venv/bin/python -m bench.request_guard [--requests 200000]

Two figures, each next to its baseline from the same run:
- ``/api/sync``'s body read through the guard's counter (``read_body``) against the same
  loop without counting: the hot path's share;
- any other route: a trivial ASGI app behind ``RequestGuard`` (size limit and the refusal
  bookkeeping) against the bare app.
Both drive a 1 KiB JSON body delivered as one ASGI message, the common case.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: find bench/
from bench.machine import print_machine_line
from leadtrail.config import Settings
from leadtrail.web.request_guard import RequestGuard, read_body

BODY = b'{"s":"site","u":"https://shop.example/","pad":"' + b"x" * 980 + b'"}'
MESSAGE = {"type": "http.request", "body": BODY, "more_body": False}
SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/api/leads",
    # chunked (no Content-Length): the guard counts every message
    "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
    "client": ("127.0.0.1", 5000),
}


async def receive() -> dict[str, Any]:
    return MESSAGE


async def send(message: dict[str, Any]) -> None:
    return None


async def plain_read(receive: Any) -> bytes:
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def app(scope: Any, receive: Any, send: Any) -> None:
    await plain_read(receive)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def timed(label: str, requests: int, step: Any) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        await step()
    per_request = (time.perf_counter() - started) / requests * 1e6
    print(f"  {label:<44} {per_request:7.2f} us/request")
    return per_request


async def main(requests: int) -> None:
    guard = RequestGuard(Settings(secret_key="bench"))

    async def guarded_read() -> None:
        await read_body(receive, "1024", 64 * 1024)

    async def bare_read() -> None:
        await plain_read(receive)

    async def guarded_app() -> None:
        await guard(SCOPE, receive, send, app)

    async def bare_app() -> None:
        await app(SCOPE, receive, send)

    for warm in (bare_read, guarded_read, bare_app, guarded_app):
        for _ in range(2000):
            await warm()
    print(f"{requests} requests, 1 KiB body in one message")
    base = await timed("sync body read, not counted (baseline)", requests, bare_read)
    ours = await timed("sync body read, counted", requests, guarded_read)
    print(f"  ratio {ours / base:.2f}, +{ours - base:.2f} us per /api/sync request")
    base = await timed("trivial ASGI app (baseline)", requests, bare_app)
    ours = await timed("trivial ASGI app behind RequestGuard", requests, guarded_app)
    print(f"  ratio {ours / base:.2f}, +{ours - base:.2f} us per other request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--check", action="store_true", help="tiny run for the test suite")
    args = parser.parse_args()
    print_machine_line()
    asyncio.run(main(2_000 if args.check else args.requests))
