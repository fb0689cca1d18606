"""Site settings the people features read from ``sites.settings`` (pure).

Missing or malformed values take the defaults, so a typo in the dashboard never breaks
lead capture; ``docs/settings.md`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadtrail.attribution.models import MODELS
from leadtrail.scoring import DEFAULT_WEIGHTS, ScoringWeights

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_REGION = re.compile(r"^[A-Z]{2}$")


def _int(value: Any, default: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(min(max(value, low), high))


@dataclass(frozen=True)
class PeopleSettings:
    #: region for phone numbers written without a country code (ISO 3166, e.g. "US")
    default_region: str | None = None
    #: currency of ad spend and conversion values (ISO 4217)
    currency: str = "USD"
    #: a lead without a session id goes to the person's latest session within this window
    lead_lookback_minutes: int = 60
    #: a call matches sessions of its fingerprint active within this window (seeds: 30)
    call_window_minutes: int = 30
    #: half-life of the time-decay attribution model
    attribution_half_life_days: float = 7.0
    #: the model every report, page and stored credit uses (``model=`` overrides per request)
    attribution_model: str = "last_non_direct"
    #: how far back from a conversion a click (or any touch) can earn its credit
    click_lookback_days: int = 90
    #: channels whose visitors see a tracking number from the pool ("paid": every paid channel)
    dni_sources: tuple[str, ...] = ("paid",)
    #: how long a tracking number stays leased to one session
    dni_lease_minutes: int = 30
    #: lead-score weights (a call or lead scores as a conversion of its session)
    weights: ScoringWeights = DEFAULT_WEIGHTS

    @classmethod
    def from_site(cls, settings: Mapping[str, Any] | None) -> PeopleSettings:
        raw = settings or {}
        region = str(raw.get("default_region") or "").upper()
        currency = str(raw.get("currency") or "").upper()
        half_life = raw.get("attribution_half_life_days")
        model = raw.get("attribution_model")
        sources = raw.get("dni_sources")
        return cls(
            default_region=region if _REGION.match(region) else None,
            currency=currency if _CURRENCY.match(currency) else "USD",
            lead_lookback_minutes=_int(raw.get("lead_lookback_minutes"), 60, 1, 7 * 24 * 60),
            call_window_minutes=_int(raw.get("call_window_minutes"), 30, 1, 24 * 60),
            attribution_half_life_days=float(half_life)
            if isinstance(half_life, int | float)
            and not isinstance(half_life, bool)
            and 0 < half_life <= 365
            else 7.0,
            attribution_model=model if model in MODELS else "last_non_direct",
            click_lookback_days=_int(raw.get("click_lookback_days"), 90, 1, 540),
            dni_sources=tuple(str(x) for x in sources)
            if isinstance(sources, list) and all(isinstance(x, str) for x in sources)
            else ("paid",),
            dni_lease_minutes=_int(raw.get("dni_lease_minutes"), 30, 1, 24 * 60),
            weights=ScoringWeights.from_settings(raw.get("scoring")),
        )
