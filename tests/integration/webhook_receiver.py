"""A real HTTP receiver on loopback that verifies Standard Webhooks signatures with the
``standardwebhooks`` package, optionally failing its first requests or answering slowly."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import free_port


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    payload: Any
    answered: int
    #: perf_counter when the request arrived
    at: float = 0.0


@dataclass
class Receiver:
    secret: str = ""
    fail_first: int = 0
    delay: float = 0.0
    port: int = field(default_factory=free_port)
    requests: list[Received] = field(default_factory=list)
    bad_signatures: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def delivered(self) -> list[Received]:
        return [r for r in self.requests if r.answered == 204]

    async def wait_for(self, predicate: Any, timeout: float = 30) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(lambda: predicate(self)), timeout)

    async def _hook(self, request: Request) -> Response:
        at = time.perf_counter()
        body = await request.body()
        headers = dict(request.headers)
        try:
            payload = Webhook(self.secret).verify(body, headers) if self.secret else None
        except Exception:
            self.bad_signatures += 1
            payload = None
        if self.delay:
            await asyncio.sleep(self.delay)  # the slow endpoint under test
        status = 500 if len(self.requests) < self.fail_first else 204
        async with self.changed:
            self.requests.append(
                Received(headers.get("webhook-id", ""), headers, body, payload, status, at)
            )
            self.changed.notify_all()
        return Response(status_code=status)


@contextlib.asynccontextmanager
async def running(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hook", receiver._hook, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
