"""The Citus suite: integration tests run again against a real 3-node Citus cluster.

Each module here imports an integration test module's tests and fixtures; this folder's
``test_database`` replaces the embedded per-module database with the cluster's database,
migrated once and distributed with ``leadtrail db distribute``'s code. Without a cached
Citus build (scripts/citus_build; scripts/test runs it) the suite is skipped.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from leadtrail.storage import citus, migrator
from tests.citus.cluster import CitusCluster, citus_bindir, new_root
from tests.conftest import ModuleDatabase

HERE = Path(__file__).parent


#: what does not work on Citus yet, by module and test (docs/scaling.md "Status on Citus");
#: "*" covers a whole module. Skipped with the cause, not run as xfail: the ingest writer's
#: failures each wait for the request timeout (minutes of CI for nothing). To see what
#: passes today: LEADTRAIL_CITUS_RUN_KNOWN_FAILURES=1 runs them as xfail (XPASS = fixed).
WRITER = (
    "the ingest writer stages rows in temporary tables (refused in a 2PC transaction) and moves "
    "them with INSERT ... SELECT (refused into RLS tables on Citus)"
)
KNOWN_FAILURES: dict[str, dict[str, str]] = {
    "sync": {
        name: WRITER
        for name in (
            "test_landing_from_google_ad_is_enriched_scored_and_attributed",
            "test_organic_search_keeps_the_query",
            "test_batch_updates_session_counters",
            "test_single_page_view_is_a_bounce",
            "test_retried_events_are_stored_and_counted_once",
            "test_return_visitor_after_an_ad_click",
            "test_a_later_ad_visit_does_not_make_an_earlier_one_ads_assisted",
            "test_session_month_is_the_sessions_own",
            "test_cors",
            "test_do_not_track_when_the_site_says_so",
            "test_site_settings_change_weights_and_ip_storage",
        )
    },
    "leads_calls_api": {
        "test_lead_is_attributed_to_its_session_and_idempotent": (
            "the module's first POST /api/leads timed out (30 s) in the recorded run, load 25 on "
            "2 cores; the module's other lead and call tests pass; not investigated further"
        )
    },
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if HERE not in path.parents:
            continue
        item.add_marker(pytest.mark.citus)
        known = KNOWN_FAILURES.get(path.stem.removeprefix("test_citus_"), {})
        reason = known.get(item.name.split("[")[0]) or known.get("*")
        if reason and os.environ.get("LEADTRAIL_CITUS_RUN_KNOWN_FAILURES"):
            item.add_marker(pytest.mark.xfail(reason=f"on Citus: {reason}", strict=False))
        elif reason:
            item.add_marker(pytest.mark.skip(reason=f"not yet on Citus: {reason}"))


@pytest.fixture(scope="session")
def citus_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitusCluster]:
    bindir = citus_bindir()
    if bindir is None:
        pytest.skip("Citus is not built here: run scripts/citus_build (scripts/test does)")
    cluster = CitusCluster(bindir, new_root(tmp_path_factory.mktemp("citus")))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
async def citus_database(citus_cluster: CitusCluster) -> AsyncIterator[ModuleDatabase]:
    conn = await asyncpg.connect(citus_cluster.dsn())
    try:
        await migrator.migrate(conn)
        await conn.execute("SELECT leadtrail.ensure_partitions(3)")
        # few shards: 3 nodes on one small machine (a real cluster keeps the default, 32)
        await citus.distribute(conn, shard_count=4, echo=lambda _: None)
        info = await conn.fetchval(
            "SELECT authinfo FROM pg_dist_authinfo WHERE nodeid = 0 AND rolename = 'leadtrail_app'"
        )
    finally:
        await conn.close()
    citus_cluster.passwords["leadtrail_app"] = str(info).removeprefix("password=")
    yield ModuleDatabase("leadtrail", citus_cluster.dsn(), citus_cluster.dsn(user="leadtrail_app"))


@pytest.fixture(scope="module")
def test_database(citus_database: ModuleDatabase) -> ModuleDatabase:
    """Every module shares the cluster's one database (tests make their own sites)."""
    return citus_database
