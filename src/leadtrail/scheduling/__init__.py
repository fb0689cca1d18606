"""Leader leases with fencing tokens and the one scheduler that runs periodic jobs."""

from __future__ import annotations

from leadtrail.scheduling.lease import Fence, FenceLost, Lease, check_current_fence, current_fence
from leadtrail.scheduling.scheduler import IDLE, Job, JobRun, LeaderService, Scheduler, simple

__all__ = [
    "IDLE",
    "Fence",
    "FenceLost",
    "Job",
    "JobRun",
    "LeaderService",
    "Lease",
    "Scheduler",
    "check_current_fence",
    "current_fence",
    "simple",
]
