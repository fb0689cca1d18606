"""Rate limits with the ``limits`` library: in memory by default, in Redis when
``LEADTRAIL_REDIS_URL`` is set (shared by several leadtrail processes).

Fixed windows: one counter per key and window, so memory stays bounded whatever the limit
(a moving window keeps one timestamp per hit). In memory the library's synchronous limiter
is used: its asyncio flavour takes an ``asyncio.Lock`` per hit, measured at ~15 % of a
single-event ``/api/sync`` request against ~2 us for the synchronous one (nothing awaits
in between, so it is just as safe on one event loop).

Used by the ingest path, the API's per-IP limits and the login throttle; it lives below
``web`` because domain code counts with it too.
"""

from __future__ import annotations

import math
import time

import limits
from limits import strategies
from limits.aio import strategies as aio_strategies
from limits.storage import MemoryStorage, storage_from_string

from leadtrail.errors import ConfigError, RateLimited


def parse_limit(text: str, setting: str) -> limits.RateLimitItem:
    """``"100/minute"`` → a limit item; a bad value is a configuration error."""
    try:
        return limits.parse(text)
    except ValueError:
        raise ConfigError(f"{setting}: {text!r} is not a rate limit such as '100/minute'") from None


def parse_limits(text: str, setting: str) -> list[limits.RateLimitItem]:
    """``"5/minute;20/hour"`` → several windows (stepped backoff: the longer windows bite
    once the shorter ones have been used up again and again)."""
    try:
        items = limits.parse_many(text)
    except ValueError:
        items = []
    if not items:
        raise ConfigError(f"{setting}: {text!r} is not a rate limit such as '5/minute;20/hour'")
    return items


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._memory: strategies.FixedWindowRateLimiter | None = None
        self._shared: aio_strategies.FixedWindowRateLimiter | None = None
        if not redis_url:
            self._memory = strategies.FixedWindowRateLimiter(MemoryStorage())
            return
        url = redis_url if redis_url.startswith("async+") else "async+" + redis_url
        try:
            storage = storage_from_string(url)
        except Exception as exc:  # the library raises several types for bad URLs / missing drivers
            raise ConfigError(f"LEADTRAIL_REDIS_URL: cannot use {redis_url!r}: {exc}") from None
        self._shared = aio_strategies.FixedWindowRateLimiter(storage)

    async def hit(self, item: limits.RateLimitItem, *keys: str) -> None:
        """Count one request; raise ``RateLimited`` with Retry-After when over the limit."""
        if self._memory is not None:
            if self._memory.hit(item, *keys):
                return
            reset = self._memory.get_window_stats(item, *keys).reset_time
        else:
            assert self._shared is not None
            if await self._shared.hit(item, *keys):
                return
            reset = (await self._shared.get_window_stats(item, *keys)).reset_time
        raise _limited(item, reset)

    async def check(self, items: list[limits.RateLimitItem], *keys: str) -> None:
        """Raise ``RateLimited`` if any window is used up, without counting this request;
        Retry-After is the wait until every exhausted window has reset."""
        worst: tuple[limits.RateLimitItem, float] | None = None
        for item in items:
            if self._memory is not None:
                if self._memory.test(item, *keys):
                    continue
                reset = self._memory.get_window_stats(item, *keys).reset_time
            else:
                assert self._shared is not None
                if await self._shared.test(item, *keys):
                    continue
                reset = (await self._shared.get_window_stats(item, *keys)).reset_time
            if worst is None or reset > worst[1]:
                worst = (item, reset)
        if worst is not None:
            raise _limited(*worst)

    async def count(self, items: list[limits.RateLimitItem], *keys: str) -> None:
        """Count one hit in every window, whether or not it is used up."""
        for item in items:
            if self._memory is not None:
                self._memory.hit(item, *keys)
            else:
                assert self._shared is not None
                await self._shared.hit(item, *keys)


def _limited(item: limits.RateLimitItem, reset: float) -> RateLimited:
    retry_after = max(1, math.ceil(reset - time.time()))
    return RateLimited(
        f"rate limit of {item} exceeded; retry in {retry_after}s",
        code="rate_limited",
        retry_after=retry_after,
    )
