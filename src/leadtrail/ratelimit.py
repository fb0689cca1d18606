"""Rate limits with the ``limits`` library: in memory by default, in Redis when
``LEADTRAIL_REDIS_URL`` is set (shared by several leadtrail processes).

Fixed windows: one counter per key and window, so memory stays bounded whatever the limit
(a moving window keeps one timestamp per hit). In memory the counters are a plain dict
(``MemoryWindows``): the library's asyncio flavour takes an ``asyncio.Lock`` per hit and its
memory storage runs expiry timers, both measured as a noticeable share of a single-event
``/api/sync`` request; nothing awaits between reading and adding, so a dict is just as
safe on one event loop.

Used by the ingest path, the API's per-IP limits and the login throttle; it lives below
``web`` because domain code counts with it too.
"""

from __future__ import annotations

import math
import time

import limits
from limits.aio import strategies as aio_strategies
from limits.storage import storage_from_string

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


class MemoryWindows:
    """Fixed windows of one process in a dict: a window starts at its key's first hit and
    ends ``expiry`` seconds later; ended windows are dropped every few seconds.

    ``limits``' own memory storage schedules expiry on a timer thread and took ~7 % of a
    single-event ``/api/sync`` request (py-spy); this is a dict lookup and an add. Same
    semantics as ``limits``' fixed window: a hit counts even when over the limit.
    """

    PRUNE_SECONDS = 5.0

    def __init__(self) -> None:
        #: (amount, expiry, *keys) -> [window end (epoch seconds), hits]
        self._windows: dict[tuple[object, ...], list[float]] = {}
        self._prune_at = 0.0

    def _window(self, item: limits.RateLimitItem, keys: tuple[str, ...]) -> list[float]:
        now = time.time()
        if now >= self._prune_at:
            self._prune_at = now + self.PRUNE_SECONDS
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
        key = (item.amount, item.get_expiry(), *keys)
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            window = self._windows[key] = [now + item.get_expiry(), 0]
        return window

    def hit(self, item: limits.RateLimitItem, *keys: str) -> bool:
        """Count one hit; whether it is within the limit."""
        window = self._window(item, keys)
        window[1] += 1
        return window[1] <= item.amount

    def test(self, item: limits.RateLimitItem, *keys: str) -> bool:
        """Whether one more hit would be within the limit (nothing counted)."""
        return self._window(item, keys)[1] < item.amount

    def reset_time(self, item: limits.RateLimitItem, *keys: str) -> float:
        return self._window(item, keys)[0]


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self._memory: MemoryWindows | None = None
        self._shared: aio_strategies.FixedWindowRateLimiter | None = None
        if not redis_url:
            self._memory = MemoryWindows()
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
            reset = self._memory.reset_time(item, *keys)
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
                reset = self._memory.reset_time(item, *keys)
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
