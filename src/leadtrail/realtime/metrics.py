"""Prometheus metrics of the change feed (served at ``/metrics``).

Counted once per batch, not per change, so they cost nothing on the hot path. (The names
say "poll" from the polling feed before issue 18; a poll is now a batch of the stream.)
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

POLLS = Counter(
    "leadtrail_realtime_polls_total",
    "Batches of changes the feed handled from its replication stream (one replay log commit each)",
)
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
LAG_SECONDS = Histogram(
    "leadtrail_realtime_dispatch_lag_seconds",
    "Per batch: wall clock at dispatch minus the commit time of its oldest change",
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 10.0),
)
PHASE_SECONDS = Counter(
    "leadtrail_realtime_poll_seconds_total",
    "Time the feed spent per batch phase: decode (read the stream and assemble), log (replay "
    "log write), dispatch (payloads and fan-out to the send queues)",
    ["phase"],
)
