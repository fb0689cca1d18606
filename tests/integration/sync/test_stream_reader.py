"""The stream reader against moto's DynamoDB Streams: applies, checkpoints, resumes after
a restart, and survives SIGKILL without losing or re-applying records."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from leadtrail.config import Settings
from leadtrail.errors import ConfigError
from leadtrail.storage import Database
from leadtrail.sync import config as sync_config
from leadtrail.sync.aws import Clients
from leadtrail.sync.component import SyncService
from leadtrail.sync.service import apply_records
from leadtrail.sync.streams import StreamReader
from tests.conftest import ModuleDatabase, leadtrail_cli
from tests.integration.sync.conftest import AWS_ENV, client, create_table, stream_records
from tests.integration.sync.test_stream_replay import new_site

TEMPLATE = """
[tables."NAME"]
target = "firespring_segments"
key = { segment_id = "segment_id" }
[tables."NAME".fields]
segment_name = { path = "name", type = "text" }
member_count = { path = "value", type = "integer" }
"""


def config_text(table: str) -> str:
    return TEMPLATE.replace("NAME", table)


def put_many(url: str, table: str, keys: range, generation: int) -> None:
    dynamo = client(url)
    items = [
        {"PutRequest": {"Item": {"segment_id": {"S": f"s{k:05d}"}, "name": {"S": f"g{generation}"},
                                 "value": {"N": str(generation * 100000 + k)}}}}
        for k in keys
    ]  # fmt: skip
    for start in range(0, len(items), 25):
        dynamo.batch_write_item(RequestItems={table: items[start : start + 25]})


def table_state(url: str, table: str) -> dict[str, tuple[str, int]]:
    dynamo = client(url)
    out: dict[str, tuple[str, int]] = {}
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamo.scan(**kwargs)
        for i in page["Items"]:
            out[i["segment_id"]["S"]] = (i["name"]["S"], int(i["value"]["N"]))
        if "LastEvaluatedKey" not in page:
            return out
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def mirror_state(owner: asyncpg.Connection, site: UUID) -> dict[str, tuple[str, int]]:
    rows = await owner.fetch(
        "SELECT segment_id, segment_name, member_count FROM firespring_segments WHERE site_id = $1",
        site,
    )
    return {r["segment_id"]: (r["segment_name"], r["member_count"]) for r in rows}


async def test_reader_applies_checkpoints_and_resumes(
    dynamodb_url: str, db: Database, owner: asyncpg.Connection
) -> None:
    config = sync_config.parse(config_text("reader-segments"), "test")
    arn = create_table(dynamodb_url, "reader-segments", "segment_id")
    site = await new_site(owner, "reader_site")
    clients = Clients(dynamodb_url, "us-east-1")
    put_many(dynamodb_url, "reader-segments", range(60), 1)

    reader = StreamReader(db, config, site, clients, ["reader-segments"], poll_interval=0.05)
    assert await reader.run_once() == 60
    assert reader.records == 60 and reader.lag_seconds is not None
    assert await mirror_state(owner, site) == table_state(dynamodb_url, "reader-segments")

    # a new reader (a restart) resumes after the checkpoint: nothing is read twice
    again = StreamReader(db, config, site, clients, ["reader-segments"], poll_interval=0.05)
    assert await again.run_once() == 0
    dynamo = client(dynamodb_url)
    for k in range(5):
        dynamo.delete_item(TableName="reader-segments", Key={"segment_id": {"S": f"s{k:05d}"}})
    put_many(dynamodb_url, "reader-segments", range(50, 70), 2)
    assert await again.run_once() == 25
    assert await mirror_state(owner, site) == table_state(dynamodb_url, "reader-segments")
    last = stream_records(dynamodb_url, arn)[-1]["dynamodb"]["SequenceNumber"]
    saved = await owner.fetchval(
        "SELECT sequence_number FROM leadtrail.sync_checkpoints WHERE site_id = $1", site
    )
    assert saved == last

    # as a component: start, see a new write arrive, stop
    await again.start()
    try:
        put_many(dynamodb_url, "reader-segments", range(100, 101), 3)
        for _ in range(400):
            if "s00100" in await mirror_state(owner, site):
                break
            await asyncio.sleep(0.025)
        assert (await mirror_state(owner, site))["s00100"] == ("g3", 300100)
    finally:
        await again.stop()


async def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_sigkill_during_sync_loses_and_duplicates_nothing(
    dynamodb_url: str,
    db: Database,
    owner: asyncpg.Connection,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
    tmp_path: Path,
) -> None:
    arn = create_table(dynamodb_url, "killed-segments", "segment_id")
    site = await new_site(owner, "killed_site")
    config_file = tmp_path / "sync.toml"
    config_file.write_text(config_text("killed-segments"))
    env = {
        **cli_env,
        **AWS_ENV,
        "LEADTRAIL_DATABASE_URL": test_database.owner_dsn,
        "LEADTRAIL_SYNC_CONFIG": str(config_file),
        "LEADTRAIL_DYNAMODB_ENDPOINT_URL": dynamodb_url,
        "LEADTRAIL_SYNC_POLL_INTERVAL": "0.05",
    }
    put_many(dynamodb_url, "killed-segments", range(3000), 1)
    put_many(dynamodb_url, "killed-segments", range(0, 3000, 2), 2)
    args = [sys.executable, "-m", "leadtrail", "sync", "run", "--site", "killed_site",
            "--table", "killed-segments"]  # fmt: skip

    async def checkpoint() -> str | None:
        return await owner.fetchval(  # type: ignore[no-any-return]
            "SELECT sequence_number FROM leadtrail.sync_checkpoints WHERE site_id = $1", site
        )

    first = await asyncio.create_subprocess_exec(*args, env=env, stderr=asyncio.subprocess.PIPE)
    try:
        await _wait_for(lambda: _truthy(checkpoint()))
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    # A COMMIT the killed process had already sent still completes on the server: read the
    # checkpoint only once no other session of this database is mid-transaction.
    await _wait_for(lambda: _quiet(owner))
    killed_at = await checkpoint()
    records = stream_records(dynamodb_url, arn)
    done = (
        next(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] == killed_at) + 1
    )
    assert done < len(records), "the first process finished before it was killed"

    # lose nothing: what the killed process committed is exactly the first `done` records
    replay = await new_site(owner, "killed_replay")
    spec = sync_config.parse(config_text("killed-segments"), "test").table("killed-segments")
    await apply_records(db, replay, spec, records[:done])
    assert await mirror_state(owner, site) == await mirror_state(owner, replay)

    put_many(dynamodb_url, "killed-segments", range(0, 3000, 3), 3)
    total = len(stream_records(dynamodb_url, arn))
    second = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        last = records[-1]["dynamodb"]["SequenceNumber"]
        final = stream_records(dynamodb_url, arn)[-1]["dynamodb"]["SequenceNumber"]
        assert final != last
        await _wait_for(lambda: _equals(checkpoint(), final))
    finally:
        second.send_signal(signal.SIGTERM)
        out, err = await second.communicate()
    assert second.returncode == 0, err.decode()
    # duplicate nothing: the restarted process read only the records after the checkpoint
    assert out.decode().strip().startswith(f"applied {total - done} records")
    assert await mirror_state(owner, site) == table_state(dynamodb_url, "killed-segments")


async def _quiet(owner: asyncpg.Connection) -> bool:
    busy = await owner.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND state <> 'idle'"
    )
    return busy == 0


async def _truthy(value: Any) -> bool:
    return bool(await value)


async def _equals(value: Any, expected: str) -> bool:
    return await value == expected


async def test_configuration_is_checked_against_the_database_at_start(
    db: Database,
    settings: Settings,
    tmp_path: Path,
    test_database: ModuleDatabase,
    cli_env: dict[str, str],
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[tables.t]\ntarget = "firespring_segments"\nkey = { segment_id = "id" }\n'
        'fields = { colour = { path = "c" } }\n'
    )
    service = SyncService(settings.model_copy(update={"sync_config": str(bad)}), db)
    with pytest.raises(ConfigError, match=r"tables\.t: firespring_segments has no column 'colour'"):
        await service.start()
    code, _, err = await leadtrail_cli(
        test_database, {**cli_env, "LEADTRAIL_SYNC_CONFIG": str(bad)}, "sync", "check"
    )
    assert code == 1
    assert err == f"error: {bad}: tables.t: firespring_segments has no column 'colour'\n"
    code, out, _ = await leadtrail_cli(test_database, cli_env, "sync", "check")
    assert (code, out) == (0, "default.toml: 9 tables, configuration is valid\n")
