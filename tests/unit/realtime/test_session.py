"""Sessions over in-memory transports: a stuck reader is cut off at its queue bounds
(messages or bytes) while the others get everything; joins, replies and presence in the
Phoenix shape; credentials checked again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson

from leadtrail.realtime.access import TableAccess, Viewer
from leadtrail.realtime.bindings import parse_bindings
from leadtrail.realtime.changes import Change
from leadtrail.realtime.hub import Hub, Member
from leadtrail.realtime.session import Limits, Session
from leadtrail.realtime.values import BUILTIN
from leadtrail.storage import Claims, DbRole

SITE = uuid4()


class MemoryTransport:
    def __init__(self, *, stuck: bool = False) -> None:
        self.sent: list[str | bytes] = []
        self.closed: int | None = None
        self._gate = asyncio.Event()
        if not stuck:
            self._gate.set()
        self.arrived = asyncio.Event()
        #: the peer's side: closing ends its pending receive, as a real socket does
        self.inbox: asyncio.Queue[Any] = asyncio.Queue()

    def try_write(self, message: str | bytes) -> bool:
        return False  # every message through the awaited send (the queue's behaviour)

    async def send_text(self, text: str) -> None:
        await self._gate.wait()
        self.sent.append(text)
        self.arrived.set()

    async def send_bytes(self, data: bytes) -> None:
        await self.send_text(data.decode("latin-1"))

    async def close(self, code: int, reason: str) -> None:
        self.closed = code
        self.inbox.put_nowait(None)

    def frames(self) -> list[Any]:
        return [orjson.loads(s) for s in self.sent]


def hub() -> Hub:
    h = Hub(max_pending=100)
    h.tables = {"events": {"site_id": BUILTIN[2950], "lead_score": BUILTIN[23]}}
    h.access = TableAccess({"events": frozenset({DbRole.ANALYST})})
    h.feed_problem = None
    return h


def viewer(*sites: UUID) -> Viewer:
    return Viewer(Claims(role=DbRole.ANALYST, sub="t", site_ids=sites or (SITE,)), name="t")


def session(
    h: Hub,
    transport: MemoryTransport,
    max_queue: int = 50,
    *,
    max_queue_bytes: int = 16 * 1024 * 1024,
    token: str | None = None,
    lookup: Callable[[str], Viewer | None] = lambda token: None,
) -> tuple[Session, asyncio.Queue[Any]]:
    async def authenticate(token: str) -> Viewer | None:
        return lookup(token)

    s = Session(
        h,
        None,
        transport,
        vsn="1.0.0",
        viewer=viewer(),
        credentials=frozenset({"key"}),
        authenticate=authenticate,
        limits=Limits(
            max_queue=max_queue, max_messages_per_second=1000, max_queue_bytes=max_queue_bytes
        ),
        token=token,
    )
    return s, transport.inbox


def change(n: int, site: UUID = SITE, padding: int = 0) -> Change:
    record: dict[str, Any] = {"site_id": str(site), "lead_score": n}
    if padding:
        record["url"] = "x" * padding
    data = {"type": "INSERT", "table": "events", "record": record}
    return Change(
        datetime.now(UTC),
        n,
        "public",
        "events",
        "INSERT",
        str(site),
        record,
        None,
        orjson.dumps(data).decode(),
    )


JOIN = {
    "topic": "realtime:feed",
    "event": "phx_join",
    "ref": "1",
    "payload": {
        "config": {"postgres_changes": [{"event": "*", "schema": "public", "table": "events"}]}
    },
}


async def run(s: Session, inbox: asyncio.Queue[Any]) -> asyncio.Task[None]:
    async def receive() -> str | bytes | None:
        item = await inbox.get()
        return None if item is None else orjson.dumps(item).decode()

    return asyncio.create_task(s.run(receive))


async def test_a_stuck_reader_is_disconnected_and_the_others_get_everything() -> None:
    h = hub()
    quick_t, stuck_t = MemoryTransport(), MemoryTransport(stuck=True)
    quick, quick_in = session(h, quick_t, max_queue=1000)
    stuck, stuck_in = session(h, stuck_t, max_queue=50)
    tasks = [await run(quick, quick_in), await run(stuck, stuck_in)]
    for inbox in (quick_in, stuck_in):
        inbox.put_nowait(JOIN)
    while h.subscriber_count() < 2:
        await asyncio.sleep(0)
    h.dispatch(change(i) for i in range(500))
    assert stuck_t.closed == 1013 or stuck.queued() == 0  # cut off, queue dropped
    while len(quick_t.sent) < 1 + 1 + 500:  # reply, system, changes
        quick_t.arrived.clear()
        await asyncio.wait_for(quick_t.arrived.wait(), 5)
    frames = quick_t.frames()
    assert frames[0]["payload"]["response"]["postgres_changes"][0]["table"] == "events"
    assert frames[1]["payload"]["message"] == "Subscribed to PostgreSQL"
    assert [f["payload"]["data"]["record"]["lead_score"] for f in frames[2:]] == list(range(500))
    await asyncio.wait_for(tasks[1], 5)  # the stuck session ended
    assert stuck_t.closed == 1013 and h.subscriber_count() == 1
    quick_in.put_nowait(None)
    await asyncio.wait_for(tasks[0], 5)
    assert h.subscriber_count() == 0


async def test_filters_and_other_sites_are_applied_per_channel() -> None:
    h = hub()
    t = MemoryTransport()
    s, inbox = session(h, t)
    task = await run(s, inbox)
    join = {
        **JOIN,
        "payload": {
            "config": {
                "postgres_changes": [
                    {
                        "event": "INSERT",
                        "schema": "public",
                        "table": "events",
                        "filter": "lead_score=gte.3",
                    }
                ]
            }
        },
    }
    inbox.put_nowait(join)
    while h.subscriber_count() < 1:
        await asyncio.sleep(0)
    foreign = change(9)
    foreign = Change(
        foreign.position,
        9,
        "public",
        "events",
        "INSERT",
        str(uuid4()),
        foreign.record,
        None,
        foreign.data_json,
    )
    h.dispatch([change(1), foreign, change(3), change(4)])
    while len(t.sent) < 4:
        t.arrived.clear()
        await asyncio.wait_for(t.arrived.wait(), 5)
    assert [f["payload"]["data"]["record"]["lead_score"] for f in t.frames()[2:]] == [3, 4]
    inbox.put_nowait(None)
    await asyncio.wait_for(task, 5)


async def until_sent(t: MemoryTransport, count: int) -> list[Any]:
    while len(t.sent) < count:
        t.arrived.clear()
        await asyncio.wait_for(t.arrived.wait(), 5)
    return t.frames()


async def test_a_reader_too_many_bytes_behind_is_disconnected_whatever_the_count() -> None:
    h = hub()
    quick_t, stuck_t = MemoryTransport(), MemoryTransport(stuck=True)
    limit = 64 * 1024
    quick, quick_in = session(h, quick_t, max_queue=1000, max_queue_bytes=limit)
    stuck, stuck_in = session(h, stuck_t, max_queue=1000, max_queue_bytes=limit)
    tasks = [await run(quick, quick_in), await run(stuck, stuck_in)]
    for inbox in (quick_in, stuck_in):
        inbox.put_nowait(JOIN)
    while h.subscriber_count() < 2:
        await asyncio.sleep(0)
    # 20 messages of 10 KB: far below 1000 messages, above 64 KiB
    big = [change(i, padding=10_000) for i in range(20)]
    for i, item in enumerate(big):
        h.dispatch([item])
        # the quick reader keeps up: its queue never holds more than a message or two
        assert quick.queued_bytes() <= 2 * 11_000
        await until_sent(quick_t, 2 + i + 1)
    assert stuck_t.closed is None or stuck_t.closed == 1013
    await asyncio.wait_for(tasks[1], 5)
    assert stuck_t.closed == 1013 and stuck.queued_bytes() == 0
    frames = quick_t.frames()
    assert [f["payload"]["data"]["record"]["lead_score"] for f in frames[2:]] == list(range(20))
    quick_in.put_nowait(None)
    await asyncio.wait_for(tasks[0], 5)


def test_held_changes_are_bounded_in_bytes_too() -> None:
    h = hub()
    h.max_pending, h.max_pending_bytes = 1000, 50_000
    closed: list[int] = []

    class Conn:
        id, vsn = 1, "1.0.0"

        def push_text(self, text: str) -> None:
            # a session that overflowed ignores pushes
            assert closed, "held changes are not sent"

        def push_bytes(self, data: bytes) -> None:
            assert closed, "held changes are not sent"

        def overflow(self) -> None:
            closed.append(1)

    member = Member(
        conn=Conn(),
        topic="realtime:feed",
        viewer=viewer(),
        join_ref="1",
        bindings=parse_bindings([{"event": "*", "table": "events"}], h.tables),
        pending=[],
    )
    h.join(member)
    h.dispatch([change(i, padding=10_000) for i in range(4)])
    assert not closed and member.pending is not None and len(member.pending) == 4
    h.dispatch([change(9, padding=10_000), change(10, padding=10_000)])
    assert closed == [1] and member.pending is None


OTHER = uuid4()


async def test_credentials_checked_again_follow_sites_and_close_when_revoked() -> None:
    h = hub()
    t = MemoryTransport()
    current: dict[str, Viewer | None] = {"key": viewer(SITE, OTHER)}
    s, inbox = session(h, t, token="key", lookup=lambda token: current[token])
    task = await run(s, inbox)
    inbox.put_nowait(JOIN)
    await until_sent(t, 2)  # reply, "Subscribed to PostgreSQL"

    await s.revalidate()  # a membership was added: the channel follows
    h.dispatch([change(1, OTHER)])
    frames = await until_sent(t, 3)
    assert frames[2]["payload"]["data"]["record"]["lead_score"] == 1

    current["key"] = viewer(SITE)  # ... and removed again
    await s.revalidate()
    h.dispatch([change(2, OTHER), change(3, SITE)])
    frames = await until_sent(t, 4)
    assert [f["payload"]["data"]["record"]["lead_score"] for f in frames[2:]] == [1, 3]

    current["key"] = None  # revoked
    await s.revalidate()
    h.dispatch([change(4, SITE)])
    await asyncio.wait_for(task, 5)
    assert t.closed == 1008 and h.subscriber_count() == 0
    system, close = t.frames()[4:]
    assert system["event"] == "system" and system["payload"]["status"] == "error"
    assert system["payload"]["message"].startswith("InvalidAccessToken")
    assert close["event"] == "phx_close" and close["topic"] == "realtime:feed"


async def test_a_credential_left_without_sites_closes_the_connection() -> None:
    h = hub()
    t = MemoryTransport()
    current: dict[str, Viewer | None] = {"key": viewer(SITE)}
    s, inbox = session(h, t, token="key", lookup=lambda token: current[token])
    task = await run(s, inbox)
    inbox.put_nowait(JOIN)
    await until_sent(t, 2)
    current["key"] = Viewer(Claims(role=DbRole.ANALYST, sub="t", site_ids=()), name="t")
    await s.revalidate()
    await asyncio.wait_for(task, 5)
    assert t.closed == 1008
    assert "no longer gives access" in t.frames()[2]["payload"]["message"]


class DirectLaneTransport(MemoryTransport):
    """A socket with a direct lane that can be shut (flow control) and reopened."""

    def __init__(self) -> None:
        super().__init__(stuck=True)
        self.lane_open = False

    def try_write(self, message: str | bytes) -> bool:
        if not self.lane_open:
            return False
        assert isinstance(message, str)
        self.sent.append(message)
        self.arrived.set()
        return True


async def test_the_direct_lane_never_overtakes_a_message_still_being_sent() -> None:
    h = hub()
    t = DirectLaneTransport()
    s, inbox = session(h, t, max_queue=1000)
    task = await run(s, inbox)
    inbox.put_nowait(JOIN)
    t._gate.set()
    while len(t.sent) < 2:  # the reply and the system message, through the awaited send
        t.arrived.clear()
        await asyncio.wait_for(t.arrived.wait(), 5)
    # The lane is shut and the socket stuck: change 0 is taken by the writer, whose send
    # waits, and the queue is empty. Then the lane opens and change 1 arrives.
    t._gate.clear()
    h.dispatch([change(0)])
    while s.queued():
        await asyncio.sleep(0)
    t.lane_open = True
    h.dispatch([change(1)])
    assert len(t.sent) == 2  # change 1 waits behind change 0, not written around it
    t._gate.set()
    while len(t.sent) < 4:
        t.arrived.clear()
        await asyncio.wait_for(t.arrived.wait(), 5)
    assert [f["payload"]["data"]["record"]["lead_score"] for f in t.frames()[2:]] == [0, 1]
    # Nothing waiting: a change goes straight down the lane within dispatch.
    h.dispatch([change(2)])
    assert t.frames()[-1]["payload"]["data"]["record"]["lead_score"] == 2
    inbox.put_nowait(None)
    await asyncio.wait_for(task, 5)


def test_a_frame_is_encoded_once_per_message_and_parses_back() -> None:
    from websockets.frames import Frame, Opcode
    from websockets.streams import StreamReader

    from leadtrail.web.ws_protocol import encode_frame

    for text in ("", "x" * 125, "é" * 100, "y" * 70_000):
        data = encode_frame(text)
        assert encode_frame(text) is data  # the next subscriber reuses it
        reader = StreamReader()
        reader.feed_data(data)
        parser = Frame.parse(reader.read_exact, mask=False)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        assert frame.opcode is Opcode.TEXT and frame.fin and frame.data.decode() == text
    binary = encode_frame(b"\x00\x01")
    assert binary[0] == 0x82 and binary[2:] == b"\x00\x01"
