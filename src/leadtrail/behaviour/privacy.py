"""Masking of page text before it is stored (the browser module masks the same way; this is
the second wall). Pure."""

from __future__ import annotations

import re

MAX_TEXT = 100
_EMAIL = re.compile(r"[^\s@<>()\[\],;:\"'&=?#/]+(?:@|%40)[^\s@<>()\[\],;:\"'&=?#/]+\.[A-Za-z]{2,}")
# Card-like numbers and phone numbers: digit runs, possibly split by spaces, dots or dashes.
_DIGITS = re.compile(r"\+?\d(?:[\s.\-()]*\d){3,}")
_LONG_DIGITS = re.compile(r"\+?\d(?:[\s.\-()]|%20|%2B|%2b)*(?:\d(?:[\s.\-()]|%20)*){6,}\d?")


def mask_text(text: str | None, limit: int = MAX_TEXT) -> str | None:
    """Text with emails, runs of 4+ digits (phones, cards, ids) masked, cut to ``limit``."""
    if text is None:
        return None
    text = " ".join(text.split())
    text = _EMAIL.sub("[email]", text)
    text = _DIGITS.sub("[number]", text)
    return text[:limit] or None


def mask_url(url: str) -> str:
    """A page URL with emails masked anywhere and phone-like runs (7+ digits) masked in its
    query and fragment; paths keep their ids so page reports still group."""
    url = _EMAIL.sub("[email]", url)
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return url
    return url[:cut] + _LONG_DIGITS.sub("[number]", url[cut:])


def mask_label(label: str, action: str) -> str:
    """An event label as stored: emails masked everywhere; in JavaScript error messages,
    which quote whatever the page held, digit runs too. (Other labels keep digits: a
    ``phone_call`` label is the business's own number, which call matching needs.)"""
    if action == "js_error":
        return _DIGITS.sub("[number]", _EMAIL.sub("[email]", label))
    return _EMAIL.sub("[email]", label) if "@" in label else label
