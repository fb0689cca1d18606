"""The funnel report's median from per-second counts equals the median of the values."""

from __future__ import annotations

import random
import statistics
from collections import Counter

from leadtrail.funnels.service import _median


def test_median_from_counts_equals_the_median_of_the_values() -> None:
    rng = random.Random(3)
    for size in [1, 2, 3, 4, 7, 10, 101, 1000]:
        values = [rng.randint(-5, 400) for _ in range(size)]
        counts = sorted(Counter(values).items())
        assert _median(counts) == statistics.median(values)


def test_no_values_no_median() -> None:
    assert _median([]) is None
    assert _median([(5, 2), (9, -2)]) is None  # a delta that cancels out
