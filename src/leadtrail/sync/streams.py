"""The DynamoDB Streams reader: a background component that follows each configured
table's stream and applies its records, checkpointing in PostgreSQL.

Each batch of records and the checkpoint after it commit in one transaction, so a crash
at any point resumes exactly after the last applied record: nothing lost, nothing applied
twice. Expired iterators are re-requested from the checkpoint; a trimmed checkpoint
(older than the stream's 24 hours) restarts at the oldest record still there and is
counted as an error. Metrics are plain attributes (``records``, ``errors``,
``lag_seconds``) for a scheduler or a metrics exporter to read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError

from leadtrail.storage import Connection, Database
from leadtrail.sync.aws import Clients
from leadtrail.sync.config import SyncConfig, TableSpec
from leadtrail.sync.mirror import Q
from leadtrail.sync.service import BatchResult, apply_records, writer_claims
from leadtrail.sync.shards import Checkpoint, Shard, iterator_request, readable

logger = logging.getLogger(__name__)

#: records per GetRecords call (the API's maximum)
PAGE = 1000
#: pages read from one shard in one pass before moving to the next shard
PAGES_PER_PASS = 20

OnApplied = Callable[[UUID, TableSpec, BatchResult], Awaitable[None]]


def _lag(records: list[dict[str, Any]]) -> float | None:
    created = records[-1].get("dynamodb", {}).get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        return max(0.0, (datetime.now(UTC) - created).total_seconds())
    return None


class StreamReader:
    """Follows the streams of ``tables`` for one site."""

    name = "dynamodb-stream"

    def __init__(
        self,
        db: Database,
        config: SyncConfig,
        site_id: UUID,
        clients: Clients,
        tables: list[str] | None = None,
        poll_interval: float = 1.0,
        on_applied: OnApplied | None = None,
    ) -> None:
        self._db = db
        self._site_id = site_id
        self._clients = clients
        self._specs = [config.table(t) for t in (tables or sorted(config.tables))]
        self._poll_interval = poll_interval
        self._on_applied = on_applied
        self._iterators: dict[tuple[str, str], str] = {}
        self._arns: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        #: records applied (all tables), failed records sent to the DLQ, failed passes
        self.records = 0
        self.dead_letters = 0
        self.errors = 0
        #: seconds between the last applied record's creation and its commit here
        self.lag_seconds: float | None = None
        #: monotonic time of the last completed pass (a liveness signal)
        self.last_pass: float | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except Exception:
                self.errors += 1
                logger.exception("dynamodb stream pass failed; retrying")
                busy = 0
            if not busy:
                await asyncio.sleep(self._poll_interval)

    async def run_once(self) -> int:
        """One pass over every shard that may be read; returns the records applied."""
        total = 0
        for spec in self._specs:
            total += await self._table_pass(spec)
        self.last_pass = time.monotonic()
        return total

    async def _arn(self, spec: TableSpec) -> str:
        arn = self._arns.get(spec.source)
        if arn is None:
            client = self._clients.dynamodb(spec.region)
            desc = await asyncio.to_thread(client.describe_table, TableName=spec.source)
            arn = desc["Table"].get("LatestStreamArn")
            if not arn:
                raise RuntimeError(f"table {spec.source} has no stream enabled")
            self._arns[spec.source] = arn
        return arn

    async def _shards(self, spec: TableSpec, arn: str) -> list[Shard]:
        client = self._clients.streams(spec.region)
        shards: list[Shard] = []
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            desc = (await asyncio.to_thread(client.describe_stream, **kwargs))["StreamDescription"]
            shards.extend(Shard.from_api(s) for s in desc.get("Shards", []))
            start = desc.get("LastEvaluatedShardId")
            if not start:
                return shards

    async def _checkpoints(self, arn: str) -> dict[str, Checkpoint]:
        async with self._db.transaction(writer_claims(self._site_id)) as conn:
            rows = await conn.fetch(Q.checkpoints, self._site_id, arn)
        return {r["shard_id"]: Checkpoint(r["sequence_number"], r["finished"]) for r in rows}

    async def _table_pass(self, spec: TableSpec) -> int:
        arn = await self._arn(spec)
        shards = await self._shards(spec, arn)
        total = 0
        # a parent finished in this pass makes its children readable: loop until stable
        while True:
            checkpoints = await self._checkpoints(arn)
            todo = readable(shards, checkpoints)
            finished_any = False
            for shard in todo:
                applied, finished = await self._read_shard(spec, arn, shard, checkpoints)
                total += applied
                finished_any |= finished
            if not finished_any:
                return total

    async def _iterator(
        self, spec: TableSpec, arn: str, shard: Shard, checkpoint: Checkpoint | None
    ) -> str | None:
        cached = self._iterators.get((arn, shard.shard_id))
        if cached is not None:
            return cached
        client = self._clients.streams(spec.region)
        request = iterator_request(shard, checkpoint)
        try:
            out = await asyncio.to_thread(client.get_shard_iterator, StreamArn=arn, **request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TrimmedDataAccessException":
                raise
            self.errors += 1
            logger.error("%s: checkpoint of %s was trimmed; reading from the oldest record",
                         spec.source, shard.shard_id)  # fmt: skip
            out = await asyncio.to_thread(
                client.get_shard_iterator,
                StreamArn=arn,
                ShardId=shard.shard_id,
                ShardIteratorType="TRIM_HORIZON",
            )
        iterator: str | None = out.get("ShardIterator")
        return iterator

    async def _read_shard(
        self, spec: TableSpec, arn: str, shard: Shard, checkpoints: dict[str, Checkpoint]
    ) -> tuple[int, bool]:
        """Read up to PAGES_PER_PASS pages; returns (records applied, shard finished)."""
        client = self._clients.streams(spec.region)
        checkpoint = checkpoints.get(shard.shard_id)
        applied = 0
        for _ in range(PAGES_PER_PASS):
            iterator = await self._iterator(spec, arn, shard, checkpoint)
            if iterator is None:
                await self._save(arn, shard, checkpoint, finished=True)
                return applied, True
            try:
                page = await asyncio.to_thread(
                    client.get_records, ShardIterator=iterator, Limit=PAGE
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "ExpiredIteratorException":
                    self._iterators.pop((arn, shard.shard_id), None)
                    continue
                raise
            except BotoCoreError:
                self._iterators.pop((arn, shard.shard_id), None)
                raise
            records: list[dict[str, Any]] = page.get("Records", [])
            following: str | None = page.get("NextShardIterator")
            finished = following is None
            if records:
                last = records[-1]["dynamodb"]["SequenceNumber"]
                checkpoint = Checkpoint(last, finished)
                done = checkpoint

                async def save(conn: Connection, done: Checkpoint = done) -> None:
                    await self._save_in(conn, arn, shard, done)

                result = await apply_records(self._db, self._site_id, spec, records, also=save)
                applied += len(records)
                self.records += len(records)
                self.dead_letters += result.failed
                self.lag_seconds = _lag(records)
                if self._on_applied is not None:
                    await self._on_applied(self._site_id, spec, result)
            elif finished:
                await self._save(arn, shard, checkpoint, finished=True)
            if finished:
                self._iterators.pop((arn, shard.shard_id), None)
                return applied, True
            assert following is not None
            self._iterators[(arn, shard.shard_id)] = following
            if not records:
                return applied, False
        return applied, False

    async def _save(
        self, arn: str, shard: Shard, checkpoint: Checkpoint | None, *, finished: bool
    ) -> None:
        done = Checkpoint(checkpoint.sequence_number if checkpoint else None, finished)
        async with self._db.transaction(writer_claims(self._site_id)) as conn:
            await self._save_in(conn, arn, shard, done)

    async def _save_in(self, conn: Connection, arn: str, shard: Shard, done: Checkpoint) -> None:
        await conn.execute(
            Q.save_checkpoint,
            self._site_id,
            arn,
            shard.shard_id,
            shard.parent_id,
            done.sequence_number,
            done.finished,
            datetime.now(UTC),
        )
