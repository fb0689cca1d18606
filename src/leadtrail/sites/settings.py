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

from leadtrail.attribution.channels import rules
from leadtrail.attribution.models import MODELS
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
#: what ``dni_sources`` may name: "paid" (every paid channel), "all", or channel groups
DNI_SOURCES = ("paid", "all", *sorted({r.channel for r in rules()} | {"Unassigned"}))
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
    "attribution_model": (f"one of {', '.join(MODELS)}", lambda v: v in MODELS),
    "click_lookback_days": ("whole days from 1 to 540", lambda v: _is_int(v, 1, 540)),
    "dni_sources": (
        f"a list of channels ({', '.join(DNI_SOURCES)})",
        lambda v: isinstance(v, list) and all(x in DNI_SOURCES for x in v),
    ),
    "dni_lease_minutes": ("whole minutes from 1 to 1440", lambda v: _is_int(v, 1, 24 * 60)),
    "dni_default_number": (
        "the page's own phone number (DNI swaps only links to it), or null",
        lambda v: v is None or (isinstance(v, str) and 3 <= len(v) <= 40),
    ),
}
EDITABLE = ("scoring", "respect_dnt", "ip_storage", *PEOPLE)


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
        "attribution_model": people.attribution_model,
        "click_lookback_days": people.click_lookback_days,
        "dni_sources": list(people.dni_sources),
        "dni_lease_minutes": people.dni_lease_minutes,
        "dni_default_number": stored.get("dni_default_number")
        if isinstance(stored.get("dni_default_number"), str)
        else None,
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
