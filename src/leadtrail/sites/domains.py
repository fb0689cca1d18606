"""Pure rules for site domains and browser origins (no I/O)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from leadtrail.errors import BadRequest

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(value: str, *, field: str = "domain") -> str:
    """``https://WWW.Example.com/path`` -> ``www.example.com``; ports are kept.

    Raises ``BadRequest`` for anything that is not a host name or IP address.
    """
    text = value.strip().lower()
    if not text:
        raise BadRequest("a domain is required", code="invalid_domain", field=field)
    parsed = urlsplit(text if "//" in text else f"//{text}")
    host = parsed.hostname or ""
    try:
        port = parsed.port
    except ValueError:
        raise BadRequest(
            f"{value!r} has an invalid port", code="invalid_domain", field=field
        ) from None
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise BadRequest(
            f"{value!r} is not a valid domain", code="invalid_domain", field=field
        ) from None
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise BadRequest(f"{value!r} is not a valid domain", code="invalid_domain", field=field)
    if parsed.path not in ("", "/") or parsed.query or parsed.username:
        raise BadRequest(
            f"{value!r} is not a bare domain (no path, query or user)",
            code="invalid_domain",
            field=field,
        )
    return f"{host}:{port}" if port else host


def origin_host(origin: str) -> str | None:
    """Host (with a non-default port) of an ``Origin`` header, or None if unusable."""
    try:
        parsed = urlsplit(origin.strip().lower())
        port = parsed.port
    except ValueError:
        return None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return None
    default = 443 if parsed.scheme == "https" else 80
    return parsed.hostname if port in (None, default) else f"{parsed.hostname}:{port}"


def origin_allowed(origin: str, domain: str, allowed: list[str] | tuple[str, ...]) -> bool:
    """Whether a browser origin belongs to the site: its domain or an allowed origin,
    subdomains included (``shop.example.com`` is allowed by ``example.com``). A configured
    domain without a port allows any port; with one, only that port."""
    found = origin_host(origin)
    if found is None:
        return False
    host, _, port = found.partition(":")
    for candidate in (domain, *allowed):
        base, _, base_port = candidate.lower().partition(":")
        if base_port and base_port != (port or _default_port(origin)):
            continue
        if host == base or host.endswith("." + base):
            return True
    return False


def _default_port(origin: str) -> str:
    return "443" if origin.lower().startswith("https:") else "80"
