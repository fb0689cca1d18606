"""Derived report figures (rates, averages, change) from summed counters. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping


def ratio(part: float, whole: float, *, percent: bool = False, digits: int = 2) -> float:
    """``part / whole`` (0 when there is nothing to divide by)."""
    if not whole:
        return 0.0
    value = part / whole * (100 if percent else 1)
    return round(value, digits)


def change(current: float, previous: float) -> float | None:
    """Relative change in percent; None when the previous value was zero."""
    if not previous:
        return None
    return round((current - previous) / previous * 100, 1)


def session_figures(c: Mapping[str, int]) -> dict[str, float | int]:
    """The per-session figures every report shows, from its summed counters."""
    sessions = c.get("sessions", 0)
    return {
        "sessions": sessions,
        "page_views": c.get("page_views", 0),
        "bounce_rate": ratio(c.get("bounces", 0), sessions, percent=True, digits=1),
        "avg_duration_sec": ratio(c.get("duration_sec", 0), sessions, digits=1),
        "avg_actions": ratio(c.get("events", 0), sessions),
        "pages_per_session": ratio(c.get("page_views", 0), sessions),
        "conversions": c.get("conversions", 0),
        "conversion_rate": ratio(c.get("conversions", 0), sessions, percent=True),
        "avg_lead_score": ratio(c.get("lead_score_sum", 0), sessions, digits=1),
    }


def overview_figures(c: Mapping[str, int]) -> dict[str, float | int]:
    """The overview's KPIs from ``overview_totals`` plus calls and leads counters."""
    sessions = c.get("sessions", 0)
    figures = session_figures(c)
    figures.update(
        {
            "visitors": c.get("visitors", 0),
            "new_sessions": c.get("new_sessions", 0),
            "returning_sessions": sessions - c.get("new_sessions", 0),
            "events": c.get("events", 0),
            "hot_leads": c.get("hot_sessions", 0),
            "paid_sessions": c.get("paid_sessions", 0),
            "calls": c.get("calls", 0),
            "calls_matched": c.get("calls_matched", 0),
            "calls_qualified": c.get("calls_qualified", 0),
            "leads": c.get("leads", 0),
        }
    )
    return figures


def changes(
    current: Mapping[str, float | int], previous: Mapping[str, float | int]
) -> dict[str, float | None]:
    return {
        key: change(float(value), float(previous.get(key, 0))) for key, value in current.items()
    }


def funnel(visitors: int, returning: int, converted: int) -> list[dict[str, object]]:
    """Seed 000 ``get_conversion_funnel``: visitors, returning, converted, each with its
    share of all visitors (``conversion_rate``, percent)."""
    stages = [("Visitors", visitors), ("Returning", returning), ("Converted", converted)]
    return [
        {
            "stage": name,
            "count": count,
            "conversion_rate": ratio(count, visitors, percent=True, digits=1),
        }
        for name, count in stages
    ]
