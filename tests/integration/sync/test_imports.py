"""Bulk imports: seed 002's volumes from export files reproduce its dedup numbers; the
parallel Scan import resumes from its checkpoint; the CLI commands work end to end."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest
from bench.import_data import SEED_COUNTS, dynamo_json, tables, write_export

from leadtrail.storage import Database
from leadtrail.sync import config as sync_config
from leadtrail.sync.aws import Clients
from leadtrail.sync.correlate import batch_populate_from_firespring
from leadtrail.sync.imports import export_files, import_export, import_scan
from tests.conftest import ModuleDatabase, leadtrail_cli
from tests.integration.sync.conftest import AWS_ENV, client, create_table
from tests.integration.sync.test_stream_replay import new_site

CONFIG = sync_config.load()


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("exports")
    for table, items in tables().items():
        write_export(root, table, items)
    return root


async def test_export_import_reproduces_the_seed_dedup_numbers(
    exports: Path, db: Database, owner: asyncpg.Connection
) -> None:
    site = await new_site(owner, "seed_import")
    for table, (items, unique) in SEED_COUNTS.items():
        spec = CONFIG.table(table)
        files = export_files(exports / table)
        out = await import_export(db, site, spec, files)
        assert (out.items, out.failed) == (items, 0), table
        rows = await owner.fetchval(f"SELECT count(*) FROM {spec.target} WHERE site_id = $1", site)
        assert rows == unique, table
    # 13,804 visitor items -> 2,247 sessions; 1,915 job updates -> 1,165 final job states
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM firespring_visitors_detailed WHERE site_id = $1", site
        )
        == 2_247
    )
    statuses = await owner.fetch(
        "SELECT status, count(*) FROM firespring_extraction_jobs WHERE site_id = $1 GROUP BY 1",
        site,
    )
    assert [(r["status"], r["count"]) for r in statuses] == [("complete", 1_165)]
    # the latest state of each visitor is kept
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM firespring_visitors v WHERE site_id = $1 AND page_views <> "
            "(SELECT count(*) FROM jsonb_array_elements('[]'::jsonb)) + (v.item ->> 'pages_viewed')::int",
            site,
        )
        == 0
    )
    state = (
        "SELECT md5(string_agg(v::text, ',' ORDER BY visitor_id)) FROM (SELECT visitor_id, "
        "page_views, city, region, country, item FROM firespring_visitors WHERE site_id = $1) v"
    )
    before = await owner.fetchval(state, site)
    await import_export(
        db, site, CONFIG.table("firespring-backdoor-visitors-dev"),
        export_files(exports / "firespring-backdoor-visitors-dev"),
    )  # fmt: skip
    assert await owner.fetchval(state, site) == before  # re-running an import changes nothing

    out = await batch_populate_from_firespring(db, site)
    assert out["sessions"] == 2_247 and out["leads"] == 5
    assert await owner.fetchval("SELECT count(*) FROM sessions WHERE site_id = $1", site) == 2_247
    assert (
        await owner.fetchval(
            "SELECT count(*) FROM sessions WHERE site_id = $1 AND canonical_user_id IS NULL", site
        )
        == 0
    )
    assert await owner.fetchval("SELECT count(*) FROM leads WHERE site_id = $1", site) == 5
    # no 1,000 cap, and idempotent
    again_out = await batch_populate_from_firespring(db, site)
    assert again_out["sessions"] == 2_247 and again_out["leads"] == 0
    assert await owner.fetchval("SELECT count(*) FROM sessions WHERE site_id = $1", site) == 2_247


async def test_scan_import_resumes_after_an_interruption(
    dynamodb_url: str, db: Database, owner: asyncpg.Connection
) -> None:
    table = "firespring-backdoor-segments-dev"
    create_table(dynamodb_url, table, "segment_id")
    dynamo = client(dynamodb_url)
    items = tables()[table][:600]
    for start in range(0, len(items), 25):
        dynamo.batch_write_item(
            RequestItems={
                table: [{"PutRequest": {"Item": dynamo_json(i)}} for i in items[start : start + 25]]
            }
        )
    site = await new_site(owner, "scan_import")
    clients = Clients(dynamodb_url, "us-east-1")
    spec = CONFIG.table(table)
    first = await import_scan(db, clients, site, spec, 3, page_size=50, stop_after_pages=4)
    assert 0 < first.items < 600
    progress = await owner.fetch(
        "SELECT segment, rows_read, finished FROM leadtrail.sync_import_progress WHERE site_id = $1",
        site,
    )
    assert len(progress) == 3 and not all(r["finished"] for r in progress)
    rest = await import_scan(db, clients, site, spec, 3, page_size=50)
    assert first.items + rest.items == 600  # resumed: no segment read twice
    assert (
        await owner.fetchval("SELECT count(*) FROM firespring_segments WHERE site_id = $1", site)
        == 600
    )


async def test_import_cli_commands(
    exports: Path,
    dynamodb_url: str,
    owner: asyncpg.Connection,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
) -> None:
    site = await new_site(owner, "cli_import")
    code, out, err = await leadtrail_cli(
        test_database, cli_env, "import", "dynamodb-export", "--site", "cli_import",
        str(exports / "firespring-backdoor-extraction-jobs-dev"),
    )  # fmt: skip
    assert code == 0, err
    assert "1915 items read, 1165 rows written, 0 to the DLQ" in out
    env = {**cli_env, **AWS_ENV, "LEADTRAIL_DYNAMODB_ENDPOINT_URL": dynamodb_url}
    code, out, err = await leadtrail_cli(
        test_database, env, "import", "dynamodb", "--site", "cli_import",
        "--table", "firespring-backdoor-segments-dev", "--segments", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "600 items read" in out and "rows/s" in out
    code, out, err = await leadtrail_cli(
        test_database, env, "sync", "checksum", "--site", "cli_import",
        "--table", "firespring-backdoor-segments-dev",
    )  # fmt: skip
    assert code == 0, out + err
    assert "missing: 0" in out and "match" in out
    assert (
        await owner.fetchval("SELECT count(*) FROM firespring_segments WHERE site_id = $1", site)
        == 600
    )
    code, _, err = await leadtrail_cli(
        test_database, cli_env, "import", "dynamodb-export", "--site", "cli_import", str(exports)
    )
    assert code == 1 and err.startswith("error: ") and "import one table's directory" in err
    code, _, err = await leadtrail_cli(
        test_database, cli_env, "sync", "dlq", "retry", "--site", "cli_import"
    )
    assert code == 1 and err == "error: name dead-letter ids or pass --all\n"
