"""Bounding the embedded server's log: PostgreSQL rotates by size but never deletes."""

from __future__ import annotations

import contextlib
from pathlib import Path

#: ``log_filename`` of the embedded server: names sort by start time
LOG_PATTERN = "postgresql-*.log"


def prune_server_logs(log_dir: Path, *, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest log files (the newest is the one being written)."""
    try:
        files = sorted(log_dir.glob(LOG_PATTERN))
    except OSError:
        return []
    doomed = files[: max(0, len(files) - max(1, keep))]
    for path in doomed:
        with contextlib.suppress(OSError):
            path.unlink()
    return doomed
