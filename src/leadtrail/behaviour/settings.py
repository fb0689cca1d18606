"""A site's behaviour-capture options (``sites.settings.behaviour``): whether capture is on,
the share of sessions sampled, and every detection threshold the browser module applies.
Pure: no I/O. Documented in docs/behaviour.md ("Detection rules")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from leadtrail.errors import BadRequest


@dataclass(frozen=True)
class Thresholds:
    #: rage click: this many clicks ...
    rage_clicks: int = 3
    #: ... within this many milliseconds ...
    rage_window_ms: int = 1000
    #: ... within this many pixels of the first
    rage_radius_px: int = 30
    #: dead click: nothing changed (DOM, URL, focus, scroll) this long after a click
    dead_click_ms: int = 1000
    #: hesitation: pointer resting on an interactive element at least this long before
    #: it is clicked (or left)
    hesitation_ms: int = 2000
    #: quick back: came back to the page within this many seconds of leaving it
    quick_back_s: int = 10
    #: excessive scroll: this many direction reversals ...
    scroll_reversals: int = 6
    #: ... within this many milliseconds
    scroll_window_ms: int = 5000
    #: a session that stays idle this long ends with exit_reason "timeout"
    idle_timeout_s: int = 1800


_LIMITS: dict[str, tuple[int, int]] = {
    "rage_clicks": (2, 20),
    "rage_window_ms": (100, 10_000),
    "rage_radius_px": (1, 500),
    "dead_click_ms": (100, 10_000),
    "hesitation_ms": (200, 60_000),
    "quick_back_s": (1, 600),
    "scroll_reversals": (2, 100),
    "scroll_window_ms": (500, 60_000),
    "idle_timeout_s": (60, 24 * 3600),
}


@dataclass(frozen=True)
class BehaviourSettings:
    enabled: bool = False
    #: share of sessions captured, 0 < rate <= 1 (decided in the browser per session)
    sample_rate: float = 1.0
    thresholds: Thresholds = Thresholds()

    @classmethod
    def from_site(cls, stored: Mapping[str, Any]) -> BehaviourSettings:
        """The site's options; anything missing or malformed takes its default."""
        raw = stored.get("behaviour")
        if not isinstance(raw, Mapping):
            return cls()
        rate = raw.get("sample_rate")
        values: dict[str, int] = {}
        raw_t = raw.get("thresholds")
        if isinstance(raw_t, Mapping):
            for name, (low, high) in _LIMITS.items():
                value = raw_t.get(name)
                if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
                    values[name] = value
        return cls(
            enabled=raw.get("enabled") is True,
            sample_rate=float(rate) if isinstance(rate, int | float) and _is_rate(rate) else 1.0,
            thresholds=Thresholds(**values),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "sample_rate": self.sample_rate,
            "thresholds": asdict(self.thresholds),
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_rate(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value <= 1


def patch(stored: Mapping[str, Any], change: object) -> dict[str, Any]:
    """The stored ``behaviour`` section with ``change`` applied (thresholds merged key by
    key). Raises ``BadRequest`` (``invalid_setting``) naming the offending field."""
    where = "settings.behaviour"
    if not isinstance(change, Mapping):
        raise BadRequest("behaviour is an object", code="invalid_setting", field=where)
    current = stored.get("behaviour")
    result: dict[str, Any] = dict(current) if isinstance(current, Mapping) else {}
    for key, value in change.items():
        if key == "enabled":
            if not isinstance(value, bool):
                raise BadRequest(
                    "enabled is true or false", code="invalid_setting", field=f"{where}.enabled"
                )
            result["enabled"] = value
        elif key == "sample_rate":
            if not _is_rate(value):
                raise BadRequest(
                    "sample_rate is a number above 0 and at most 1",
                    code="invalid_setting",
                    field=f"{where}.sample_rate",
                )
            result["sample_rate"] = value
        elif key == "thresholds":
            result["thresholds"] = _patch_thresholds(result.get("thresholds"), value, where)
        else:
            raise BadRequest(
                f"unknown behaviour setting {key!r}; known: enabled, sample_rate, thresholds",
                code="invalid_setting",
                field=f"{where}.{key}",
            )
    return result


def _patch_thresholds(current: object, change: object, where: str) -> dict[str, int]:
    if not isinstance(change, Mapping):
        raise BadRequest(
            "thresholds is an object", code="invalid_setting", field=f"{where}.thresholds"
        )
    merged: dict[str, int] = dict(current) if isinstance(current, Mapping) else {}
    known = [f.name for f in fields(Thresholds)]
    for name, value in change.items():
        field = f"{where}.thresholds.{name}"
        if name not in _LIMITS:
            raise BadRequest(
                f"unknown threshold {name!r}; known: {', '.join(known)}",
                code="invalid_setting",
                field=field,
            )
        low, high = _LIMITS[name]
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise BadRequest(
                f"{name} is a whole number from {low} to {high}",
                code="invalid_setting",
                field=field,
            )
        merged[name] = value
    return merged
