"""Broadcast and presence between realtime nodes, over LISTEN/NOTIFY on one channel.

Every server hosting realtime (a node) listens on ``leadtrail_realtime_relay`` and
publishes there what its own clients do: a broadcast (topic, the sender's sites, the
message), a presence track or untrack (the entry with its ``phx_ref``). Other nodes apply
them to their hub as if local, so a subscriber on node A receives a broadcast sent on
node B, and presence tracked on A is in B's ``presence_state``. A node that starts says
``hello`` and the others announce their entries again; nodes send a heartbeat every
``HEARTBEAT_SECONDS`` and the entries of a node silent for ``EXPIRE_SECONDS`` (killed)
leave. Messages are JSON; NOTIFY caps a payload at 8000 bytes, so a bigger broadcast stays
on its node (logged). Changes of rows do not go through here: each node has its own feed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson

from leadtrail.realtime.hub import Hub
from leadtrail.realtime.presence import Entry
from leadtrail.storage import Database

logger = logging.getLogger(__name__)

CHANNEL = "leadtrail_realtime_relay"
HEARTBEAT_SECONDS = 5.0
EXPIRE_SECONDS = 15.0
MAX_NOTIFY_BYTES = 7900
RECONNECT_SECONDS = 1.0
STOP_SECONDS = 2.0


def _encode_payload(payload: dict[str, Any]) -> dict[str, Any]:
    user = payload.get("payload")
    if isinstance(user, bytes):
        return {**payload, "payload": {"__b64": base64.b64encode(user).decode()}}
    return payload


def _decode_payload(payload: dict[str, Any]) -> dict[str, Any]:
    user = payload.get("payload")
    if isinstance(user, dict) and set(user) == {"__b64"}:
        return {**payload, "payload": base64.b64decode(user["__b64"])}
    return payload


class Relay:
    """Component: the hub's link to the other realtime nodes."""

    name = "realtime-relay"

    def __init__(self, db: Database, hub: Hub) -> None:
        self.db = db
        self.hub = hub
        self.node = uuid.uuid4().hex[:12]
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        #: node -> monotonic time it was last heard from
        self._seen: dict[str, float] = {}
        #: set each time a message from another node was applied (tests await it)
        self.received = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        self.hub.relay = self
        self._publish({"k": "hello"})
        self._task = asyncio.create_task(self._run(), name="realtime-relay")

    async def stop(self) -> None:
        """Say ``bye`` (the other nodes drop this node's presence at once), then stop."""
        self.hub.relay = None
        if self._task is None:
            return
        self._stopping = True
        self._queue.put_nowait(self._message({"k": "bye"}))
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_SECONDS)
        except (TimeoutError, Exception):
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._task = None

    # -- outgoing (called by the hub) ------------------------------------------------

    def broadcast(self, topic: str, sites: frozenset[str], payload: dict[str, Any]) -> None:
        self._publish({"k": "b", "t": topic, "s": sorted(sites), "p": _encode_payload(payload)})

    def track(self, topic: str, entry: Entry) -> None:
        self._publish(
            {
                "k": "t",
                "t": topic,
                "o": str(entry.owner),
                "key": entry.key,
                "ref": entry.ref,
                "m": entry.meta,
                "s": sorted(entry.sites),
            }
        )

    def untrack(self, topic: str, entry: Entry) -> None:
        self._publish({"k": "u", "t": topic, "o": str(entry.owner)})

    def _message(self, body: dict[str, Any]) -> str:
        return orjson.dumps({**body, "n": self.node}).decode()

    def _publish(self, body: dict[str, Any]) -> None:
        text = self._message(body)
        if len(text.encode()) > MAX_NOTIFY_BYTES:
            logger.warning(
                "realtime: a %s message of %d bytes is too big to relay to other nodes",
                body.get("k"),
                len(text),
            )
            return
        self._queue.put_nowait(text)

    # -- loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                async with self._listening() as conn:
                    await self._send_loop(conn)
                    return  # stopping: bye was sent
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    return
                logger.warning("realtime: relay interrupted (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_SECONDS)
                self._publish({"k": "hello"})

    @contextlib.asynccontextmanager
    async def _listening(self) -> AsyncIterator[Any]:
        async with self.db.owner_connection() as conn:
            await conn.add_listener(CHANNEL, self._on_notify)
            try:
                yield conn
            finally:
                with contextlib.suppress(Exception):
                    await conn.remove_listener(CHANNEL, self._on_notify)

    async def _send_loop(self, conn: Any) -> None:
        """Send queued messages in order, several per round trip; heartbeat when quiet."""
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):  # not wait_for: see stream.py
                    first = await self._queue.get()
            except TimeoutError:
                first = self._message({"k": "hb"})
                self._expire()
            batch = [first]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await conn.execute(
                "SELECT pg_notify($1, m) FROM unnest($2::text[]) WITH ORDINALITY AS u(m, i) "
                "ORDER BY i",
                CHANNEL,
                batch,
            )
            if self._stopping and self._queue.empty():
                return

    # -- incoming --------------------------------------------------------------------

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, text: str) -> None:
        try:
            body = orjson.loads(text)
            node = body["n"]
            if node == self.node:
                return
            self._apply(node, body)
        except Exception:
            logger.exception("realtime: cannot apply a relayed message")
            return
        self.received.set()
        self.received = asyncio.Event()

    def _apply(self, node: str, body: dict[str, Any]) -> None:
        kind = body["k"]
        if kind == "bye":
            self._seen.pop(node, None)
            self.hub.forget_node(node)
            return
        self._seen[node] = time.monotonic()
        if kind == "b":
            self.hub.broadcast(
                None, body["t"], frozenset(body["s"]), _decode_payload(body["p"]), relay=False
            )
        elif kind == "t":
            entry = Entry(
                f"{node}:{body['o']}", body["key"], body["ref"], body["m"], frozenset(body["s"])
            )
            self.hub.remote_track(body["t"], entry)
        elif kind == "u":
            self.hub.remote_untrack(body["t"], f"{node}:{body['o']}")
        elif kind == "hello":
            for topic, entry in self.hub.local_presence():
                self.track(topic, entry)

    def _expire(self) -> None:
        now = time.monotonic()
        for node, seen in list(self._seen.items()):
            if now - seen > EXPIRE_SECONDS:
                logger.info("realtime: node %s went silent; its presence entries leave", node)
                del self._seen[node]
                self.hub.forget_node(node)
