"""Realtime wiring: the hub, the feed, the live sessions, and who may subscribe."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from leadtrail.auth import api_keys
from leadtrail.auth.principal import Principal
from leadtrail.auth.service import Authenticator
from leadtrail.config import Settings
from leadtrail.errors import Unauthorized
from leadtrail.realtime.access import Viewer
from leadtrail.realtime.feed import ChangeFeed, ReplayLog
from leadtrail.realtime.hub import Hub
from leadtrail.realtime.relay import Relay
from leadtrail.realtime.revocations import RevocationListener
from leadtrail.realtime.session import CLOSE_GOING_AWAY, Limits, Session
from leadtrail.storage import Database

logger = logging.getLogger(__name__)


def viewer_for(principal: Principal) -> Viewer | None:
    """A subscriber needs read access: a user, or an API key with ``read`` or ``admin``
    scope (an ``ingest``-only key may write events but not watch them)."""
    if not principal.has_scope("read"):
        return None
    return Viewer(principal.claims(), name=f"{principal.kind}:{principal.name}")


class Realtime:
    """What the WebSocket route and the REST broadcast need, built once per app."""

    def __init__(self, settings: Settings, db: Database, auth: Authenticator) -> None:
        self.settings = settings
        self.db = db
        self.auth = auth
        self.hub = Hub(
            max_pending=settings.realtime_max_queue,
            max_pending_bytes=settings.realtime_max_queue_bytes,
        )
        self.feed: ChangeFeed | None = None
        self.replay: ReplayLog | None = None
        if settings.realtime_enabled:
            self.feed = ChangeFeed(settings, db, self.hub)
            self.replay = self.feed.replay
        else:
            self.hub.feed_problem = "the change feed is off (LEADTRAIL_REALTIME_ENABLED=false)"
        self.limits = Limits(
            max_channels=settings.realtime_max_channels,
            max_messages_per_second=settings.realtime_max_messages_per_second,
            max_payload_bytes=settings.realtime_max_payload_bytes,
            max_queue=settings.realtime_max_queue,
            max_queue_bytes=settings.realtime_max_queue_bytes,
        )
        self.sessions: set[Session] = set()
        #: broadcast and presence to and from the other realtime nodes
        self.relay = Relay(db, self.hub)

    async def principal_of(self, token: str) -> Principal | None:
        """An API key or a dashboard session token -> who it is; None when invalid."""
        token = token.strip()
        if api_keys.parse_prefix(token):
            try:
                return await self.auth.from_api_key(token)
            except Unauthorized:
                return None
        return await self.auth.from_session_token(token)

    async def authenticate(self, token: str) -> Viewer | None:
        """An API key or a dashboard session token -> a viewer; None when invalid or when
        the credential may not read (an ingest-only key)."""
        principal = await self.principal_of(token)
        return viewer_for(principal) if principal is not None else None

    @property
    def components(self) -> list[HubComponent | ChangeFeed | RevocationListener | Relay]:
        """The feed starts after the hub, and stops before it."""
        parts: list[HubComponent | ChangeFeed | RevocationListener | Relay] = [
            HubComponent(self),
            RevocationListener(self.db, lambda: self.sessions),
            self.relay,
        ]
        if self.feed is not None:
            parts.append(self.feed)
        return parts


class HubComponent:
    """Closes every realtime connection when the app stops (clients then reconnect)."""

    name = "realtime-hub"

    def __init__(self, realtime: Realtime) -> None:
        self.realtime = realtime

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        sessions = list(self.realtime.sessions)
        for session in sessions:
            session.close(CLOSE_GOING_AWAY)
        if sessions:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained(), timeout=5)

    async def _drained(self) -> None:
        while self.realtime.sessions:
            await asyncio.sleep(0.01)
