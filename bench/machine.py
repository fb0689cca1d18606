"""The line every benchmark prints first: which machine, how busy, when.

Absolute figures differ between machines and with other load (a run on the same 2-core
machine gave half the requests/s of an earlier record while the ratios held), so each table
in docs/benchmarks.md carries this line, and ratios to a baseline measured in the same run
lead, absolute figures follow.
"""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """``machine: <cpu>, <n> cores, load 0.42 0.30 0.25 (1/5/15 min) before the run, <date>``."""
    one, five, fifteen = os.getloadavg()
    return (
        f"machine: {cpu_model()}, {os.cpu_count()} cores, load {one:.2f} {five:.2f} {fifteen:.2f} "
        f"(1/5/15 min) before the run, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"Python {platform.python_version()}"
    )


def print_machine_line() -> None:
    print(machine_line(), flush=True)
