"""Rate limits shared by every route that needs one (``/api/call-event``, ``/api/sync``,
tracker-mode lead capture), on the ``limits`` library.

Counters live in process memory by default and in Redis when ``LEADTRAIL_REDIS_URL`` is
set, so several leadtrail processes share them. A Redis outage lets requests through
(logged) rather than taking the API down with it.
"""

from __future__ import annotations

import functools
import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.requests import HTTPConnection

from leadtrail.errors import RateLimited

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=64)
def _item(rate: str) -> RateLimitItem:
    return parse(rate)


def _storage(redis_url: str | None) -> Storage:
    if not redis_url:
        return MemoryStorage()
    uri = redis_url if redis_url.startswith("async+") else "async+" + redis_url
    storage = storage_from_string(uri)
    assert isinstance(storage, Storage)
    return storage


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._limiter = MovingWindowRateLimiter(_storage(redis_url))

    async def check(self, scope: str, rate: str, key: str) -> None:
        """Count one request of ``key`` against ``rate`` (e.g. ``"50/minute"``) in ``scope``;
        raises ``RateLimited`` with ``retry_after`` when over."""
        item = _item(rate)
        try:
            allowed = await self._limiter.hit(item, scope, key)
            if allowed:
                return
            stats = await self._limiter.get_window_stats(item, scope, key)
            retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        except Exception:
            logger.exception("rate-limit storage failed; letting the request through")
            return
        raise RateLimited(
            f"more than {rate} from this address; retry in {retry_after}s",
            code="rate_limited",
            retry_after=retry_after,
        )


def client_ip(conn: HTTPConnection) -> str:
    """The peer address (a proxy in front should set it, e.g. uvicorn --proxy-headers)."""
    return conn.client.host if conn.client else "unknown"
