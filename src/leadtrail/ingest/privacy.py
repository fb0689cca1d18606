"""Do-Not-Track and Global Privacy Control, honoured the same way by every endpoint the
tracker calls without a key (``/api/sync``, ``/api/leads``, ``/api/identify``). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: the answer for data dropped on the visitor's request: accepted, nothing stored
IGNORED_DNT = {"status": "ignored", "reason": "dnt"}


def asks_not_to_be_tracked(headers: Mapping[str, str]) -> bool:
    """The browser sends ``DNT: 1`` or ``Sec-GPC: 1`` (lower-case header names)."""
    return headers.get("dnt") == "1" or headers.get("sec-gpc") == "1"


def respects_dnt(settings: Mapping[str, Any]) -> bool:
    """The site setting ``respect_dnt`` (only a real ``true`` turns it on)."""
    return settings.get("respect_dnt") is True
