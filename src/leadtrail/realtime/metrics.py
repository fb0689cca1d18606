"""Prometheus metrics of the change feed (served at ``/metrics``).

Counted once per poll, not per change, so they cost nothing on the hot path.
"""

from __future__ import annotations

from prometheus_client import Counter

POLLS = Counter("leadtrail_realtime_polls_total", "Change feed polls of the replication slot")
CHANGES = Counter(
    "leadtrail_realtime_changes_total", "Row changes read from the slot (all published tables)"
)
DECODED = Counter(
    "leadtrail_realtime_changes_decoded_total",
    "Row changes turned into a payload because a subscriber was waiting for them",
)
DELIVERIES = Counter(
    "leadtrail_realtime_deliveries_total", "postgres_changes messages queued to subscribers"
)
LOG_ROWS = Counter("leadtrail_realtime_log_rows_total", "Rows written to the replay log")
LOG_BYTES = Counter(
    "leadtrail_realtime_log_bytes_total", "Bytes written to the replay log (before compression)"
)
PHASE_SECONDS = Counter(
    "leadtrail_realtime_poll_seconds_total",
    "Time the feed spent per phase: peek (the poll query), decode, log (replay log write), "
    "dispatch (payloads and fan-out to the send queues)",
    ["phase"],
)
