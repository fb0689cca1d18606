"""Attribution models (pure): how one conversion's credit is shared among the sessions
(touches) before it. Every model returns one credit per touch, each >= 0, summing to 1.

    first_touch       all to the first session
    last_touch        all to the last session
    last_non_direct   all to the last session that did not come direct (else the last)
    linear            equal shares
    time_decay        weight 2^(-age / half_life), age = conversion time - session start
    position_based    40% first, 40% last, 20% shared by the middle (50/50 for two)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

#: channel names that count as direct (the channel grouping's, and older lower-case ones)
DIRECT = frozenset({"Direct", "direct"})
MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based")


@dataclass(frozen=True)
class Touch:
    at: datetime
    channel: str


def first_touch(touches: Sequence[Touch]) -> list[float]:
    return [1.0 if i == 0 else 0.0 for i in range(len(touches))]


def last_touch(touches: Sequence[Touch]) -> list[float]:
    n = len(touches)
    return [1.0 if i == n - 1 else 0.0 for i in range(n)]


def last_non_direct(touches: Sequence[Touch]) -> list[float]:
    for i in range(len(touches) - 1, -1, -1):
        if touches[i].channel not in DIRECT:
            return [1.0 if j == i else 0.0 for j in range(len(touches))]
    return last_touch(touches)


def linear(touches: Sequence[Touch]) -> list[float]:
    n = len(touches)
    return [1.0 / n] * n


def time_decay(
    touches: Sequence[Touch], converted_at: datetime, half_life_days: float
) -> list[float]:
    half_life = max(half_life_days, 1e-6) * 86400.0
    ages = [max((converted_at - t.at).total_seconds(), 0.0) for t in touches]
    youngest = min(ages)
    # Relative to the youngest touch so weights never underflow to all zeros.
    weights = [2.0 ** (-(age - youngest) / half_life) for age in ages]
    total = sum(weights)
    return [w / total for w in weights]


def position_based(touches: Sequence[Touch]) -> list[float]:
    n = len(touches)
    if n == 1:
        return [1.0]
    if n == 2:
        return [0.5, 0.5]
    middle = 0.2 / (n - 2)
    return [0.4] + [middle] * (n - 2) + [0.4]


def credits(
    model: str, touches: Sequence[Touch], converted_at: datetime, half_life_days: float = 7.0
) -> list[float]:
    """Credit per touch (in the given order, oldest first). No touches: no credits."""
    if not touches:
        return []
    simple: dict[str, Callable[[Sequence[Touch]], list[float]]] = {
        "first_touch": first_touch,
        "last_touch": last_touch,
        "last_non_direct": last_non_direct,
        "linear": linear,
        "position_based": position_based,
    }
    if model == "time_decay":
        return time_decay(touches, converted_at, half_life_days)
    if model not in simple:
        raise ValueError(f"unknown attribution model {model!r}")
    return simple[model](touches)
