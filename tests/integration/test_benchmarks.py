"""Every benchmark's --check mode (tiny sizes, a few seconds) runs in the suite, so a
benchmark that stops working fails CI instead of rotting; the ingest benchmark's exactly-once
check is shown to catch a server that loses or doubles one acknowledged event."""

from __future__ import annotations

import asyncio
import sys

from tests.conftest import REPO


async def bench(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace")


async def test_ingest_check_passes_and_catches_a_lost_or_doubled_event(
    cli_env: dict[str, str],
) -> None:
    clean, dropped, doubled = await asyncio.gather(
        bench("bench/ingest.py", "--check", env=cli_env),
        bench(
            "bench/ingest.py", "--check", "--env", "LEADTRAIL_INGEST_FAULT=drop_one", env=cli_env
        ),
        bench(
            "bench/ingest.py",
            "--check",
            "--env",
            "LEADTRAIL_INGEST_FAULT=duplicate_one",
            env=cli_env,
        ),
    )
    assert clean[0] == 0, clean[1][-2000:]
    assert "exactly once: every acknowledged event is stored once" in clean[1]
    assert clean[1].startswith("machine: ")
    assert dropped[0] == 1, dropped[1][-2000:]
    assert "EXACTLY-ONCE FAILED: 1 acknowledged event(s) lost" in dropped[1]
    assert doubled[0] == 1, doubled[1][-2000:]
    assert "0 acknowledged event(s) lost [], 1 stored twice" in doubled[1]


async def test_import_check_catches_a_lost_or_altered_row(cli_env: dict[str, str]) -> None:
    dropped, altered = await asyncio.gather(
        bench("-m", "bench.import", "--check", "--fault", "drop_one", env=cli_env),
        bench("-m", "bench.import", "--check", "--fault", "alter_one", env=cli_env),
    )
    assert dropped[0] == 1, dropped[1][-2000:]
    assert (
        "IMPORT CHECK FAILED: firespring-backdoor-actions-dev: 1 lost, 0 stored twice"
        in (dropped[1])
    )
    assert altered[0] == 1, altered[1][-2000:]
    assert "0 lost, 0 stored twice, 0 extra, 1 different" in altered[1]


#: every benchmark in bench/ and how to run it; each --check exits 0 only when its own
#: correctness checks hold (other branches' benchmarks are added here as they land)
CHECKS = [
    ("bench/people.py", "--check"),
    ("bench/reports.py", "--check"),
    ("-m", "bench.realtime", "--check"),
    ("-m", "bench.feed_cost", "--check"),
    ("bench/identity_accuracy.py", "--check"),
    ("bench/experiments.py", "--check"),
    ("bench/request_guard.py", "--check"),
    ("-m", "bench.behaviour_reports", "--check"),
    ("-m", "bench.behaviour_ingest", "--check"),
    ("-m", "bench.friction_accuracy", "--check"),
    ("-m", "bench.import", "--check"),
    ("bench/webhooks.py", "--check"),
    ("bench/idle_cpu.py", "--check"),
]


async def test_every_benchmark_runs_in_check_mode(cli_env: dict[str, str]) -> None:
    # one after another: each starts its own server and PostgreSQL, and shares two cores
    for args in CHECKS:
        code, out = await bench(*args, env=cli_env)
        assert code == 0, f"{' '.join(args)} exited {code}:\n{out[-3000:]}"
        assert out.startswith("machine: "), f"{' '.join(args)} prints no machine line first"


def test_run_all_lists_every_benchmark() -> None:
    script = (REPO / "bench" / "run_all").read_text()
    benches = sorted(
        p.stem
        for p in (REPO / "bench").glob("*.py")
        if p.stem not in ("__init__", "machine", "import_data", "scratch")
    )
    missing = [name for name in benches if name not in script]
    assert missing == [], f"bench/run_all does not run {missing}"
