"""What routes need, built once per app in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from leadtrail.analytics.rollups import Rollups
from leadtrail.auth.service import Authenticator
from leadtrail.auth.signing import signing_key
from leadtrail.auth.throttle import LoginThrottle
from leadtrail.behaviour.service import behaviour_pass
from leadtrail.components import Component
from leadtrail.config import Settings
from leadtrail.experiments.job import run_once as experiments_job
from leadtrail.heartbeats.publisher import HeartbeatPublisher
from leadtrail.identity.resolver import IdentityResolver
from leadtrail.ingest.geo import GeoResolver
from leadtrail.ingest.rejections import Rejections
from leadtrail.ingest.service import IngestService
from leadtrail.ingest.sites import SiteCache
from leadtrail.ingest.writer import Writer
from leadtrail.lifecycle import retention
from leadtrail.processes.invalidation import SiteInvalidations
from leadtrail.ratelimit import RateLimiter
from leadtrail.realtime.service import Realtime
from leadtrail.scheduling import Job, Scheduler, simple
from leadtrail.storage import Database
from leadtrail.sync.component import SyncService
from leadtrail.web import jobs
from leadtrail.webhooks.secrets import SecretBox
from leadtrail.webhooks.sender import WebhookSender


@dataclass
class Services:
    settings: Settings
    db: Database
    auth: Authenticator
    ingest: IngestService
    limiter: RateLimiter
    identity_resolver: IdentityResolver
    rollups: Rollups
    #: leader election and every periodic job (see ``web/jobs.py``)
    scheduler: Scheduler
    heartbeats: HeartbeatPublisher
    #: encrypts webhook endpoint secrets
    secret_box: SecretBox
    webhook_sender: WebhookSender
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
        fault=settings.ingest_fault,
        hot_score=settings.webhook_hot_score,
    )
    svc = Services(
        settings=settings,
        db=db,
        auth=Authenticator(
            db,
            signing_key(settings),
            settings.session_max_age,
            LoginThrottle(limiter, settings.login_ip_rate_limit, settings.login_account_rate_limit),
        ),
        ingest=IngestService(
            settings,
            SiteCache(db),
            writer,
            GeoResolver(settings.geo_headers, settings.geoip_db),
            limiter,
            Rejections(db),
        ),
        limiter=limiter,
        identity_resolver=IdentityResolver(
            db, settings.identity_resolve_interval, settings.identity_batch_size
        ),
        rollups=Rollups(db, settle_hours=settings.rollup_settle_hours),
        scheduler=Scheduler(db, settings.node, ttl=settings.leader_lease_ttl),
        heartbeats=HeartbeatPublisher(db, settings.heartbeat_interval),
        secret_box=SecretBox(signing_key(settings)),
        webhook_sender=jobs.webhook_sender(settings, db),
    )
    svc.components.append(writer)
    if svc.ingest.rejections is not None:
        svc.components.append(svc.ingest.rejections)  # per process: its own counts
    roles = settings.roles  # docs/processes.md: what runs in which process
    if "realtime" in roles:
        svc.realtime = Realtime(settings, db, svc.auth)
        svc.components.extend(svc.realtime.components)
    # every process caches sites: a change made anywhere clears every cache
    svc.components.append(SiteInvalidations(db, svc.ingest.sites))
    jobs.register(svc)
    # leader-only jobs of the later features (issues 12, 13, 16)
    archive = settings.archive_dir or settings.data_dir / "archive"
    svc.scheduler.add(
        Job("retention", settings.retention_interval, simple(lambda: retention.run(db, archive)))
    )
    svc.scheduler.add(
        Job("experiments", settings.experiments_interval, simple(lambda: experiments_job(db)))
    )
    svc.scheduler.add(
        Job("behaviour", settings.behaviour_interval, simple(behaviour_pass(settings, db)))
    )
    if "worker" in roles:  # leader jobs, webhooks and the stream reader: background nodes
        svc.components.append(svc.scheduler)
    svc.components.append(svc.heartbeats)
    svc.sync = SyncService(settings, db)
    if "worker" in roles:
        svc.components.append(svc.sync)
        svc.scheduler.add_service(svc.sync)  # its stream reader: on the leader only
    return svc


def services(conn: HTTPConnection) -> Services:
    value = conn.app.state.services
    assert isinstance(value, Services)
    return value
