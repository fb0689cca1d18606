"""Visitor location: trusted proxy headers when configured, else a MaxMind-format ``.mmdb``
file (``LEADTRAIL_GEOIP_DB``), else unknown."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import maxminddb

from leadtrail.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeoInfo:
    country_code: str | None = None
    region: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    def as_meta(self) -> dict[str, Any]:
        return {
            "country": self.country_code or "Unknown",
            "region": self.region or "Unknown",
            "city": self.city or "Unknown",
        }


UNKNOWN = GeoInfo()

#: header names per proxy: country, region, city, latitude, longitude
HEADER_PRESETS: dict[str, tuple[str, str, str, str, str]] = {
    "cloudflare": ("cf-ipcountry", "cf-region", "cf-ipcity", "cf-iplatitude", "cf-iplongitude"),
    "vercel": (
        "x-vercel-ip-country",
        "x-vercel-ip-country-region",
        "x-vercel-ip-city",
        "x-vercel-ip-latitude",
        "x-vercel-ip-longitude",
    ),
    "cloudfront": (
        "cloudfront-viewer-country",
        "cloudfront-viewer-country-region-name",
        "cloudfront-viewer-city",
        "cloudfront-viewer-latitude",
        "cloudfront-viewer-longitude",
    ),
    "generic": ("x-geo-country", "x-geo-region", "x-geo-city", "x-geo-latitude", "x-geo-longitude"),
}


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if -180.0 <= number <= 180.0 else None


def _text(value: Any, limit: int = 100) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = unquote(value).replace("\x00", "").strip()[:limit]
    return cleaned or None


def _country(value: Any) -> str | None:
    text = _text(value, 2)
    # Cloudflare sends XX for unknown and T1 for Tor.
    return text.upper() if text and text.isalpha() and text.upper() not in ("XX",) else None


def from_headers(headers: Mapping[str, str], preset: str) -> GeoInfo | None:
    names = HEADER_PRESETS[preset]
    country = _country(headers.get(names[0]))
    if country is None:
        return None
    return GeoInfo(
        country_code=country,
        region=_text(headers.get(names[1])),
        city=_text(headers.get(names[2])),
        latitude=_float(headers.get(names[3])),
        longitude=_float(headers.get(names[4])),
    )


def from_record(record: Any) -> GeoInfo:
    """A GeoIP2/GeoLite2-City style record → GeoInfo."""
    if not isinstance(record, dict):
        return UNKNOWN
    country = (record.get("country") or record.get("registered_country") or {}).get("iso_code")
    subdivisions = record.get("subdivisions") or [{}]
    region_names = subdivisions[0].get("names") or {}
    city_names = (record.get("city") or {}).get("names") or {}
    location = record.get("location") or {}
    return GeoInfo(
        country_code=_country(country),
        region=_text(region_names.get("en")) or _text(subdivisions[0].get("iso_code")),
        city=_text(city_names.get("en")),
        latitude=_float(location.get("latitude")),
        longitude=_float(location.get("longitude")),
    )


class GeoResolver:
    def __init__(self, header_preset: str, mmdb_path: Path | None) -> None:
        if header_preset != "none" and header_preset not in HEADER_PRESETS:
            raise ConfigError(
                f"LEADTRAIL_GEO_HEADERS must be none or one of {', '.join(HEADER_PRESETS)}"
            )
        self.header_preset = header_preset
        self._reader: maxminddb.Reader | None = None
        if mmdb_path is not None:
            try:
                self._reader = maxminddb.open_database(str(mmdb_path))
            except (OSError, maxminddb.InvalidDatabaseError) as exc:
                raise ConfigError(f"LEADTRAIL_GEOIP_DB: cannot open {mmdb_path}: {exc}") from None
        self._lookup_ip = lru_cache(maxsize=16384)(self._lookup_uncached)

    def _lookup_uncached(self, ip: str) -> GeoInfo:
        assert self._reader is not None
        try:
            return from_record(self._reader.get(ip))
        except ValueError:
            return UNKNOWN

    def lookup(self, ip: str | None, headers: Mapping[str, str], trusted_peer: bool) -> GeoInfo:
        if trusted_peer and self.header_preset != "none":
            found = from_headers(headers, self.header_preset)
            if found is not None:
                return found
        if self._reader is not None and ip:
            return self._lookup_ip(ip)
        return UNKNOWN

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
