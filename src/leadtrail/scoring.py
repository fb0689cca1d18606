"""Lead scoring: the seeds' rules (seed 004 §4, seed 003 §3), per event, capped at 100.

Pure: no I/O. The session's score is the highest score of its events.

    conversion category        +50
    interaction category       +10
    scroll_depth >= 90         +20   (else >= 50: +10; the higher tier replaces the lower)
    hover_intent               +15
    Google referrer            +5    (the visit came from a Google property)
    returning ad user          +25   (this fingerprint had a click id in an earlier session)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MAX_SCORE = 100


@dataclass(frozen=True)
class ScoringWeights:
    """Points per rule; a site may override any of them in ``settings.scoring``."""

    conversion: int = 50
    interaction: int = 10
    scroll_50: int = 10
    scroll_90: int = 20
    hover_intent: int = 15
    google_referrer: int = 5
    returning_ad_user: int = 25

    @classmethod
    def from_settings(cls, value: Mapping[str, Any] | None) -> ScoringWeights:
        """Weights from a site's ``settings.scoring``; unknown keys and bad values are ignored."""
        if not isinstance(value, Mapping):
            return cls()
        known = {f.name for f in fields(cls)}
        picked = {
            k: int(v)
            for k, v in value.items()
            if k in known
            and isinstance(v, int | float)
            and not isinstance(v, bool)
            and 0 <= v <= MAX_SCORE
        }
        return cls(**picked)


DEFAULT_WEIGHTS = ScoringWeights()


def score_event(
    category: str,
    action: str,
    value: float | None,
    *,
    google_referrer: bool,
    returning_ad_user: bool,
    weights: ScoringWeights = DEFAULT_WEIGHTS,
) -> int:
    """Score of one event, 0..100."""
    score = 0
    if category == "conversion":
        score += weights.conversion
    elif category == "interaction":
        score += weights.interaction
    if action == "scroll_depth" and value is not None:
        if value >= 90:
            score += weights.scroll_90
        elif value >= 50:
            score += weights.scroll_50
    if action == "hover_intent":
        score += weights.hover_intent
    if google_referrer:
        score += weights.google_referrer
    if returning_ad_user:
        score += weights.returning_ad_user
    return min(score, MAX_SCORE)


def explain(
    category: str,
    action: str,
    value: float | None,
    *,
    google_referrer: bool,
    returning_ad_user: bool,
    weights: ScoringWeights = DEFAULT_WEIGHTS,
) -> list[tuple[str, int]]:
    """Why an event scored what ``score_event`` gives it: ``(rule, points)`` for each rule
    that applied, in the seeds' order (the total is capped at 100 like the score)."""
    rules: list[tuple[str, int]] = []
    if category == "conversion":
        rules.append(("conversion", weights.conversion))
    elif category == "interaction":
        rules.append(("interaction", weights.interaction))
    if action == "scroll_depth" and value is not None:
        if value >= 90:
            rules.append(("scroll_90", weights.scroll_90))
        elif value >= 50:
            rules.append(("scroll_50", weights.scroll_50))
    if action == "hover_intent":
        rules.append(("hover_intent", weights.hover_intent))
    if google_referrer:
        rules.append(("google_referrer", weights.google_referrer))
    if returning_ad_user:
        rules.append(("returning_ad_user", weights.returning_ad_user))
    return rules


def intelligence_summary(score: int) -> str:
    """The seed's tiers (seed 003 §3.2); the dashboard colours 31-60 blue."""
    if score >= 81:
        return "💎 Premium Opportunity"
    if score >= 61:
        return "🔥 Hot Lead"
    return "Standard Traffic"
