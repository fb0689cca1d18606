"""How a tracking number is shown on the page (pure): the national format of its country."""

from __future__ import annotations

import phonenumbers


def display(e164: str) -> str:
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
