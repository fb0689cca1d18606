"""Coalesced WebSocket writes: one write() per event-loop turn, nothing held past it."""

from __future__ import annotations

import asyncio
from typing import Any

from leadtrail.web.ws_protocol import FLUSH_BYTES, CoalescingTransport


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


async def test_frames_of_one_turn_leave_in_one_write() -> None:
    fake = FakeTransport()
    t = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
    for i in range(10):
        t.write(b"frame%d" % i)
    assert fake.writes == []  # not yet: the turn is not over
    await asyncio.sleep(0)
    assert fake.writes == [b"".join(b"frame%d" % i for i in range(10))]
    t.write(b"next")
    await asyncio.sleep(0)
    assert fake.writes[-1] == b"next" and len(fake.writes) == 2
    assert t.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the transport's


async def test_big_backlogs_flush_at_once_and_close_sends_what_waits() -> None:
    fake = FakeTransport()
    t = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"x" * FLUSH_BYTES)
    assert fake.writes == [b"x" * FLUSH_BYTES]
    t.write(b"bye")
    t.close()
    assert fake.writes[-1] == b"bye" and fake.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing left
    assert len(fake.writes) == 2


async def test_abort_drops_what_waits() -> None:
    fake = FakeTransport()
    t = CoalescingTransport(fake, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"lost")
    t.abort()
    await asyncio.sleep(0)
    assert fake.writes == [] and fake.aborted
