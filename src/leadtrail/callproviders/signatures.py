"""Webhook signatures (pure).

Twilio: ``X-Twilio-Signature`` is base64(HMAC-SHA1(auth token, URL + every POST parameter
name and value, sorted by name)), the URL exactly as Twilio requested it; Twilio's own
validator also accepts the URL with the default port added or removed, and so do we.

Generic (CallRail-style): ``X-Leadtrail-Signature: sha256=<hex HMAC-SHA256(secret, raw
body)>`` (the bare hex digest is accepted too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

GENERIC_HEADER = "x-leadtrail-signature"
TWILIO_HEADER = "x-twilio-signature"


def twilio_signature(token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    data = url + "".join(k + v for k, v in sorted(params, key=lambda kv: (kv[0], kv[1])))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _port_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    with_port = parts._replace(netloc=f"{host}:{parts.port or default}")
    without = parts._replace(netloc=host)
    variants = [url]
    if parts.port in (None, default):
        variants += [urlunsplit(with_port), urlunsplit(without)]
    return variants


def twilio_valid(token: str, url: str, params: list[tuple[str, str]], signature: str) -> bool:
    if not signature:
        return False
    return any(
        hmac.compare_digest(twilio_signature(token, candidate, params), signature)
        for candidate in _port_variants(url)
    )


def generic_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def generic_valid(secret: str, body: bytes, header: str) -> bool:
    given = header.strip()
    if not given:
        return False
    if not given.startswith("sha256="):
        given = "sha256=" + given
    return hmac.compare_digest(generic_signature(secret, body), given.lower())
