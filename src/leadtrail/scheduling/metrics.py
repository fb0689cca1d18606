"""Prometheus metrics of the scheduler."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LEADER = Gauge("leadtrail_scheduler_leader", "1 while this process holds the scheduler lease")
TOKEN = Gauge("leadtrail_scheduler_fencing_token", "Fencing token of the lease this process holds")
JOB_RUNS = Counter(
    "leadtrail_scheduler_job_runs_total", "Scheduled job runs by outcome", ["job", "outcome"]
)
JOB_SECONDS = Histogram(
    "leadtrail_scheduler_job_seconds", "Duration of scheduled job runs", ["job"]
)
