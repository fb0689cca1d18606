"""Where a visit came from: referrer type and domain, search query, UTM and click ids. Pure.

Types: ``search`` (with the query where the engine still exposes it), ``social``, ``email``,
``paid`` (an ad click id or a paid ``utm_medium``), ``referral``, ``direct`` (no referrer),
``internal`` (the referrer is the site itself). Campaign tags win over the referrer: a
``utm_medium=email`` link opened from a webmail is ``email``, a ``gclid`` is ``paid``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from leadtrail.ingest.first_touch import CLICK_ID_KEYS

UTM_KEYS = ("source", "medium", "campaign", "term", "content")
MAX_VALUE = 500


@dataclass(frozen=True)
class Source:
    referrer_type: str
    referrer_domain: str | None
    search_engine: str | None = None
    search_query: str | None = None


@lru_cache(maxsize=1)
def _sources() -> dict[str, Any]:
    text = resources.files("leadtrail.ingest").joinpath("referrer_sources.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _host(url: str) -> str | None:
    try:
        host = urlsplit(url.strip()).hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.lower().removeprefix("www.")


def _matches(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


#: what follows an engine's name in its country domains: a top-level domain (com, de, an IDN
#: one) or co./com. and a country code
_COUNTRY_SUFFIX = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59}|(?:co|com)\.[a-z]{2})")


def _country_domain(host: str, base: str) -> bool:
    """``base`` under a top-level or country domain (google.com, google.de, google.co.uk,
    google.com.tr), not a subdomain of someone else's (google.evil.com) nor of its own
    (mail.google.com)."""
    return (
        host.startswith(base)
        and host[len(base) : len(base) + 1] == "."
        and _COUNTRY_SUFFIX.fullmatch(host, len(base) + 1) is not None
    )


def query_params(url: str) -> dict[str, str]:
    """First value of each query parameter of a URL (keys lower-cased)."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    if not query:
        return {}
    out: dict[str, str] = {}
    for key, values in parse_qs(query, keep_blank_values=False).items():
        if values and key.lower() not in out:
            out[key.lower()] = values[0][:MAX_VALUE]
    return out


def utm_from(params: dict[str, str]) -> dict[str, str]:
    return {k: params[f"utm_{k}"] for k in UTM_KEYS if params.get(f"utm_{k}")}


def click_ids_from(params: dict[str, str]) -> dict[str, str]:
    return {k: params[k] for k in CLICK_ID_KEYS if params.get(k)}


@lru_cache(maxsize=4096)
def _engine_for(host: str) -> dict[str, Any] | None:
    """The search engine a referrer host belongs to (cached: hosts repeat endlessly)."""
    for engine in _sources()["search"]:
        domain = engine.get("domain")
        base = engine.get("country_domains")
        if (domain and _matches(host, domain)) or (base and _country_domain(host, base)):
            return engine  # type: ignore[no-any-return]
    return None


@lru_cache(maxsize=4096)
def _listed(host: str, kind: str) -> bool:
    return any(_matches(host, d) for d in _sources()[kind])


def _search(host: str, referrer: str) -> tuple[str, str | None] | None:
    engine = _engine_for(host)
    if engine is None:
        return None
    params = query_params(referrer)
    query = next((params[p] for p in engine["params"] if params.get(p)), None)
    return engine["name"], query


def classify(
    referrer: str | None,
    *,
    site_domain: str,
    page_host: str | None = None,
    utm: dict[str, str] | None = None,
    click_ids: dict[str, str] | None = None,
) -> Source:
    """Classify a visit's referrer (the landing page's ``document.referrer``)."""
    utm = utm or {}
    host = _host(referrer) if referrer else None
    data = _sources()
    medium = utm.get("medium", "").lower()
    site = site_domain.lower().split(":")[0].removeprefix("www.")
    if click_ids or medium in data["paid_mediums"]:
        return Source("paid", host)
    if medium in data["email_mediums"]:
        return Source("email", host)
    if host is None:
        if medium in data["social_mediums"]:
            return Source("social", None)
        return Source("direct", None)
    if _matches(host, site) or (
        page_host and _matches(host, page_host.lower().removeprefix("www."))
    ):
        return Source("internal", host)
    found = _search(host, referrer or "")
    if found is not None:
        engine, query = found
        return Source("search", host, engine, query)
    if medium in data["social_mediums"] or _listed(host, "social"):
        return Source("social", host)
    path_host = f"{host}{urlsplit(referrer or '').path}"
    if any(
        _matches(host, d) or path_host.startswith(d) or host.startswith(d + ".")
        for d in data["email"]
    ):
        return Source("email", host)
    return Source("referral", host)


def is_google(referrer: str | None) -> bool:
    """The seeds' "Google referrer" (+5): Google search under any country domain."""
    host = _host(referrer) if referrer else None
    return host is not None and _country_domain(host, "google")
