"""Which marketing channel a session came from (pure), from its click ids, UTM tags and
the referrer type ingest computed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PAID_MEDIUMS = frozenset(
    {
        "cpc",
        "ppc",
        "paid",
        "paidsearch",
        "paid_search",
        "cpm",
        "cpv",
        "display",
        "paid_social",
        "paidsocial",
    }
)
SOCIAL_MEDIUMS = frozenset(
    {"social", "social-network", "social_network", "paid_social", "paidsocial"}
)


def channel(session: Mapping[str, Any]) -> str:
    """``paid_search``, ``paid_social``, ``email``, ``organic_search``, ``organic_social``,
    ``referral`` or ``direct``."""
    medium = (session.get("utm_medium") or "").strip().lower()
    referrer = (session.get("referrer_type") or "").strip().lower()
    if session.get("fbclid") or (
        medium in PAID_MEDIUMS and (medium in SOCIAL_MEDIUMS or referrer == "social")
    ):
        return "paid_social"
    if (
        session.get("gclid")
        or session.get("wbraid")
        or session.get("gbraid")
        or session.get("msclkid")
    ):
        return "paid_search"
    if medium in PAID_MEDIUMS or referrer == "paid":
        return "paid_search"
    if medium == "email" or referrer == "email":
        return "email"
    if referrer == "search" or medium == "organic":
        return "organic_search"
    if referrer == "social" or medium in SOCIAL_MEDIUMS:
        return "organic_social"
    if referrer == "referral" or medium == "referral":
        return "referral"
    if session.get("utm_source"):
        return "referral"
    return "direct"


def source(session: Mapping[str, Any]) -> str:
    value = session.get("utm_source") or session.get("referrer_domain")
    if value:
        return str(value).lower()
    if session.get("gclid") or session.get("wbraid") or session.get("gbraid"):
        return "google"
    return "(direct)"


def campaign(session: Mapping[str, Any]) -> str:
    return str(session.get("utm_campaign") or "(none)")
