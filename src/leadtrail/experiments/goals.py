"""What an experiment can measure: goals (what a variant should raise) and guardrails (what it
must not worsen), each one entry in a table.

A metric is a named per-session SQL fragment in ``queries.sql`` (``goal_*``/``guard_*``,
yielding ``(session_id, value)`` for exposed sessions), how a unit's sessions combine
(``any``: converted at least once, ``sum``, ``avg``) and its two optional text parameters. A
new goal, such as funnel completion once funnels exist, is one more ``Metric`` here plus its
fragment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from leadtrail.errors import BadRequest

Aggregate = Literal["any", "sum", "avg"]


@dataclass(frozen=True)
class Metric:
    #: name of the per-session fragment in queries.sql
    query: str
    aggregate: Aggregate
    #: what the two text parameters ($3, $4) are, read from the goal's settings
    params: tuple[str, ...] = ()
    #: fixed parameter values (guardrails built on events)
    fixed: tuple[str, str] | None = None
    #: guardrails: a rise is bad
    lower_is_better: bool = False
    label: str = ""

    @property
    def binary(self) -> bool:
        return self.aggregate == "any"


GOALS: dict[str, Metric] = {
    "event": Metric("goal_event", "any", ("category", "action"), label="visitors with the event"),
    "form_lead": Metric("goal_form_lead", "any", label="visitors who sent a form lead"),
    "call": Metric("goal_call", "any", label="visitors who called"),
    "qualified_call": Metric("goal_qualified_call", "any", label="visitors with a qualified call"),
    "lead_value": Metric("goal_lead_value", "sum", label="revenue per visitor"),
}

GUARDRAILS: dict[str, Metric] = {
    "bounce_rate": Metric("guard_bounce", "avg", lower_is_better=True, label="bounce rate"),
    "rage_clicks": Metric(
        "goal_event",
        "sum",
        fixed=("interaction", "rage_click"),
        lower_is_better=True,
        label="rage clicks per visitor",
    ),
    "js_errors": Metric(
        "goal_event",
        "sum",
        fixed=("system", "js_error"),
        lower_is_better=True,
        label="JS errors per visitor",
    ),
}

EVENT_CATEGORIES = ("acquisition", "interaction", "conversion", "system")


def check_goal(goal: Mapping[str, Any]) -> dict[str, Any]:
    """A goal's settings, validated: ``{"type": ..., <its parameters>}``."""
    kind = goal.get("type")
    metric = GOALS.get(kind) if isinstance(kind, str) else None
    if metric is None:
        raise BadRequest(
            f"goal.type must be one of {', '.join(GOALS)}", code="invalid_goal", field="goal"
        )
    out: dict[str, Any] = {"type": kind}
    for name in metric.params:
        value = goal.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= 64:
            raise BadRequest(f"goal.{name} is required", code="invalid_goal", field=f"goal.{name}")
        out[name] = value
    if kind == "event" and out["category"] not in EVENT_CATEGORIES:
        raise BadRequest(
            f"goal.category must be one of {', '.join(EVENT_CATEGORIES)}",
            code="invalid_goal",
            field="goal.category",
        )
    return out


def params(metric: Metric, goal: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The $3/$4 values of a metric's query."""
    if metric.fixed:
        return metric.fixed
    values = [goal.get(name) for name in metric.params] + [None, None]
    return values[0], values[1]
