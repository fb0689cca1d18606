"""Prometheus metrics of the ingest path (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("leadtrail_sync_requests_total", "/api/sync requests by outcome", ["outcome"])
DROPPED = Counter(
    "leadtrail_sync_dropped_total", "Requests accepted (202) but not stored, by reason", ["reason"]
)
EVENTS_STORED = Counter("leadtrail_ingest_events_stored_total", "Events written")
EVENTS_DUPLICATE = Counter(
    "leadtrail_ingest_events_duplicate_total", "Retried events skipped as already stored"
)
OVERLOADED = Counter(
    "leadtrail_ingest_overloaded_total", "Requests refused because the writer buffer was full"
)
BATCH_FAILURES = Counter(
    "leadtrail_ingest_batch_failures_total", "Writer transactions that failed and were retried"
)
WRITER_CRASHES = Counter(
    "leadtrail_ingest_writer_crashes_total", "Writer loop restarts after an unexpected error"
)
BATCH_SECONDS = Histogram(
    "leadtrail_ingest_batch_seconds",
    "Time to write one group-commit batch",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BATCH_EVENTS = Histogram(
    "leadtrail_ingest_batch_events",
    "Events per group-commit batch",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
