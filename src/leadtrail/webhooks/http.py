"""The sender's HTTP/1.1 client: POST a body, read the status, keep the connection.

httpx cost 1.3 ms of CPU per POST (its pool checks every pooled connection on each request),
fifteen times what the same POST costs over h11 on asyncio streams (0.09 ms), and on a busy
machine a delivery's CPU is what webhooks take from ingest (bench/webhooks.py). With a proxy
in the environment (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY) the sender keeps using httpx, which
honours them.
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

import h11
import httpx

#: idle keep-alive connections kept per origin
MAX_IDLE = 64
Origin = tuple[str, str, int]


class PostError(Exception):
    """No answer: connect, TLS, timeout or a broken response. The message names the cause."""


class Client(Protocol):
    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...

    async def aclose(self) -> None: ...


def new_client(timeout: float) -> Client:
    """The direct client, or httpx when the environment names a proxy."""
    proxies = urllib.request.getproxies()
    if any(proxies.get(k) for k in ("http", "https", "all")):
        return HttpxClient(timeout)
    return DirectClient(timeout)


class HttpxClient:
    def __init__(self, timeout: float) -> None:
        self._client = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=MAX_IDLE),
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise PostError(f"{exc.__class__.__name__}: {exc}") from exc
        return response.status_code

    async def aclose(self) -> None:
        await self._client.aclose()


class _Stale(Exception):
    """A kept connection the server had closed: the request goes again on a new one."""


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    h11: h11.Connection


class DirectClient:
    """One request per connection at a time; connections kept per origin between requests.
    ``timeout`` bounds the whole request (connect, send, answer)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._idle: dict[Origin, list[_Conn]] = {}
        self._tls: ssl.SSLContext | None = None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        origin = (parts.scheme, host, port)
        name = f"[{host}]" if ":" in host else host
        request = h11.Request(
            method="POST",
            target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            headers=[
                ("host", name if parts.port is None else f"{name}:{port}"),
                ("content-length", str(len(body))),
                *headers.items(),
            ],
        )
        try:
            async with asyncio.timeout(self.timeout):
                conn = self._take(origin)
                if conn is not None:
                    try:
                        return await self._exchange(origin, conn, request, body, reused=True)
                    except _Stale:
                        pass
                conn = await self._connect(origin)
                return await self._exchange(origin, conn, request, body, reused=False)
        except TimeoutError as exc:
            raise PostError(f"Timeout: no answer within {self.timeout:g} s") from exc
        except (OSError, h11.ProtocolError, _Stale) as exc:
            raise PostError(f"{exc.__class__.__name__}: {exc}") from exc

    async def _exchange(
        self, origin: Origin, conn: _Conn, request: h11.Request, body: bytes, *, reused: bool
    ) -> int:
        http = conn.h11
        status: int | None = None
        answered = False
        try:
            try:
                conn.writer.write(
                    http.send(request)
                    + http.send(h11.Data(data=body))
                    + http.send(h11.EndOfMessage())
                )
                await conn.writer.drain()
                while True:
                    event = http.next_event()
                    if event is h11.NEED_DATA:
                        data = await conn.reader.read(65536)
                        if not data and not answered and reused:
                            raise _Stale("closed by the server while idle")
                        answered = answered or bool(data)
                        http.receive_data(data)
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                    elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                        break
            except ConnectionError as exc:
                if reused and not answered:
                    raise _Stale(str(exc)) from exc
                raise
        except BaseException:
            self._close(conn)
            raise
        if status is None:
            self._close(conn)
            raise PostError("RemoteProtocolError: the connection closed without an answer")
        if http.our_state is h11.DONE and http.their_state is h11.DONE:
            http.start_next_cycle()
            self._give(origin, conn)
        else:
            self._close(conn)
        return status

    def _take(self, origin: Origin) -> _Conn | None:
        idle = self._idle.get(origin)
        while idle:
            conn = idle.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
                return conn
            self._close(conn)
        return None

    def _give(self, origin: Origin, conn: _Conn) -> None:
        idle = self._idle.setdefault(origin, [])
        if len(idle) < MAX_IDLE:
            idle.append(conn)
        else:
            self._close(conn)

    async def _connect(self, origin: Origin) -> _Conn:
        scheme, host, port = origin
        tls = self._context() if scheme == "https" else None
        reader, writer = await asyncio.open_connection(
            host, port, ssl=tls, server_hostname=host if tls else None
        )
        return _Conn(reader, writer, h11.Connection(h11.CLIENT))

    def _context(self) -> ssl.SSLContext:
        """Verified TLS with the CA bundle httpx used (certifi)."""
        if self._tls is None:
            try:
                import certifi

                self._tls = ssl.create_default_context(cafile=certifi.where())
            except ImportError:  # pragma: no cover - certifi comes with httpx
                self._tls = ssl.create_default_context()
        return self._tls

    @staticmethod
    def _close(conn: _Conn) -> None:
        conn.writer.close()

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                self._close(conn)
        self._idle.clear()
