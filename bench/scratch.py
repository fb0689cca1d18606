"""Throwaway data folders for the benchmarks, removed together with their cluster.

Run as root, the embedded server keeps its files under ``/var/lib/leadtrail/<digest of the
data folder>`` (``storage/embedded.py``), so deleting the data folder alone left every
benchmark's cluster behind: gigabytes per run, until the disk filled up.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from leadtrail.storage.embedded import remove_cluster


def discard(folder: Path) -> None:
    """Delete a benchmark's folder and the stopped clusters of it and of its subfolders (some
    benchmarks keep the data folder beside other scratch files)."""
    if folder.is_dir():
        for data_dir in [folder, *(p for p in folder.iterdir() if p.is_dir())]:
            remove_cluster(data_dir)
    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A fresh folder for one benchmark's data, discarded with its cluster afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        discard(path)
