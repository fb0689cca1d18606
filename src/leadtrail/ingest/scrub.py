"""What leadtrail keeps of a page's URL, title and labels (pure; on the ingest hot path).

A GET form puts whatever a visitor typed into the next page's URL (``?name=…&email=…``), and
sites put tokens, e-mails and order numbers in query strings. So a stored URL keeps only the
query parameters leadtrail needs (``utm_*`` and ad click ids) and those a site allows
(setting ``url_query_allowlist``); everything else is dropped. E-mail addresses and phone
numbers are masked anywhere in stored URLs, titles and labels.

What counts as a phone number: a ``+`` and 8 to 15 digits, or 9 to 15 digits written in groups
(``(419) 555-0134``, ``419.555.0134``). A plain run of digits (``/orders/4195550134``) is
left alone: URLs are full of numeric ids, and without a ``+`` or grouping nothing tells a
phone number from one.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import unquote_plus

MASK_EMAIL = "[email]"
MASK_PHONE = "[phone]"
#: ad click ids leadtrail attributes by (Google, Microsoft, Meta, TikTok, LinkedIn, X, Yandex)
CLICK_IDS = frozenset(
    {
        "gclid",
        "gbraid",
        "wbraid",
        "dclid",
        "msclkid",
        "fbclid",
        "ttclid",
        "li_fat_id",
        "twclid",
        "yclid",
    }
)
# Local parts as people have them (not every character RFC 5322 allows: in a URL, "/" or "="
# before an "@" belong to the path or query, not to the address).
_EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
_SEP = r"(?:[\s.()+-]|%20)"  # "+" is a space in a query string
_PHONE = re.compile(
    rf"(?:\+|%2B)\d(?:{_SEP}{{0,2}}\d){{7,14}}"  # +1 (419) 555-0134, +14195550134
    rf"|\(?\d{{2,4}}\)?{_SEP}{{1,2}}\d{{3,4}}{_SEP}\d{{3,5}}"  # (419) 555-0134, 419.555.0134
)
# Cheap pre-check: most URLs and titles have neither an "@" nor a digit worth a regex run.
_MAYBE = re.compile(r"@|%40|\d{3}")


def mask(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by placeholders."""
    if not _MAYBE.search(text):
        return text
    return _PHONE.sub(MASK_PHONE, _EMAIL.sub(MASK_EMAIL, text))


def _kept_param(part: str, allowed: Collection[str]) -> str | None:
    """A ``name=value`` pair as stored: click ids untouched (an id is never personal data,
    and masking could corrupt one), others masked, unknown ones dropped."""
    name = unquote_plus(part.partition("=")[0]).lower()
    if name in CLICK_IDS:
        return part
    if name.startswith("utm_") or name in allowed:
        return mask(part)
    return None


def scrub_url(url: str, allowed: Collection[str] = ()) -> str:
    """The URL with unknown query parameters removed and personal data masked.

    The query is filtered as written (no re-encoding), so kept parameters stay byte for byte.
    """
    base, hash_mark, fragment = url.partition("#")
    path, _, query = base.partition("?")
    kept = [k for part in query.split("&") if part and (k := _kept_param(part, allowed))]
    stored = mask(path) + ("?" + "&".join(kept) if kept else "")
    return stored + hash_mark + mask(fragment) if hash_mark else stored
