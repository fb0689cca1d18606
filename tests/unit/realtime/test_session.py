"""Sessions over in-memory transports: a stuck reader is cut off at its queue bound while
the others get everything; joins, replies and presence in the Phoenix shape."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import orjson

from leadtrail.realtime.access import TableAccess, Viewer
from leadtrail.realtime.changes import Change
from leadtrail.realtime.hub import Hub
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


def session(
    h: Hub, transport: MemoryTransport, max_queue: int = 50
) -> tuple[Session, asyncio.Queue[Any]]:
    viewer = Viewer(Claims(role=DbRole.ANALYST, sub="t", site_ids=(SITE,)), name="t")

    async def authenticate(token: str) -> Viewer | None:
        return None

    s = Session(
        h,
        None,
        transport,
        vsn="1.0.0",
        viewer=viewer,
        credentials=frozenset({"key"}),
        authenticate=authenticate,
        limits=Limits(max_queue=max_queue, max_messages_per_second=1000),
    )
    return s, transport.inbox


def change(n: int) -> Change:
    record = {"site_id": str(SITE), "lead_score": n}
    data = {"type": "INSERT", "table": "events", "record": record}
    return Change(
        datetime.now(UTC),
        n,
        "public",
        "events",
        "INSERT",
        str(SITE),
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
