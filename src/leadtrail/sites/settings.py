"""Per-site options kept in ``sites.settings`` (jsonb): lead-score weights and privacy
(read by ingest), and the people options of ``leadtrail.sites.people`` (currency, phone
region, matching windows, attribution half-life). The dashboard edits them. Pure: no I/O.

Shape (contracts.md); missing keys take these defaults::

    {"scoring": {"conversion": 50, "interaction": 10, "scroll_50": 10, "scroll_90": 20,
                 "hover_intent": 15, "google_referrer": 5, "returning_ad_user": 25},
     "respect_dnt": false,
     "ip_storage": "full",
     "url_query_allowlist": []}
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from leadtrail.attribution.channels import rules
from leadtrail.attribution.models import MODELS
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
_PARAM_NAME = re.compile(r"[A-Za-z0-9_.\[\]-]{1,64}")
#: privacy options read by ingest (``leadtrail.ingest.scrub``): name -> (expected, check)
PRIVACY: dict[str, tuple[str, Callable[[object], bool]]] = {
    "retention_months": (
        "whole months from 1 to 120, or null to keep everything",
        lambda v: v is None or _is_int(v, 1, 120),
    ),
    "retention_archive": ("true or false", lambda v: isinstance(v, bool)),
    "url_query_allowlist": (
        "a list of at most 50 query parameter names (letters, digits, _ . - [ ])",
        lambda v: (
            isinstance(v, list)
            and len(v) <= 50
            and all(isinstance(x, str) and _PARAM_NAME.fullmatch(x) for x in v)
        ),
    ),
}
EDITABLE = ("scoring", "respect_dnt", "ip_storage", "behaviour", *PEOPLE, *PRIVACY)


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
        "url_query_allowlist": url_query_allowlist(stored),
        "retention_months": stored.get("retention_months")
        if PRIVACY["retention_months"][1](stored.get("retention_months"))
        else None,
        "retention_archive": stored.get("retention_archive") is True,
        "attribution_model": people.attribution_model,
        "click_lookback_days": people.click_lookback_days,
        "dni_sources": list(people.dni_sources),
        "dni_lease_minutes": people.dni_lease_minutes,
        "dni_default_number": stored.get("dni_default_number")
        if isinstance(stored.get("dni_default_number"), str)
        else None,
        "behaviour": BehaviourSettings.from_site(stored).as_json(),
    }


def url_query_allowlist(stored: Mapping[str, Any]) -> list[str]:
    """Query parameters the site keeps in stored URLs besides utm_* and click ids."""
    value = stored.get("url_query_allowlist")
    if not isinstance(value, list) or not PRIVACY["url_query_allowlist"][1](value):
        return []
    return [str(v).lower() for v in value]


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
    for key, (expected, valid) in {**PEOPLE, **PRIVACY}.items():
        if key not in patch:
            continue
        value = patch[key]
        if not valid(value):
            raise BadRequest(
                f"{key} is {expected}", code="invalid_setting", field=f"settings.{key}"
            )
        if key in ("default_region", "currency") and value is not None:
            value = str(value).upper()
        if key == "url_query_allowlist":
            value = sorted({str(v).lower() for v in value})
        result[key] = value
    return result
