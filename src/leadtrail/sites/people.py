"""Site settings the people features read from ``sites.settings`` (pure).

Missing or malformed values take the defaults, so a typo in the dashboard never breaks
lead capture; ``docs/settings.md`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

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

    @classmethod
    def from_site(cls, settings: Mapping[str, Any] | None) -> PeopleSettings:
        raw = settings or {}
        region = str(raw.get("default_region") or "").upper()
        currency = str(raw.get("currency") or "").upper()
        half_life = raw.get("attribution_half_life_days")
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
        )
