"""Assignment is deterministic, follows the configured split, and respects targeting."""

from __future__ import annotations

from collections import Counter

import pytest

from leadtrail.experiments import assignment
from leadtrail.experiments.assignment import Context, assign, bounds, eligible
from leadtrail.experiments.frequentist import SRM_THRESHOLD, srm_check

# Fixed vectors: the browser module (static/modules/experiments.js) must give the same.
VECTORS = [("", 2872998923), ("hero:abc", 3552498092), ("çağ📞", 4101086309)]


@pytest.mark.parametrize(("text", "expected"), VECTORS)
def test_hash_vectors(text: str, expected: int) -> None:
    assert assignment.hash32(text) == expected


@pytest.mark.parametrize("weights", [[1, 1], [1, 1, 1], [0.2, 0.3, 0.5]])
def test_split_over_100k_visitors_passes_the_srm_check(weights: list[float]) -> None:
    names = [f"v{i}" for i in range(len(weights))]
    upper = bounds(weights)
    counts = Counter(
        assign("hero-test", f"fp{i:x}", names, upper, 1.0, {}, Context()) for i in range(100_000)
    )
    observed = [counts[n] for n in names]
    _, p = srm_check(observed, weights)
    assert p > SRM_THRESHOLD, (observed, p)


def test_traffic_allocation_keeps_a_share_out() -> None:
    upper = bounds([1, 1])
    got = [assign("t", f"u{i}", ["A", "B"], upper, 0.3, {}, Context()) for i in range(20_000)]
    share = sum(g is not None for g in got) / len(got)
    assert 0.28 < share < 0.32
    # and a unit in the 30 % stays in when traffic grows to 60 %
    wider = [assign("t", f"u{i}", ["A", "B"], upper, 0.6, {}, Context()) for i in range(20_000)]
    assert all(w == g for g, w in zip(got, wider, strict=True) if g is not None)


def test_bounds_are_integer_basis_points() -> None:
    assert bounds([1, 1]) == [5000, 10000]
    assert bounds([0.2, 0.3, 0.5]) == [2000, 5000, 10000]
    with pytest.raises(ValueError):
        bounds([0, 0])


def test_targeting() -> None:
    rules = {"pages": ["/pricing*"], "devices": ["mobile"], "visitors": "new"}
    ok = Context(page="/pricing/plans", device="mobile", returning=False)
    assert eligible(rules, ok)
    assert not eligible(rules, Context(page="/about", device="mobile", returning=False))
    assert not eligible(rules, Context(page="/pricing", device="desktop", returning=False))
    assert not eligible(rules, Context(page="/pricing", device="mobile", returning=True))
    assert not eligible({"channels": ["paid_search"]}, Context(channel="direct"))
    assert eligible({}, Context())
    assert assignment.glob_match("/a.b*", "/a.b/c") and not assignment.glob_match("/a.b", "/axb")
