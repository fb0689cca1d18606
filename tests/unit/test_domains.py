from __future__ import annotations

import pytest

from leadtrail.errors import BadRequest
from leadtrail.sites.domains import normalize_domain, origin_allowed, origin_host

GOOD = [
    ("example.com", "example.com"),
    ("https://WWW.Example.com/", "www.example.com"),
    ("http://shop.example.co.uk", "shop.example.co.uk"),
    ("localhost:8080", "localhost:8080"),
    ("127.0.0.1", "127.0.0.1"),
    ("bücher.de", "xn--bcher-kva.de"),
]
BAD = [
    "",
    "  ",
    "not a domain",
    "exa mple.com",
    "-bad.com",
    "example.com/path",
    "https://user@x.com",
    "x.com:99999",
    "a..b",
]


@pytest.mark.parametrize(("raw", "expected"), GOOD)
def test_normalize_domain(raw: str, expected: str) -> None:
    assert normalize_domain(raw) == expected


@pytest.mark.parametrize("raw", BAD)
def test_normalize_domain_rejects(raw: str) -> None:
    with pytest.raises(BadRequest) as info:
        normalize_domain(raw)
    assert info.value.code == "invalid_domain"


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://example.com", "example.com"),
        ("https://example.com:443", "example.com"),
        ("http://localhost:8080", "localhost:8080"),
        ("null", None),
        ("ftp://x.com", None),
        ("http://", None),
    ],
)
def test_origin_host(origin: str, host: str | None) -> None:
    assert origin_host(origin) == host


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://example.com", True),
        ("https://shop.example.com", True),
        ("https://evil-example.com", False),
        ("https://example.com.evil.net", False),
        ("https://partner.io", True),
        ("https://cdn.partner.io", True),
        ("http://127.0.0.1:9000", False),
        ("http://example.com:8080", True),
        ("http://localhost:3000", True),
        ("http://localhost:4000", False),
        ("http://localhost", False),
    ],
)
def test_origin_allowed(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin, "example.com", ["partner.io", "localhost:3000"]) is allowed
