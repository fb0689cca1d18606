"""Component: every ``interval`` seconds, one beat per local component with its metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from leadtrail.heartbeats.model import Beat
from leadtrail.heartbeats.service import publish_system
from leadtrail.storage import Database

logger = logging.getLogger(__name__)

#: what a local component reports about itself
Reporter = Callable[[], Awaitable[Beat]]


class HeartbeatPublisher:
    name = "heartbeats"

    def __init__(self, db: Database, interval: float) -> None:
        self._db = db
        self._interval = interval
        self.reporters: list[Reporter] = []
        self._task: asyncio.Task[None] | None = None
        self.failures = 0

    def add(self, reporter: Reporter) -> None:
        self.reporters.append(reporter)

    async def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def publish_once(self) -> int:
        """Publish every reporter's beat now; returns how many were written."""
        written = 0
        for reporter in self.reporters:
            try:
                beat = await reporter()
                await publish_system(self._db, beat)
                written += 1
            except Exception:
                self.failures += 1
                logger.warning(
                    "heartbeat of %s failed", getattr(reporter, "__name__", "?"), exc_info=True
                )
        return written

    async def _loop(self) -> None:
        while True:
            await self.publish_once()
            await asyncio.sleep(self._interval)
