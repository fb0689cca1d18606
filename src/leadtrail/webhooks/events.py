"""Event types, payload envelopes, Slack messages and the retry schedule (pure)."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import orjson

LEAD_CREATED = "lead.created"
CALL_RECEIVED = "call.received"
CALL_MATCHED = "call.matched"
CALL_QUALIFIED = "call.qualified"
VISITOR_HOT = "visitor.hot"
SESSION_HIGH_VALUE = "session.high_value"
EVENT_TYPES = (
    LEAD_CREATED,
    CALL_RECEIVED,
    CALL_MATCHED,
    CALL_QUALIFIED,
    VISITOR_HOT,
    SESSION_HIGH_VALUE,
)
#: the seed's high-value session: more than 300 s and more than 5 actions
HIGH_VALUE_SECONDS = 300
HIGH_VALUE_ACTIONS = 5


def plain(data: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe copy (UUIDs, datetimes and Decimals as strings)."""
    result: dict[str, Any] = orjson.loads(orjson.dumps(data, default=str))
    return result


def envelope(event_type: str, event_at: datetime, data: dict[str, Any]) -> bytes:
    """The Standard Webhooks body: ``{"type", "timestamp", "data"}``."""
    return orjson.dumps({"type": event_type, "timestamp": event_at.isoformat(), "data": data})


def _who(data: dict[str, Any]) -> str:
    return str(data.get("email") or data.get("name") or data.get("caller_number") or "a visitor")


def slack_text(event_type: str, data: dict[str, Any], dashboard_url: str) -> str:
    """One line for a Slack incoming webhook."""
    if event_type == LEAD_CREATED:
        text = f"New lead: {_who(data)} (score {data.get('lead_score')}, source {data.get('attributed_source') or 'direct'})"
    elif event_type in (CALL_RECEIVED, CALL_MATCHED):
        text = f"Phone call to {data.get('phone_number')}: {data.get('match_status')}"
    elif event_type == CALL_QUALIFIED:
        text = f"Call qualified: {data.get('phone_number')} (value {data.get('value')})"
    elif event_type == VISITOR_HOT:
        text = f"Hot visitor: lead score {data.get('lead_score')} on {data.get('entry_page') or 'the site'}"
    elif event_type == SESSION_HIGH_VALUE:
        text = (
            f"High-value session: {data.get('actions_count')} actions, "
            f"{data.get('session_duration_seconds')}s"
        )
    else:
        text = f"{event_type}"
    return f"{text} - {dashboard_url}"


def slack_body(event_type: str, data: dict[str, Any], dashboard_url: str) -> bytes:
    return orjson.dumps({"text": slack_text(event_type, data, dashboard_url)})


def next_delay(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next try after ``attempts`` failures: exponential with full jitter
    over the upper half (so retries never bunch, yet grow steadily)."""
    rng = rng or random.Random()
    ceiling = float(min(cap, base * 2.0 ** max(0, attempts - 1)))
    return ceiling / 2 + float(rng.random()) * ceiling / 2
