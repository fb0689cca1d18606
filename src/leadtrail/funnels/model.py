"""Funnel definitions and what one recorded touch is. Pure.

A step matches one kind of touch:

- ``page``: a page view whose URL path matches ``url`` (``*`` matches any characters);
- ``event``: a tracker event; ``category``, ``action`` and ``label`` (glob) when given;
- ``lead``: a form lead of the session or person; ``call``: a phone call matched to it;
- ``experiment``: an ``experiment_exposure`` event whose label is ``experiment``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from leadtrail.errors import BadRequest

KINDS = ("page", "event", "lead", "call", "experiment")
ORDERS = ("strict", "any")
COUNT_BY = ("session", "person")
PAGE_ACTIONS = ("view", "page_view")
EXPOSURE_ACTION = "experiment_exposure"
MAX_STEPS = 20
MAX_WINDOW = 90 * 24 * 3600


@dataclass(frozen=True)
class Touch:
    """One thing a visitor did that a step may match, in time order."""

    at: datetime
    kind: str  # "event" | "lead" | "call"
    path: str = ""
    category: str = ""
    action: str = ""
    label: str = ""


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern), re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    name: str
    kind: str
    url: str | None = None
    category: str | None = None
    action: str | None = None
    label: str | None = None
    experiment: str | None = None

    def matches(self, touch: Touch) -> bool:
        if self.kind in ("lead", "call"):
            return touch.kind == self.kind
        if touch.kind != "event":
            return False
        if self.kind == "page":
            return touch.action in PAGE_ACTIONS and bool(_glob(self.url or "*").match(touch.path))
        if self.kind == "experiment":
            return touch.action == EXPOSURE_ACTION and touch.label == self.experiment
        return (
            (self.category is None or touch.category == self.category)
            and (self.action is None or touch.action == self.action)
            and (self.label is None or bool(_glob(self.label).match(touch.label)))
        )

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class Funnel:
    name: str
    steps: tuple[Step, ...]
    window_seconds: int = 86400
    order: str = "strict"
    count_by: str = "session"

    @classmethod
    def parse(cls, raw: object) -> Funnel:
        """A definition from JSON; ``BadRequest`` (``invalid_funnel``) names the bad field."""
        if not isinstance(raw, Mapping):
            raise _bad("a funnel is an object", None)
        name = raw.get("name")
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 100:
            raise _bad("name is 1-100 characters", "name")
        window = raw.get("window_seconds", 86400)
        if not (
            isinstance(window, int) and not isinstance(window, bool) and 0 < window <= MAX_WINDOW
        ):
            raise _bad(f"window_seconds is a whole number from 1 to {MAX_WINDOW}", "window_seconds")
        order = raw.get("order", "strict")
        if order not in ORDERS:
            raise _bad("order is strict or any", "order")
        count_by = raw.get("count_by", "session")
        if count_by not in COUNT_BY:
            raise _bad("count_by is session or person", "count_by")
        steps = raw.get("steps")
        if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
            raise _bad(f"steps is a list of 1 to {MAX_STEPS} steps", "steps")
        return cls(
            name.strip(), tuple(_step(s, i) for i, s in enumerate(steps)), window, order, count_by
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": [s.as_json() for s in self.steps],
            "window_seconds": self.window_seconds,
            "order": self.order,
            "count_by": self.count_by,
        }


def _bad(detail: str, field: str | None) -> BadRequest:
    return BadRequest(detail, code="invalid_funnel", field=field)


def _text(raw: Mapping[str, Any], key: str, where: str, limit: int = 200) -> str | None:
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _bad(f"{key} is text of at most {limit} characters", f"{where}.{key}")
    return value


def _step(raw: object, index: int) -> Step:
    where = f"steps[{index}]"
    if not isinstance(raw, Mapping):
        raise _bad("a step is an object", where)
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _bad(f"kind is one of {', '.join(KINDS)}", f"{where}.kind")
    name = _text(raw, "name", where, 100) or f"Step {index + 1}"
    step = Step(
        name=name,
        kind=kind,
        url=_text(raw, "url", where) if kind == "page" else None,
        category=_text(raw, "category", where, 64) if kind == "event" else None,
        action=_text(raw, "action", where, 64) if kind == "event" else None,
        label=_text(raw, "label", where) if kind == "event" else None,
        experiment=_text(raw, "experiment", where, 100) if kind == "experiment" else None,
    )
    if kind == "page" and step.url is None:
        raise _bad("a page step needs a url pattern", f"{where}.url")
    if kind == "event" and step.category is None and step.action is None:
        raise _bad("an event step needs a category or an action", f"{where}.action")
    if kind == "experiment" and step.experiment is None:
        raise _bad("an experiment step needs the experiment id", f"{where}.experiment")
    return step
