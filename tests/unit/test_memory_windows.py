"""The in-memory fixed windows behind rate limits in one process."""

from __future__ import annotations

import limits
import pytest

from leadtrail import ratelimit
from leadtrail.errors import RateLimited
from leadtrail.ratelimit import MemoryWindows, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ratelimit.time, "time", fake)
    return fake


def test_a_window_counts_every_hit_and_ends_after_its_expiry(clock: Clock) -> None:
    windows = MemoryWindows()
    item = limits.parse("3/minute")
    assert [windows.hit(item, "ip", "a") for _ in range(5)] == [True] * 3 + [False] * 2
    assert windows.hit(item, "ip", "b")  # keys are apart
    assert windows.reset_time(item, "ip", "a") == clock.now + 60
    clock.now += 59.9
    assert not windows.test(item, "ip", "a")
    clock.now += 0.2
    assert windows.test(item, "ip", "a") and windows.hit(item, "ip", "a")


def test_test_does_not_count_and_ended_windows_are_dropped(clock: Clock) -> None:
    windows = MemoryWindows()
    item = limits.parse("1/second")
    assert all(windows.test(item, "k") for _ in range(10))
    assert windows.hit(item, "k") and not windows.test(item, "k")
    for n in range(100):
        windows.hit(item, str(n))
    clock.now += MemoryWindows.PRUNE_SECONDS + 1
    windows.hit(item, "fresh")
    assert len(windows._windows) == 1


async def test_the_limiter_answers_429_with_retry_after(clock: Clock) -> None:
    limiter = RateLimiter()
    item = limits.parse("2/minute")
    await limiter.hit(item, "x")
    await limiter.hit(item, "x")
    with pytest.raises(RateLimited) as raised:
        await limiter.hit(item, "x")
    assert raised.value.retry_after == 60
