"""Re-checks every open socket as soon as a credential is revoked anywhere.

The periodic re-check (``LEADTRAIL_REALTIME_REVALIDATE_INTERVAL``) stays as the safety net
(a lost listen connection, an expiry); this makes revocation and logout reach open sockets
within a second. One LISTEN connection per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

from leadtrail.auth.revocation import CHANNEL
from leadtrail.realtime.session import Session
from leadtrail.storage import Database

logger = logging.getLogger(__name__)


class RevocationListener:
    """A component: LISTEN on the revocation channel, revalidate all sessions on a notice."""

    name = "realtime-revocations"

    def __init__(self, db: Database, sessions: Callable[[], Iterable[Session]]) -> None:
        self._db = db
        self._sessions = sessions
        self._conn: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._conn = await self._db.app_connection()
        await self._conn.add_listener(CHANNEL, self._notified)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _notified(self, *_: object) -> None:
        for session in list(self._sessions()):
            task = asyncio.get_running_loop().create_task(self._check(session))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _check(session: Session) -> None:
        try:
            await session.revalidate()
        except Exception:
            logger.warning("realtime: could not re-check %s", session.viewer.name, exc_info=True)
