"""Deterministic assignment: which variant a visitor sees, the same in Python and in the
browser module ``static/modules/experiments.js`` (the two are kept in step by the browser test
tests/e2e/test_experiments_browser.py and the vectors in tests/unit/test_experiment_assignment.py).

The visitor's unit (the tracker's fingerprint, or a person id) and the test key are hashed
with 32-bit FNV-1a over UTF-8 followed by MurmurHash3's finaliser (FNV alone spreads similar
strings poorly in the low digits). Two independent draws: one decides whether the visitor is
in the test at all (traffic allocation), the other picks the variant from integer bounds in
basis points, so no floating point is compared on either side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SCALE = 10_000
_M32 = 0xFFFFFFFF


def hash32(text: str) -> int:
    """FNV-1a (32 bit) of the UTF-8 bytes, then the Murmur3 fmix32 avalanche."""
    h = 2166136261
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 16777619) & _M32
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    h ^= h >> 16
    return h


def bounds(weights: Sequence[float]) -> list[int]:
    """Cumulative upper bounds in basis points; the last is always SCALE."""
    total = float(sum(weights))
    if total <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights must be non-negative with a positive sum")
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(round(acc / total * SCALE))
    out[-1] = SCALE
    return out


def in_traffic(key: str, unit: str, traffic: float) -> bool:
    """Whether the unit takes part at all (``traffic`` 0..1 of visitors)."""
    return hash32(f"{key}:in:{unit}") % SCALE < round(traffic * SCALE)


def pick(key: str, unit: str, upper: Sequence[int]) -> int:
    """Index of the variant whose bound range holds the unit's bucket."""
    bucket = hash32(f"{key}:{unit}") % SCALE
    for i, bound in enumerate(upper):
        if bucket < bound:
            return i
    return len(upper) - 1


@dataclass(frozen=True)
class Context:
    """What targeting looks at; None means unknown (a rule on it then does not match)."""

    page: str | None = None
    device: str | None = None
    channel: str | None = None
    returning: bool | None = None


DEVICES = ("desktop", "mobile", "tablet")
CHANNELS = (
    "paid_search",
    "paid_social",
    "email",
    "organic_search",
    "organic_social",
    "referral",
    "direct",
)
VISITORS = ("all", "new", "returning")


def glob_match(pattern: str, path: str) -> bool:
    """``*`` matches any run of characters; everything else literally; whole path."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, path) is not None


def eligible(targeting: Mapping[str, Any], ctx: Context) -> bool:
    """Whether a visitor in ``ctx`` matches the test's targeting (empty rules match all)."""
    pages = targeting.get("pages") or []
    if pages and (ctx.page is None or not any(glob_match(p, ctx.page) for p in pages)):
        return False
    devices = targeting.get("devices") or []
    if devices and ctx.device not in devices:
        return False
    channels = targeting.get("channels") or []
    if channels and ctx.channel not in channels:
        return False
    visitors = targeting.get("visitors") or "all"
    if visitors != "all" and (ctx.returning is None or ctx.returning != (visitors == "returning")):
        return False
    return True


def assign(
    key: str,
    unit: str,
    variants: Sequence[str],
    upper: Sequence[int],
    traffic: float,
    targeting: Mapping[str, Any],
    ctx: Context,
) -> str | None:
    """The variant name for ``unit``, or None when it is not in the test."""
    if not eligible(targeting, ctx) or not in_traffic(key, unit, traffic):
        return None
    return variants[pick(key, unit, upper)]
