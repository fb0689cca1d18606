"""The sender's HTTP client: POST a body, read the status, keep the connection.

aiohttp, not httpx: measured under bench/webhooks.py (16 concurrent POSTs to a local
uvicorn, uvloop), httpx cost 1.3 ms of CPU per POST (its pool checks every pooled
connection on each request) against 0.08 ms for aiohttp, and on a busy machine a
delivery's CPU is what webhooks take from ingest. ``trust_env`` keeps honouring
HTTP_PROXY / HTTPS_PROXY / NO_PROXY as httpx did; TLS is verified against certifi's bundle,
the one httpx used.
"""

from __future__ import annotations

import ssl
from typing import Protocol

import aiohttp
import certifi

#: connections at once across every endpoint (each endpoint has its own, smaller bound)
MAX_CONNECTIONS = 256
#: answers up to this size are read so their connection can be reused
MAX_DRAINED = 65536


class PostError(Exception):
    """No answer: connect, TLS, timeout or a broken response. The message names the cause."""


class Client(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...

    async def aclose(self) -> None: ...


class AiohttpClient:
    """``timeout`` bounds the whole request (connect, send, answer). Redirects are not
    followed: a webhook endpoint answers where it is registered."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # created on first use: a ClientSession belongs to the running event loop
        if self._session is None:
            tls = ssl.create_default_context(cafile=certifi.where())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=tls),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                trust_env=True,
                auto_decompress=False,
            )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            async with self._open().post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                length = response.content_length
                if length is not None and length <= MAX_DRAINED:
                    await response.read()  # drained, so the connection can be kept
                # (a longer or unsized answer is not read: the connection is closed instead)
                return response.status
        except TimeoutError as exc:
            raise PostError(f"Timeout: no answer within {self.timeout:g} s") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise PostError(f"{exc.__class__.__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def new_client(timeout: float) -> Client:
    return AiohttpClient(timeout)
