"""From a tracker event sent by the behaviour module (action ``bx:<type>``, details in
``meta.bx``) to a ``behavior_events`` row. Pure.

Everything the browser sent is checked again here: unknown types are dropped, strings are
cut and masked (emails, digit runs), numbers must be finite, and only known ``event_data``
keys are kept, so a hand-made request cannot store an input value or a free-form blob.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from leadtrail.behaviour.privacy import mask_text, mask_url
from leadtrail.ingest.events import PreparedEvent

PREFIX = "bx:"
EVENT_TYPES = frozenset(
    {
        "click", "scroll", "hover", "rage_click", "hesitation", "form_start", "form_abandon",
        "form_submit", "error", "page_view", "time_on_element", "scroll_depth",
        "dead_click", "quick_back", "excessive_scroll", "page_exit",
    }
)  # fmt: skip
FRICTION_TYPES = (
    "rage_click", "dead_click", "hesitation", "form_abandon", "error", "quick_back",
    "excessive_scroll",
)  # fmt: skip
EXIT_REASONS = frozenset({"navigation", "close", "refresh", "timeout"})
COLUMNS = (
    "site_id", "session_id", "id", "session_month", "created_at", "event_type", "page_url",
    "page_path", "device_class", "element_path", "element_type", "element_text", "component_id",
    "coordinates", "viewport_size", "event_data", "metadata", "client_event_id",
)  # fmt: skip

#: event_data keys kept, with how long a string may be (0: numbers only)
_DATA_KEYS: dict[str, int] = {
    "hesitation_ms": 0, "duration_ms": 0, "percentage": 0, "clicks": 0, "reversals": 0,
    "seconds_away": 0, "line": 0, "col": 0,
    "field": 100, "form": 100, "reason": 20, "message": 300, "source": 300, "stack": 1000,
}  # fmt: skip
_COORDS = ("x", "y", "px", "py", "pw", "ph")


def is_behaviour(event: PreparedEvent) -> bool:
    return event.action.startswith(PREFIX)


def event_type(event: PreparedEvent) -> str | None:
    kind = event.action[len(PREFIX) :]
    return kind if kind in EVENT_TYPES else None


def page_path(url: str) -> str:
    try:
        return (urlsplit(url).path or "/")[:400]
    except ValueError:
        return "/"


def _num(value: object) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) and abs(value) < 1e9 else None


def _short(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _numbers(raw: object, keys: tuple[str, ...]) -> dict[str, int | float] | None:
    if not isinstance(raw, dict):
        return None
    out = {k: n for k in keys if (n := _num(raw.get(k))) is not None}
    return out or None


def _data(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for key, limit in _DATA_KEYS.items():
        value = raw.get(key)
        if limit == 0:
            if (n := _num(value)) is not None:
                out[key] = int(n) if key != "percentage" else n
        elif isinstance(value, str) and value:
            masked = value[:limit] if key == "reason" else mask_text(value, limit)
            if masked:
                out[key] = masked
    return out


def behaviour_record(event: PreparedEvent, month: date) -> tuple[Any, ...] | None:
    """The row for one behaviour event, or None when it is not a known type."""
    kind = event_type(event)
    if kind is None:
        return None
    bx = event.meta.get("bx")
    bx = bx if isinstance(bx, dict) else {}
    url = mask_url(event.url)
    data = _data(bx.get("d"))
    if kind == "page_exit" and data.get("reason") not in EXIT_REASONS:
        data.pop("reason", None)
    return (
        event.site.id, event.session_id, event.id, month, event.created_at, kind, url,
        page_path(url), event.visit.user_agent.device_type or "",
        _short(bx.get("p"), 400), _short(bx.get("t"), 40), mask_text(_short(bx.get("x"), 400)),
        _short(bx.get("c"), 100), _numbers(bx.get("co"), _COORDS),
        _numbers(bx.get("vp"), ("w", "h")), data, {}, event.client_event_id,
    )  # fmt: skip
