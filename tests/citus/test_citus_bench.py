"""bench/citus.py --check: Citus and plain PostgreSQL side by side, tiny sizes."""

from __future__ import annotations

import pytest

from tests.citus.cluster import citus_bindir
from tests.integration.test_benchmarks import bench


async def test_citus_bench_runs_in_check_mode(cli_env: dict[str, str]) -> None:
    if citus_bindir() is None:
        pytest.skip("Citus is not built here: run scripts/citus_build (scripts/test does)")
    code, out = await bench("bench/citus.py", "--check", env=cli_env)
    assert code == 0, out[-3000:]
    assert out.startswith("machine: ")
    assert "storage ingest" in out and "30-day raw report p95" in out
