"""Identifiers in one canonical spelling (pure): emails lower-cased, phones in E.164.

A lead typed as ``(419) 555-0134`` and a call from ``+14195550134`` must meet in the
identity graph, so every identifier passes through here before it is stored or looked up.
"""

from __future__ import annotations

import re

import phonenumbers

from leadtrail.errors import BadRequest

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_EXTERNAL_ID = re.compile(r"^[\x21-\x7e]{1,200}$")
_REGION = re.compile(r"^[A-Z]{2}$")


def email(value: str, *, field: str = "email") -> str:
    """``  John.Doe@Example.COM `` -> ``john.doe@example.com``.

    Dots and ``+tags`` are kept: they are different mailboxes at most providers.
    """
    text = value.strip().lower()
    if len(text) > 254 or not _EMAIL.match(text):
        raise BadRequest(f"{value!r} is not an email address", code="invalid_email", field=field)
    return text


def region(value: str | None) -> str | None:
    """A site's default phone region (ISO 3166 alpha-2, e.g. ``US``), or None."""
    if value is None:
        return None
    text = str(value).strip().upper()
    return text if _REGION.match(text) else None


def phone(value: str, default_region: str | None = None, *, field: str = "phone") -> str:
    """Any way people write a phone number -> E.164 (``+14195550134``).

    Numbers without a country code need the site's ``default_region``.
    """
    text = value.strip()
    if not text or len(text) > 40:
        raise BadRequest(f"{value!r} is not a phone number", code="invalid_phone", field=field)
    try:
        parsed = phonenumbers.parse(text, region(default_region))
    except phonenumbers.NumberParseException:
        hint = (
            ""
            if text.startswith("+")
            else " (add the country code or set the site's default_region)"
        )
        raise BadRequest(
            f"{value!r} is not a phone number{hint}", code="invalid_phone", field=field
        ) from None
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise BadRequest(
            f"{value!r} is not a valid phone number", code="invalid_phone", field=field
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def external_id(value: str, *, field: str = "external_id") -> str:
    """An id from another system (CRM, login, another tracker): printable, no spaces."""
    text = value.strip()
    if not _EXTERNAL_ID.match(text):
        raise BadRequest(
            "external ids are 1-200 printable characters without spaces",
            code="invalid_external_id",
            field=field,
        )
    return text


def fingerprint(value: str, *, field: str = "fingerprint") -> str:
    text = value.strip()
    if not 4 <= len(text) <= 128 or not text.isprintable() or " " in text:
        raise BadRequest(
            "a fingerprint is 4-128 printable characters", code="invalid_fingerprint", field=field
        )
    return text
