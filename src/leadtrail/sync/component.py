"""The sync's place in a server process: the configuration (validated at start), the
boto3 clients, the stream reader when ``LEADTRAIL_SYNC_SITE`` is set, and the step that
turns freshly mirrored Firespring visitors and leads into leadtrail's own rows."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from leadtrail.config import Settings
from leadtrail.errors import ConfigError
from leadtrail.scheduling import Fence
from leadtrail.storage import Database
from leadtrail.sync import config as sync_config
from leadtrail.sync.aws import Clients
from leadtrail.sync.changes import parse_records, table_of
from leadtrail.sync.config import SyncConfig, TableSpec
from leadtrail.sync.correlate import correlate_visitors, populate_leads
from leadtrail.sync.mirror import check_tables
from leadtrail.sync.service import BatchResult, apply_in, writer_claims
from leadtrail.sync.streams import StreamReader

logger = logging.getLogger(__name__)


async def flow_into_model(
    db: Database, site_id: UUID, spec: TableSpec, result: BatchResult
) -> None:
    """Mirrored visitors -> sessions, events and people; mirrored leads -> leads.

    Runs after the mirror rows committed; a failure here is logged and leaves the mirror
    as it is (``leadtrail sync correlate`` redoes the step: its ids are deterministic)."""
    if not result.keys:
        return
    try:
        if spec.target == "firespring_visitors":
            await correlate_visitors(db, site_id, sorted({k[0] for k in result.keys}))
        elif spec.target == "mmp_toledo_leads":
            await populate_leads(db, site_id)
    except Exception:
        logger.exception("correlating %s rows of site %s failed", spec.target, site_id)


class SyncService:
    """Background component (``start``/``stop``) and what the HTTP routes need."""

    name = "dynamodb-sync"

    def __init__(self, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db
        self._config: SyncConfig | None = None
        self.clients = Clients(settings.dynamodb_endpoint_url, settings.aws_region)
        #: the stream reader, when one runs in this process (its metrics are attributes)
        self.reader: StreamReader | None = None

    @property
    def config(self) -> SyncConfig:
        if self._config is None:
            self._config = sync_config.load(self._settings.sync_config)
        return self._config

    async def start(self) -> None:
        """Validate a configured sync file (a mistake stops the start with one message) and
        prepare the stream reader when a site is set (it starts when this process leads)."""
        if not self._settings.sync_site and not self._settings.sync_config:
            return
        async with self._db.system() as conn:
            await check_tables(conn, self.config)
            if not self._settings.sync_site:
                return
            site_id = await conn.fetchval(
                "SELECT id FROM sites WHERE public_id = $1", self._settings.sync_site
            )
        if site_id is None:
            raise ConfigError(f"LEADTRAIL_SYNC_SITE: no site {self._settings.sync_site!r}")
        tables = [t.strip() for t in self._settings.sync_tables.split(",") if t.strip()]
        self.reader = StreamReader(
            self._db,
            self.config,
            site_id,
            self.clients,
            tables or None,
            self._settings.sync_poll_interval,
            on_applied=lambda s, spec, r: flow_into_model(self._db, s, spec, r),
        )

    # The reader runs on the scheduler's leader only: with several worker processes, one
    # reader follows each stream (web/services.py registers this as a leader service).
    async def start_leading(self, fence: Fence) -> None:
        if self.reader is not None:
            await self.reader.start()

    async def stop_leading(self) -> None:
        if self.reader is not None:
            await self.reader.stop()

    async def stop(self) -> None:
        if self.reader is not None:
            await self.reader.stop()

    async def apply_lambda_event(
        self, site_id: UUID, records: Sequence[Mapping[str, Any]], table: str | None
    ) -> dict[str, int]:
        """A Lambda event's records (grouped by source table) in one transaction."""
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for index, record in enumerate(records):
            name = table or table_of(record)
            if name is None:
                raise ConfigError(
                    f"Records[{index}]: no eventSourceARN naming a table; pass ?table="
                )
            groups.setdefault(name, []).append(record)
        specs = {name: self.config.table(name) for name in groups}
        out = {"records": len(records), "applied": 0, "removed": 0, "stale": 0, "dead_letters": 0}
        results: list[tuple[TableSpec, BatchResult]] = []
        async with self._db.transaction(writer_claims(site_id)) as conn:
            for name, group in groups.items():
                changes, failures = parse_records(specs[name], group)
                result = await apply_in(conn, site_id, specs[name], changes, failures)
                results.append((specs[name], result))
                out["applied"] += result.applied.upserted
                out["removed"] += result.applied.removed
                out["stale"] += result.applied.stale
                out["dead_letters"] += result.failed
        for spec, result in results:
            await flow_into_model(self._db, site_id, spec, result)
        return out
