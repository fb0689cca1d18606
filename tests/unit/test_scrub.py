"""URL scrubbing and masking of personal data in stored URLs, titles and labels."""

from __future__ import annotations

import pytest

from leadtrail.ingest.scrub import mask, scrub_url

URLS = [
    # unknown parameters go, marketing parameters stay byte for byte
    (
        "https://s.example/p?name=Ada&utm_source=g&x=1&GCLID=Cj0-12-345-67890",
        "https://s.example/p?utm_source=g&GCLID=Cj0-12-345-67890",
    ),
    (
        "https://s.example/thanks?email=ada%40example.com&phone=%2B1+419+555+0134",
        "https://s.example/thanks",
    ),
    (
        "https://s.example/?ttclid=t&li_fat_id=l&msclkid=m&fbclid=f&wbraid=w&gbraid=g",
        "https://s.example/?ttclid=t&li_fat_id=l&msclkid=m&fbclid=f&wbraid=w&gbraid=g",
    ),
    # the allow-list (lower-cased names), and masking inside kept values and the path
    (
        "https://s.example/p?Ref=a&utm_term=call+%2B1+419+555+0134",
        "https://s.example/p?Ref=a&utm_term=call+[phone]",
    ),
    (
        "https://s.example/u/ada@example.com/orders/4195550134",
        "https://s.example/u/[email]/orders/4195550134",
    ),
    # fragments: kept, masked
    ("https://s.example/#/contact/bob@example.org", "https://s.example/#/contact/[email]"),
    ("https://s.example/p?", "https://s.example/p"),
    ("https://s.example/p?&&", "https://s.example/p"),
]


@pytest.mark.parametrize(("url", "stored"), URLS)
def test_scrub_url(url: str, stored: str) -> None:
    assert scrub_url(url, {"ref"}) == stored


TEXTS = [
    ("Thanks, Ada.Lovelace+news@mail.example.co.uk!", "Thanks, [email]!"),
    ("Call +1 (419) 555-0134 today", "Call [phone] today"),
    ("Call (419) 555-0134", "Call [phone]"),
    ("419.555.0134", "[phone]"),
    ("+44 20 7946 0958", "[phone]"),
    ("%2B1%20419%20555%200134", "[phone]"),
    # not phone numbers: plain id runs, dates, times, versions, prices
    ("Order 4195550134", "Order 4195550134"),
    ("2026-12-04 10:42:15", "2026-12-04 10:42:15"),
    ("v1.2.3 costs 1,299.00", "v1.2.3 costs 1,299.00"),
    ("Pricing - Shop", "Pricing - Shop"),
]


@pytest.mark.parametrize(("text", "stored"), TEXTS)
def test_mask(text: str, stored: str) -> None:
    assert mask(text) == stored
