"""One WebSocket client: Phoenix channel protocol, limits and its bounded send queue.

Transport-agnostic: the web layer hands in a ``Transport`` (send/close) and the frames it
receives. Sending never blocks the hub: messages go into a bounded queue drained by a
writer task; a client that falls ``max_queue`` messages or ``max_queue_bytes`` behind is
disconnected (close code 1013) instead of slowing anyone else (or holding the memory).

The handshake's credential (and each channel's own ``access_token``) is checked again
every ``revalidate_interval`` seconds, one lookup per credential: a revoked or expired key,
a logged-out session or a user left without sites closes the connection (close code 1008),
and a user's changed memberships take effect on the channels at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from leadtrail.realtime import protocol
from leadtrail.realtime.access import Viewer
from leadtrail.realtime.bindings import BindingError, parse_bindings
from leadtrail.realtime.changes import Change, parse_position
from leadtrail.realtime.hub import Hub, Member
from leadtrail.realtime.protocol import Frame, error_reply, reply

logger = logging.getLogger(__name__)

TOPIC_PREFIX = "realtime:"
PHOENIX = "phoenix"
#: a client that sends nothing (not even a heartbeat, every 25-30 s) for this long is gone
IDLE_TIMEOUT = 120.0
CLOSE_GOING_AWAY = 1001
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_POLICY_VIOLATION = 1008
#: how long a closing connection may take to send its last frames
FLUSH_TIMEOUT = 5.0

_ids = itertools.count(1)


class Transport(Protocol):
    def try_write(self, message: str | bytes) -> bool:
        """Send at once, without waiting, if the connection can take it now (False: it
        cannot, or this transport has no such lane; the message is queued instead)."""
        ...

    async def send_text(self, text: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class ReplaySource(Protocol):
    """The replay log, as a ``since`` join needs it."""

    def unavailable_before(self) -> datetime | None: ...

    def read(
        self, since: datetime, until: datetime, sites: frozenset[str], tables: frozenset[str]
    ) -> AsyncIterator[Change]: ...


Authenticate = Callable[[str], Awaitable[Viewer | None]]


@dataclass(frozen=True)
class Limits:
    max_channels: int = 100
    max_messages_per_second: int = 100
    max_payload_bytes: int = 256 * 1024
    max_queue: int = 10_000
    #: bytes of queued messages (their size in memory), whatever their number
    max_queue_bytes: int = 16 * 1024 * 1024


class Session:
    """Implements the hub's ``Outbox`` for one connection."""

    def __init__(
        self,
        hub: Hub,
        replay: ReplaySource | None,
        transport: Transport,
        *,
        vsn: str,
        viewer: Viewer,
        credentials: frozenset[str],
        authenticate: Authenticate,
        limits: Limits,
        token: str | None = None,
        revalidate_interval: float | None = None,
    ) -> None:
        """``token``: the credential ``viewer`` came from, re-checked every
        ``revalidate_interval`` seconds (None: never)."""
        self.id = next(_ids)
        self.vsn = vsn
        self.hub = hub
        self.replay = replay
        self.viewer = viewer
        #: tokens this connection was opened with; an access_token equal to one returns the
        #: channel to the connection's own identity
        self.credentials = credentials
        self.limits = limits
        self._transport = transport
        self._authenticate = authenticate
        self._token = token
        self._revalidate_interval = revalidate_interval
        self._members: dict[str, Member] = {}
        self._queue: deque[str | bytes] = deque()
        self._queued_bytes = 0
        #: the writer is inside an awaited send: a new message must queue behind it
        self._sending = False
        self._wake = asyncio.Event()
        self._closing = False
        #: closing after the queued frames are sent (not dropped)
        self._flushing = False
        self._flushed = asyncio.Event()
        self._close_task: asyncio.Future[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._window = 0.0
        self._count = 0

    # -- Outbox ----------------------------------------------------------------------

    def push_text(self, text: str) -> None:
        self._push(text)

    def push_bytes(self, data: bytes) -> None:
        self._push(data)

    def _push(self, item: str | bytes) -> None:
        if self._closing:
            return
        # Nothing waiting before it: straight to the socket when it can take it, as one
        # loop turn's fan-out (no writer task to wake per subscriber per change).
        if not self._queue and not self._sending and self._transport.try_write(item):
            return
        self._queue.append(item)
        self._queued_bytes += sys.getsizeof(item)
        if len(self._queue) > self.limits.max_queue or (
            # one message alone always fits, however large
            self._queued_bytes > self.limits.max_queue_bytes and len(self._queue) > 1
        ):
            self.overflow()
            return
        self._wake.set()

    def overflow(self) -> None:
        """Too far behind: drop the queue and disconnect this client only."""
        if self._closing:
            return
        logger.warning(
            "realtime: disconnecting %s, %d messages (%d bytes) behind",
            self.viewer.name,
            len(self._queue),
            self._queued_bytes,
        )
        self._queue.clear()
        self._queued_bytes = 0
        self._stop(CLOSE_TRY_AGAIN_LATER)

    def queued(self) -> int:
        return len(self._queue)

    def queued_bytes(self) -> int:
        return self._queued_bytes

    @property
    def closing(self) -> bool:
        """Disconnected from inside (or on its way out); nothing more is queued."""
        return self._closing

    def _backlogged(self) -> bool:
        """Half full: a replay waits before queueing more."""
        return (
            len(self._queue) > self.limits.max_queue // 2
            or self._queued_bytes > self.limits.max_queue_bytes // 2
        )

    # -- lifecycle -------------------------------------------------------------------

    async def run(self, receive: Callable[[], Awaitable[str | bytes | None]]) -> None:
        """Serve the connection until the client leaves, idles out or is disconnected."""
        writer = asyncio.create_task(self._write(), name=f"realtime-writer-{self.id}")
        if self._token is not None and self._revalidate_interval:
            self._spawn(self._revalidate_every(self._revalidate_interval))
        try:
            while not self._closing:
                try:
                    message = await asyncio.wait_for(receive(), IDLE_TIMEOUT)
                except TimeoutError:
                    self._stop(CLOSE_GOING_AWAY)
                    break
                if message is None:
                    break
                await self.handle(message)
        finally:
            for member in list(self._members.values()):
                self.hub.leave(member)
            self._members.clear()
            for task in list(self._tasks):
                task.cancel()
            self._closing = True
            self._wake.set()
            if self._flushing and self._close_task is not None:
                # the last frames go out before the writer stops
                with contextlib.suppress(Exception):
                    await self._close_task
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            if self._close_task is not None:
                with contextlib.suppress(Exception):
                    await self._close_task

    def close(self, code: int) -> None:
        self._stop(code)

    def _stop(self, code: int, reason: str = "", *, flush: bool = False) -> None:
        """Disconnect from inside (overflow, idle, revoked): the pending receive then ends.
        ``flush``: send what is queued first (nothing more is queued)."""
        if self._closing:
            return
        self._closing = True
        self._flushing = flush
        self._wake.set()
        if flush:
            self._close_task = asyncio.ensure_future(self._flush_then_close(code, reason))
        else:
            self._close_task = asyncio.ensure_future(self._transport.close(code, reason))

    async def _flush_then_close(self, code: int, reason: str) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flushed.wait(), FLUSH_TIMEOUT)
        await self._transport.close(code, reason)

    async def _write(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                if self._closing:
                    self._flushed.set()
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._closing and not self._flushing:
                return
            item = queue.popleft()
            self._queued_bytes -= sys.getsizeof(item)
            if self._transport.try_write(item):
                continue
            self._sending = True
            try:
                if isinstance(item, str):
                    await self._transport.send_text(item)
                else:
                    await self._transport.send_bytes(item)
            finally:
                self._sending = False

    def send(self, frame: Frame) -> None:
        self.push_text(protocol.encode(self.vsn, frame))

    # -- frames ----------------------------------------------------------------------

    async def handle(self, message: str | bytes) -> None:
        try:
            if isinstance(message, bytes):
                frame = protocol.decode_binary(message)
            else:
                frame = protocol.decode_text(self.vsn, message)
        except protocol.ProtocolError as exc:
            logger.info("realtime: unreadable frame from %s: %s", self.viewer.name, exc)
            return
        if frame.topic == PHOENIX and frame.event == "heartbeat":
            self.send(reply(PHOENIX, frame.ref, None, "ok", {}))
            return
        if not self._within_rate():
            self.send(
                error_reply(
                    frame.topic,
                    frame.ref,
                    frame.join_ref,
                    "MessagePerSecondRateLimitReached: Too many messages per second",
                )
            )
            return
        if len(message) > self.limits.max_payload_bytes:
            self.send(
                error_reply(
                    frame.topic,
                    frame.ref,
                    frame.join_ref,
                    f"PayloadTooLarge: messages are limited to {self.limits.max_payload_bytes} bytes",
                )
            )
            return
        if frame.event == "phx_join":
            await self._join(frame)
            return
        member = self._members.get(frame.topic)
        if member is None:
            self.send(error_reply(frame.topic, frame.ref, frame.join_ref, "unmatched topic"))
            return
        if frame.event == "phx_leave":
            self._leave(member)
            self.send(reply(frame.topic, frame.ref, frame.join_ref, "ok", {}))
            self.send(Frame(frame.topic, "phx_close", {}, member.join_ref, member.join_ref))
        elif frame.event == "broadcast":
            self._broadcast(member, frame)
        elif frame.event == "presence":
            self._presence(member, frame)
        elif frame.event == "access_token":
            await self._access_token(member, frame)
        else:
            self.send(
                error_reply(
                    frame.topic, frame.ref, frame.join_ref, f"unknown event {frame.event!r}"
                )
            )

    def _within_rate(self) -> bool:
        now = time.monotonic()
        if now - self._window >= 1.0:
            self._window, self._count = now, 0
        self._count += 1
        return self._count <= self.limits.max_messages_per_second

    # -- join / leave ----------------------------------------------------------------

    async def _join(self, frame: Frame) -> None:
        topic, payload = frame.topic, frame.payload

        def refuse(reason: str) -> None:
            self.send(error_reply(topic, frame.ref, frame.ref, reason))

        if not topic.startswith(TOPIC_PREFIX) or len(topic) > 255:
            refuse("InvalidTopic: topics are 'realtime:<name>', at most 255 characters")
            return
        if not isinstance(payload, dict):
            refuse("InvalidJoinPayload: the join payload must be an object")
            return
        config = payload.get("config") or {}
        if not isinstance(config, dict):
            refuse("InvalidJoinPayload: config must be an object")
            return
        existing = self._members.get(topic)
        if existing is not None:
            self._leave(existing)
        if len(self._members) >= self.limits.max_channels:
            refuse(
                f"ChannelRateLimitReached: Too many channels (at most {self.limits.max_channels})"
            )
            return
        viewer = self.viewer
        member_token: str | None = None
        token = payload.get("access_token")
        if isinstance(token, str) and token and token not in self.credentials:
            found = await self._authenticate(token)
            if found is None:
                refuse("InvalidAccessToken: the access_token is invalid, revoked or expired")
                return
            viewer, member_token = found, token
        try:
            bindings = parse_bindings(config.get("postgres_changes"), self.hub.tables)
        except BindingError as exc:
            refuse(f"InvalidPostgresChanges: {exc}")
            return
        since: datetime | None = None
        raw_since = payload.get("since", config.get("since"))
        if raw_since not in (None, ""):
            problem = self._since_problem(raw_since, bindings)
            if problem:
                refuse(problem)
                return
            since = parse_position(str(raw_since))
        if bindings and self.hub.feed_problem:
            refuse(f"PostgresChangesUnavailable: {self.hub.feed_problem}")
            return
        broadcast = config.get("broadcast") or {}
        presence = config.get("presence") or {}
        if not isinstance(broadcast, dict) or not isinstance(presence, dict):
            refuse("InvalidJoinPayload: config.broadcast and config.presence must be objects")
            return
        member = Member(
            conn=self,
            topic=topic,
            viewer=viewer,
            join_ref=frame.join_ref or frame.ref,
            bindings=bindings,
            broadcast_self=bool(broadcast.get("self")),
            broadcast_ack=bool(broadcast.get("ack")),
            presence_key=str(presence.get("key") or uuid.uuid4()),
            token=member_token,
        )
        # From here to the end of the synchronous part, no await: the replay window
        # (since, until] and the live changes held in `pending` meet exactly.
        until = self.hub.dispatched
        if since is not None:
            member.pending = []
        self.hub.join(member)
        self._members[topic] = member
        echoed = [{**b.echo, "id": b.id} for b in bindings]
        self.send(reply(topic, frame.ref, member.join_ref, "ok", {"postgres_changes": echoed}))
        if presence.get("enabled"):
            self.send(Frame(topic, "presence_state", self.hub.presence_state(member)))
        if not bindings:
            return
        if since is not None and until is not None and since < until:
            self._spawn(self._serve_replay(member, since, until))
        else:
            member.pending = None
            self._subscribed(member)

    def _since_problem(self, raw: Any, bindings: tuple[Any, ...]) -> str | None:
        if not bindings:
            return "InvalidSince: since needs postgres_changes bindings"
        try:
            since = parse_position(str(raw))
        except ValueError:
            return "InvalidSince: since must be the commit_timestamp of the last change received"
        if self.replay is None:
            return "ReplayUnavailable: this server keeps no replay log"
        floor = self.replay.unavailable_before()
        if floor is not None and since < floor:
            return (
                "ReplayUnavailable: changes after this position are no longer in the replay log;"
                " reload the data and join without since"
            )
        return None

    async def _serve_replay(self, member: Member, since: datetime, until: datetime) -> None:
        assert self.replay is not None
        tables = frozenset(b.table for b in member.bindings if b.table) or frozenset(
            self.hub.tables
        )
        try:
            async for change in self.replay.read(since, until, member.sites, tables):
                if self._members.get(member.topic) is not member or self._closing:
                    return
                ids = self.hub.allowed(member, change)
                if ids:
                    member.send_change(change, ids)
                while self._backlogged() and not self._closing:
                    await asyncio.sleep(0.01)
        except Exception:
            # As when a Phoenix channel process crashes: phx_error, and the client rejoins
            # (with the since it keeps current).
            logger.exception("realtime: replay for %s failed", member.topic)
            if self._members.get(member.topic) is member:
                self._leave(member)
                self.send(Frame(member.topic, "phx_error", {}, member.join_ref, member.join_ref))
            return
        held = member.pending
        member.pending = None
        if held is None or self._members.get(member.topic) is not member:
            return
        for change, ids in held:
            # the viewer's sites may have been re-checked (and narrowed) meanwhile
            if self.hub.access.allows(member.viewer, change.table, change.site_id):
                member.send_change(change, ids)
        self._subscribed(member)

    def _subscribed(self, member: Member) -> None:
        self.send(
            Frame(member.topic, "system", _system(member.topic, "ok", "Subscribed to PostgreSQL"))
        )

    def _leave(self, member: Member) -> None:
        self.hub.leave(member)
        self._members.pop(member.topic, None)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- broadcast, presence, tokens -------------------------------------------------

    def _broadcast(self, member: Member, frame: Frame) -> None:
        payload = frame.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
            self.send(
                error_reply(frame.topic, frame.ref, frame.join_ref, "broadcast needs an event")
            )
            return
        message = {
            "type": "broadcast",
            "event": payload["event"],
            "payload": payload.get("payload"),
        }
        if "meta" in payload:
            message["meta"] = payload["meta"]
        self.hub.broadcast(member, frame.topic, member.sites, message)
        if member.broadcast_ack:
            self.send(reply(frame.topic, frame.ref, frame.join_ref, "ok", {}))

    def _presence(self, member: Member, frame: Frame) -> None:
        payload = frame.payload if isinstance(frame.payload, dict) else {}
        event = payload.get("event")
        if event == "track":
            meta = payload.get("payload")
            self.hub.track(member, meta if isinstance(meta, dict) else {})
        elif event == "untrack":
            self.hub.untrack(member)
        else:
            self.send(
                error_reply(
                    frame.topic,
                    frame.ref,
                    frame.join_ref,
                    "presence event must be track or untrack",
                )
            )
            return
        self.send(reply(frame.topic, frame.ref, frame.join_ref, "ok", {}))

    async def _access_token(self, member: Member, frame: Frame) -> None:
        token = frame.payload.get("access_token") if isinstance(frame.payload, dict) else None
        if not isinstance(token, str) or not token:
            return
        if token in self.credentials:
            # Back to the connection's own credential: the channel follows it again, so it
            # stops seeing what another identity's token let it see.
            if member.token is not None:
                self.hub.leave(member)
                member.viewer = self.viewer
                member.token = None
                self.hub.join(member)
            return
        viewer = await self._authenticate(token)
        if self._members.get(member.topic) is not member:
            return
        if viewer is None:
            self.send(
                Frame(
                    member.topic,
                    "system",
                    _system(
                        member.topic, "error", "InvalidAccessToken: the access_token is invalid"
                    ),
                )
            )
            self._leave(member)
            self.send(Frame(member.topic, "phx_close", {}, member.join_ref, member.join_ref))
            return
        # Same channel, new identity: re-index it under the new sites.
        self.hub.leave(member)
        member.viewer = viewer
        member.token = token
        self.hub.join(member)

    # -- credentials, again ----------------------------------------------------------

    async def _revalidate_every(self, interval: float) -> None:
        # Connections opened together (after a deploy) spread their checks out.
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        while not self._closing:
            try:
                await self.revalidate()
            except Exception:
                # The database is unreachable: keep the connection, check again later.
                logger.warning(
                    "realtime: could not re-check the credential of %s",
                    self.viewer.name,
                    exc_info=True,
                )
            await asyncio.sleep(interval)

    async def revalidate(self) -> None:
        """Check the connection's credential and the channels' own access tokens again:
        one lookup per distinct credential."""
        if self._token is not None:
            viewer = await self._authenticate(self._token)
            if self._closing:
                return
            if viewer is None:
                self._revoke("the credential was revoked or has expired")
                return
            if not viewer.site_ids and self.viewer.site_ids:
                self._revoke("the credential no longer gives access to any site")
                return
            if _changed(self.viewer, viewer):
                logger.info("realtime: %s's access changed; channels follow", viewer.name)
                self.viewer = viewer
                for member in self._members.values():
                    if member.token is None:
                        self.hub.reindex(member, viewer)
        found: dict[str, Viewer | None] = {}
        for member in list(self._members.values()):
            token = member.token
            if token is None:
                continue
            if token not in found:
                found[token] = await self._authenticate(token)
            viewer = found[token]
            if self._closing or self._members.get(member.topic) is not member:
                continue
            if viewer is None or (not viewer.site_ids and member.viewer.site_ids):
                self._close_channel(
                    member, "InvalidAccessToken: the access_token was revoked or has expired"
                )
            elif _changed(member.viewer, viewer):
                self.hub.reindex(member, viewer)

    def _revoke(self, why: str) -> None:
        """Every channel gets a system error and phx_close, then the socket closes."""
        logger.info("realtime: closing the connection of %s: %s", self.viewer.name, why)
        for member in list(self._members.values()):
            self._close_channel(member, f"InvalidAccessToken: {why}")
        self._stop(CLOSE_POLICY_VIOLATION, why, flush=True)

    def _close_channel(self, member: Member, message: str) -> None:
        self._leave(member)
        self.send(Frame(member.topic, "system", _system(member.topic, "error", message)))
        self.send(Frame(member.topic, "phx_close", {}, member.join_ref, member.join_ref))


def _changed(old: Viewer, new: Viewer) -> bool:
    return old.role is not new.role or old.site_ids != new.site_ids


def _system(topic: str, status: str, message: str) -> dict[str, Any]:
    return {
        "channel": topic.removeprefix(TOPIC_PREFIX),
        "extension": "postgres_changes",
        "message": message,
        "status": status,
    }
