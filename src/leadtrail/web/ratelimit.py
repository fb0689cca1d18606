"""Rate limits with the ``limits`` library: in memory by default, in Redis when
``LEADTRAIL_REDIS_URL`` is set (shared by several leadtrail processes).

Fixed windows: one counter per key and window, so memory stays bounded whatever the limit
(a moving window keeps one timestamp per hit).
"""

from __future__ import annotations

import math
import time

import limits
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from leadtrail.errors import ConfigError, RateLimited


def parse_limit(text: str, setting: str) -> limits.RateLimitItem:
    """``"100/minute"`` → a limit item; a bad value is a configuration error."""
    try:
        return limits.parse(text)
    except ValueError:
        raise ConfigError(f"{setting}: {text!r} is not a rate limit such as '100/minute'") from None


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        if redis_url:
            url = redis_url if redis_url.startswith("async+") else "async+" + redis_url
        else:
            url = "async+memory://"
        try:
            storage = storage_from_string(url)
        except Exception as exc:  # the library raises several types for bad URLs / missing drivers
            raise ConfigError(f"LEADTRAIL_REDIS_URL: cannot use {redis_url!r}: {exc}") from None
        self._limiter = FixedWindowRateLimiter(storage)

    async def hit(self, item: limits.RateLimitItem, *keys: str) -> None:
        """Count one request; raise ``RateLimited`` with Retry-After when over the limit."""
        if await self._limiter.hit(item, *keys):
            return
        stats = await self._limiter.get_window_stats(item, *keys)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"rate limit of {item} exceeded; retry in {retry_after}s",
            code="rate_limited",
            retry_after=retry_after,
        )
