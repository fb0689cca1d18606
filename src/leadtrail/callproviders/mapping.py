"""Provider payloads to leadtrail's call fields (pure).

The generic webhook takes leadtrail's own field names (those of ``POST /api/call-event``)
and, for each, the names CallRail and CallTrackingMetrics use in their webhooks:

    leadtrail          CallRail                  CallTrackingMetrics
    external_call_id   id / resource_id          id
    started_at         start_time                called_at
    caller_number      customer_phone_number     caller_number
    tracking_number    tracking_phone_number     tracking_number
    duration_s         duration                  duration
    recording_url      recording                 audio
    session_id         (a custom field)          (a custom field)

Twilio Voice status callbacks: CallSid, To (the tracking number), From (the caller),
CallDuration, RecordingUrl, Timestamp (the callback's time; a completed call started
CallDuration seconds before it).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

ALIASES: dict[str, tuple[str, ...]] = {
    "external_call_id": ("external_call_id", "id", "resource_id", "call_id"),
    "started_at": ("started_at", "start_time", "called_at", "startTime"),
    "caller_number": ("caller_number", "customer_phone_number", "caller", "from"),
    "tracking_number": ("tracking_number", "tracking_phone_number", "phone_number", "to"),
    "duration_s": ("duration_s", "duration", "talk_time"),
    "recording_url": ("recording_url", "recording", "audio", "recording_player"),
    "session_id": ("session_id", "leadtrail_session_id"),
    "fingerprint": ("fingerprint",),
    "provider": ("provider",),
}
FINAL_TWILIO = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})


def _int(value: Any) -> int | None:
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def generic(payload: Mapping[str, Any], default_provider: str = "webhook") -> dict[str, Any]:
    """A ``CallEventBody``-shaped dict from a generic/CallRail-style payload."""
    out: dict[str, Any] = {}
    for name, keys in ALIASES.items():
        for key in keys:
            value = payload.get(key)
            if value not in (None, ""):
                out[name] = value
                break
    if "external_call_id" in out:
        out["external_call_id"] = str(out["external_call_id"])
    if "duration_s" in out:
        out["duration_s"] = _int(out["duration_s"])
    url = out.get("recording_url")
    if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        out.pop("recording_url", None)
    out.setdefault("provider", default_provider)
    return out


def twilio(form: Mapping[str, str]) -> dict[str, Any] | None:
    """A ``CallEventBody``-shaped dict from a Twilio Voice status callback; None for a
    callback of a call still in progress (the final one carries the duration)."""
    status = form.get("CallStatus", "")
    if status and status not in FINAL_TWILIO:
        return None
    duration = _int(form.get("CallDuration"))
    started: datetime | None = None
    stamp = form.get("Timestamp")
    if stamp:
        try:
            started = parsedate_to_datetime(stamp)
        except (TypeError, ValueError):
            started = None
        if started is not None and duration:
            started -= timedelta(seconds=duration)
    out: dict[str, Any] = {
        "external_call_id": form.get("CallSid") or None,
        "tracking_number": form.get("To") or form.get("Called") or None,
        "caller_number": form.get("From") or form.get("Caller") or None,
        "duration_s": duration,
        "provider": "twilio",
        "metadata": {"call_status": status, "direction": form.get("Direction")},
    }
    if started is not None and started.tzinfo is not None:
        out["started_at"] = started.isoformat()
    recording = form.get("RecordingUrl")
    if recording and recording.startswith("https://"):
        out["recording_url"] = recording
    if form.get("session_id"):
        out["session_id"] = form["session_id"]
    return {k: v for k, v in out.items() if v is not None}
