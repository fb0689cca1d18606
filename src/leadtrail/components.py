"""Long-running parts of a leadtrail process (partition upkeep, ingest writer, change feed,
identity resolver, rollups), started and stopped with the app in a fixed order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

logger = logging.getLogger(__name__)


class Component(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class PeriodicTask:
    """Runs ``work`` every ``interval`` seconds; a failure is logged and retried next time,
    so the loop never dies silently."""

    def __init__(self, name: str, interval: float, work: Callable[[], Awaitable[object]]) -> None:
        self.name = name
        self.interval = interval
        self._work = work
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self._work()
            except Exception:
                logger.exception("%s failed; retrying in %ss", self.name, self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
