"""Per-site options kept in ``sites.settings`` (jsonb): lead-score weights and privacy
(read by ingest), and the people options of ``leadtrail.sites.people`` (currency, phone
region, matching windows, attribution half-life). The dashboard edits them. Pure: no I/O.

Shape (contracts.md); missing keys take these defaults::

    {"scoring": {"conversion": 50, "interaction": 10, "scroll_50": 10, "scroll_90": 20,
                 "hover_intent": 15, "google_referrer": 5, "returning_ad_user": 25},
     "respect_dnt": false,
     "ip_storage": "full"}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from leadtrail.behaviour.settings import BehaviourSettings
from leadtrail.behaviour.settings import patch as behaviour_patch
from leadtrail.errors import BadRequest
from leadtrail.sites.people import PeopleSettings

DEFAULT_SCORING: dict[str, int] = {
    "conversion": 50,
    "interaction": 10,
    "scroll_50": 10,
    "scroll_90": 20,
    "hover_intent": 15,
    "google_referrer": 5,
    "returning_ad_user": 25,
}
IP_STORAGE = ("full", "truncated", "none")
#: people, leads, calls and attribution options (``leadtrail.sites.people``): name -> check
PEOPLE: dict[str, tuple[str, Callable[[object], bool]]] = {
    "default_region": (
        "a two-letter ISO 3166 region such as US, or null",
        lambda v: v is None or (isinstance(v, str) and re.fullmatch(r"[A-Za-z]{2}", v) is not None),
    ),
    "currency": (
        "a three-letter ISO 4217 code such as USD",
        lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z]{3}", v) is not None,
    ),
    "lead_lookback_minutes": (
        "whole minutes from 1 to 10080",
        lambda v: _is_int(v, 1, 7 * 24 * 60),
    ),
    "call_window_minutes": ("whole minutes from 1 to 1440", lambda v: _is_int(v, 1, 24 * 60)),
    "attribution_half_life_days": (
        "days, more than 0 and at most 365",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 < v <= 365,
    ),
}
EDITABLE = ("scoring", "respect_dnt", "ip_storage", "behaviour", *PEOPLE)


def _is_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def effective(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored settings with defaults filled in (unknown keys kept as they are)."""
    people = PeopleSettings.from_site(stored)
    scoring = dict(DEFAULT_SCORING)
    raw_scoring = stored.get("scoring")
    if isinstance(raw_scoring, Mapping):
        scoring.update(
            {k: v for k, v in raw_scoring.items() if k in DEFAULT_SCORING and _is_weight(v)}
        )
    ip_storage = stored.get("ip_storage")
    return {
        **stored,
        "scoring": scoring,
        "respect_dnt": stored.get("respect_dnt") is True,
        "ip_storage": ip_storage if ip_storage in IP_STORAGE else "full",
        "default_region": people.default_region,
        "currency": people.currency,
        "lead_lookback_minutes": people.lead_lookback_minutes,
        "call_window_minutes": people.call_window_minutes,
        "attribution_half_life_days": people.attribution_half_life_days,
        "behaviour": BehaviourSettings.from_site(stored).as_json(),
    }


def _is_weight(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100


def apply_patch(stored: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` with the editable keys of ``patch`` applied; weights are merged key by key.
    Raises ``BadRequest`` (code ``invalid_setting``) naming the offending field."""
    result = dict(stored)
    for key in patch:
        if key not in EDITABLE:
            raise BadRequest(
                f"unknown setting {key!r}; editable: {', '.join(EDITABLE)}",
                code="invalid_setting",
                field=f"settings.{key}",
            )
    if "scoring" in patch:
        weights = patch["scoring"]
        if not isinstance(weights, Mapping):
            raise BadRequest(
                "scoring is an object of weights", code="invalid_setting", field="settings.scoring"
            )
        merged = (
            dict(result.get("scoring") or {}) if isinstance(result.get("scoring"), Mapping) else {}
        )
        for name, weight in weights.items():
            where = f"settings.scoring.{name}"
            if name not in DEFAULT_SCORING:
                raise BadRequest(
                    f"unknown weight {name!r}; known: {', '.join(DEFAULT_SCORING)}",
                    code="invalid_setting",
                    field=where,
                )
            if not _is_weight(weight):
                raise BadRequest(
                    "weights are whole numbers from 0 to 100", code="invalid_setting", field=where
                )
            merged[name] = weight
        result["scoring"] = merged
    if "respect_dnt" in patch:
        if not isinstance(patch["respect_dnt"], bool):
            raise BadRequest(
                "respect_dnt is true or false", code="invalid_setting", field="settings.respect_dnt"
            )
        result["respect_dnt"] = patch["respect_dnt"]
    if "ip_storage" in patch:
        if patch["ip_storage"] not in IP_STORAGE:
            raise BadRequest(
                f"ip_storage is one of {', '.join(IP_STORAGE)}",
                code="invalid_setting",
                field="settings.ip_storage",
            )
        result["ip_storage"] = patch["ip_storage"]
    if "behaviour" in patch:
        result["behaviour"] = behaviour_patch(result, patch["behaviour"])
    for key, (expected, valid) in PEOPLE.items():
        if key not in patch:
            continue
        value = patch[key]
        if not valid(value):
            raise BadRequest(
                f"{key} is {expected}", code="invalid_setting", field=f"settings.{key}"
            )
        if key in ("default_region", "currency") and value is not None:
            value = str(value).upper()
        result[key] = value
    return result
