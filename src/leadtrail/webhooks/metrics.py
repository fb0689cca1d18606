"""Prometheus metrics of the webhook sender."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "leadtrail_webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"]
)
IN_FLIGHT = Gauge("leadtrail_webhook_in_flight", "Webhook requests in flight on this process")
LATENCY = Histogram(
    "leadtrail_webhook_delivery_seconds",
    "From the fact's commit to a successful delivery",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600, 3600, 86400),
)
