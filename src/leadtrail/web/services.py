"""What routes need, built once per app in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from leadtrail.analytics.rollups import Rollups
from leadtrail.auth.service import Authenticator
from leadtrail.auth.signing import signing_key
from leadtrail.components import Component, PeriodicTask
from leadtrail.config import Settings
from leadtrail.identity.resolver import IdentityResolver
from leadtrail.ingest.geo import GeoResolver
from leadtrail.ingest.service import IngestService
from leadtrail.ingest.sites import SiteCache
from leadtrail.ingest.writer import Writer
from leadtrail.realtime.service import Realtime
from leadtrail.storage import Database
from leadtrail.sync.component import SyncService
from leadtrail.web.ratelimit import RateLimiter

PARTITION_CHECK_SECONDS = 6 * 3600


@dataclass
class Services:
    settings: Settings
    db: Database
    auth: Authenticator
    ingest: IngestService
    limiter: RateLimiter
    identity_resolver: IdentityResolver
    rollups: Rollups
    #: started in order with the app, stopped in reverse
    components: list[Component] = field(default_factory=list)
    #: change feed, hub and WebSocket sessions (``/realtime/v1``)
    realtime: Realtime | None = None
    #: DynamoDB sync: configuration, clients, stream reader (``/api/sync/dynamodb``)
    sync: SyncService | None = None


def build_services(settings: Settings, db: Database) -> Services:
    """Wire the domain services and background components of one process."""
    limiter = RateLimiter(settings.redis_url)
    writer = Writer(
        db,
        max_batch_events=settings.ingest_max_batch_events,
        max_pending_events=settings.ingest_max_pending_events,
        workers=settings.ingest_writers,
        write_timeout=settings.ingest_write_timeout,
    )
    svc = Services(
        settings=settings,
        db=db,
        auth=Authenticator(db, signing_key(settings), settings.session_max_age),
        ingest=IngestService(
            settings,
            SiteCache(db),
            writer,
            GeoResolver(settings.geo_headers, settings.geoip_db),
            limiter,
        ),
        limiter=limiter,
        identity_resolver=IdentityResolver(
            db, settings.identity_resolve_interval, settings.identity_batch_size
        ),
        rollups=Rollups(db, settle_hours=settings.rollup_settle_hours),
    )
    svc.components.append(
        PeriodicTask(
            "partition-upkeep",
            PARTITION_CHECK_SECONDS,
            lambda: db.ensure_partitions(settings.partitions_ahead),
        )
    )
    svc.components.append(writer)
    svc.components.append(svc.identity_resolver)
    svc.realtime = Realtime(settings, db, svc.auth)
    svc.components.extend(svc.realtime.components)
    svc.components.append(PeriodicTask("rollups", settings.rollup_interval, svc.rollups.run_once))
    svc.sync = SyncService(settings, db)
    svc.components.append(svc.sync)
    return svc


def services(conn: HTTPConnection) -> Services:
    value = conn.app.state.services
    assert isinstance(value, Services)
    return value
