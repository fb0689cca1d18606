"""Settings read once from ``LEADTRAIL_*`` environment variables.

This module imports nothing from the package: every layer may depend on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    """Per-user data directory (``~/.local/share/leadtrail`` on Linux)."""
    return platformdirs.user_data_path("leadtrail")


class Settings(BaseSettings):
    """Frozen configuration; see ``docs/settings.md`` for every variable."""

    model_config = SettingsConfigDict(env_prefix="LEADTRAIL_", frozen=True, extra="ignore")

    #: PostgreSQL URL; unset means "start the embedded server in ``data_dir``".
    database_url: str | None = None
    #: Where the embedded database, the secret key and other state live.
    data_dir: Path = Field(default_factory=default_data_dir)
    #: Address ``leadtrail serve`` binds to.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: Base URL visitors' browsers use to reach leadtrail (tracker snippet, dashboard link).
    public_url: str | None = None
    #: Key that signs dashboard cookies; generated into ``data_dir/secret_key`` when unset.
    secret_key: str | None = None
    log_level: str = "info"
    #: Connections per pool (the request-path pool and the system pool each get this many).
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)
    #: Send dashboard cookies with the Secure flag (set when served over HTTPS).
    cookie_secure: bool = False
    #: Lifetime of a dashboard login, in seconds.
    session_max_age: int = Field(default=14 * 24 * 3600, ge=60)
    #: Monthly partitions created ahead of the current month.
    partitions_ahead: int = Field(default=3, ge=0, le=24)
    #: OpenID Connect single sign-on (optional): the provider's issuer URL, and this app's client.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid email profile"
    #: Text of the dashboard's sign-in button.
    oidc_label: str = "Sign in with SSO"
    #: Seconds between passes of the retention job (drops expired monthly partitions).
    retention_interval: float = Field(default=6 * 3600.0, gt=0)
    #: Where expired months are archived as Parquet for sites that ask (data_dir/archive).
    archive_dir: Path | None = None
    #: Memory the embedded server may use for its buffer cache.
    embedded_shared_buffers: str = "1GB"
    #: Upper bound on WAL kept for replication slots on the embedded server.
    embedded_max_slot_wal_keep_size: str = "4GB"
    #: Seconds between passes of the rollup job (reports lag the data by about this much).
    rollup_interval: float = Field(default=10.0, gt=0, le=3600)
    #: Hours of recent sessions re-aggregated once an hour (late events, identity changes).
    rollup_settle_hours: int = Field(default=26, ge=1, le=24 * 31)

    #: /api/sync requests per client IP (seed default 100/minute) and per site.
    sync_ip_rate_limit: str = "100/minute"
    sync_site_rate_limit: str = "60000/minute"
    #: Redis for rate-limit counters shared by several processes; memory when unset.
    redis_url: str | None = None
    #: MaxMind-format (GeoLite2/GeoIP2 City) database for visitor locations.
    geoip_db: Path | None = None
    #: Location headers set by a trusted proxy: none, cloudflare, vercel, cloudfront, generic.
    geo_headers: str = "none"
    #: Peers whose X-Forwarded-For and location headers are believed (comma-separated CIDRs).
    trusted_proxies: str = "127.0.0.1/32,::1/128"
    #: Most events the ingest writer commits in one transaction.
    ingest_max_batch_events: int = Field(default=5000, ge=1)
    #: Concurrent writer transactions (batches in flight at once).
    ingest_writers: int = Field(default=2, ge=1, le=16)
    #: Events waiting for the writer above which /api/sync answers 503 with Retry-After.
    ingest_max_pending_events: int = Field(default=50_000, ge=1)
    #: Seconds one writer statement may run (lock waits: half); a stuck batch gets 503.
    ingest_write_timeout: float = Field(default=30.0, gt=0, le=3600)
    #: TEST ONLY: make the writer lose or double one acknowledged event, so the ingest
    #: benchmark's exactly-once check can be shown to catch it. Never set it in production.
    ingest_fault: Literal["drop_one", "duplicate_one"] | None = None
    #: Seconds between passes of the background identity resolver; 0 turns it off.
    identity_resolve_interval: float = Field(default=1.0, ge=0, le=3600)
    #: Sessions linked per resolver transaction.
    identity_batch_size: int = Field(default=500, ge=1, le=10000)
    #: Run the realtime change feed (logical decoding) in this process.
    realtime_enabled: bool = True
    #: Name of this realtime node; each node has its own replication slot. A server finding
    #: the name held by a live server takes ``<name>_2``, ``<name>_3`` … (docs/realtime.md).
    realtime_node: str = Field(default="main", pattern=r"^[A-Za-z0-9_]{1,30}$")
    #: No effect since the feed streams (issue 18); kept so existing configurations load.
    realtime_poll_interval: float = Field(default=0.02, gt=0, le=5)
    #: How long, in seconds, changes stay in the replay log for ``since`` joins.
    realtime_replay_seconds: int = Field(default=3600, ge=0)
    #: Most changes kept in the replay log.
    realtime_replay_max_changes: int = Field(default=1_000_000, ge=0)
    #: Seconds a node may be gone before another node drops its replication slot.
    realtime_slot_max_idle: int = Field(default=86400, ge=60)
    #: Channels one WebSocket connection may join.
    realtime_max_channels: int = Field(default=100, ge=1)
    #: Messages per second one connection may send (heartbeats excluded).
    realtime_max_messages_per_second: int = Field(default=100, ge=1)
    #: Largest message a client may send, in bytes.
    realtime_max_payload_bytes: int = Field(default=256 * 1024, ge=1024)
    #: Messages queued for one slow client before it is disconnected.
    realtime_max_queue: int = Field(default=10_000, ge=10)
    #: Bytes queued for one slow client before it is disconnected (whatever the count).
    realtime_max_queue_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    #: Seconds between checks of an open realtime connection's credential (a revoked key,
    #: a logged-out session or a lost membership then takes effect).
    realtime_revalidate_interval: float = Field(default=30.0, gt=0, le=3600)
    #: Seconds between passes of the experiments job (copies exposures from tracker events,
    #: completes tests that have a winner or passed their end date).
    experiments_interval: float = Field(default=60.0, gt=0, le=86400)
    #: Seconds between passes of the behaviour job (friction rollups, funnel rows).
    behaviour_interval: float = Field(default=30.0, gt=0, le=3600)
    #: Login attempts per client IP, and failed logins per account: several windows each
    #: (stepped backoff); over either, 429 with Retry-After before any password is checked.
    login_ip_rate_limit: str = "30/minute;300/hour"
    login_account_rate_limit: str = "5/minute;20/hour;100/day"
    #: Largest request body, in bytes, for routes without a size of their own (see
    #: docs/security.md for those); counted as it arrives, 413 ``body_too_large`` past it.
    http_max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Seconds a client may take to send its request headers, and between two parts of its
    #: body; then 408 and the connection is closed (``leadtrail serve``'s HTTP protocol).
    http_header_timeout: float = Field(default=10.0, gt=0, le=600)
    http_body_timeout: float = Field(default=30.0, gt=0, le=3600)
    #: Seconds an idle keep-alive connection stays open.
    http_keep_alive_timeout: float = Field(default=5.0, gt=0, le=600)
    #: Open realtime WebSockets one client IP may hold; more are refused (HTTP 429).
    realtime_max_connections_per_ip: int = Field(default=50, ge=1)

    #: This process's name in leases, heartbeats and ``leadtrail status`` (default host:pid).
    node_id: str | None = Field(default=None, max_length=100)
    #: Seconds a scheduler lease lasts without renewal: a dead leader is replaced within it.
    leader_lease_ttl: float = Field(default=15.0, ge=1, le=600)
    #: Seconds between heartbeats of this process's components; 0 turns them off.
    heartbeat_interval: float = Field(default=30.0, ge=0, le=3600)
    #: Seconds without a beat after which a component counts as dead.
    heartbeat_dead_after: float = Field(default=120.0, gt=0)
    #: Seconds beats are kept (each component's latest stays until ``heartbeat_forget_after``).
    heartbeat_keep: float = Field(default=86400.0, gt=0)
    heartbeat_forget_after: float = Field(default=7 * 86400.0, gt=0)
    #: Seconds between heartbeat clean-ups (the seed runs cleanup_old_heartbeats every 5 min).
    heartbeat_cleanup_interval: float = Field(default=300.0, gt=0)
    #: Period of the scheduler's canary job (a fenced row per period); 0 turns it off.
    scheduler_probe_interval: float = Field(default=0.0, ge=0)
    #: Seconds the canary holds its fenced transaction open.
    scheduler_probe_hold: float = Field(default=0.2, ge=0, le=10)
    #: Seconds one webhook request may take.
    webhook_timeout: float = Field(default=10.0, gt=0, le=120)
    #: First retry delay (doubles each failure, with jitter) and the largest delay, in seconds.
    webhook_retry_base: float = Field(default=5.0, gt=0)
    webhook_retry_cap: float = Field(default=3600.0, gt=0)
    #: Seconds after the fact (or a replay) when retries stop and the delivery is dead.
    webhook_retry_window: float = Field(default=86400.0, gt=0)
    #: Seconds between sender rounds while there is work; the idle sender's one-row looks for
    #: new outbox rows start this long after work and double up to the idle interval
    #: (retries wake it at their due time).
    webhook_busy_interval: float = Field(default=0.02, gt=0, le=5)
    webhook_idle_interval: float = Field(default=1.0, gt=0, le=60)
    #: Lead score at which a session's visitor counts as hot (``visitor.hot``).
    webhook_hot_score: int = Field(default=61, ge=1, le=1000)
    #: Seconds delivered and dead deliveries stay in the delivery log.
    webhook_keep: float = Field(default=30 * 86400.0, gt=0)
    #: Size at which the embedded PostgreSQL starts a new log file, and files kept.
    embedded_log_rotation_size: str = "10MB"
    embedded_log_keep_files: int = Field(default=5, ge=1, le=1000)
    #: No effect since the feed streams (issue 18); kept so existing configurations load.
    realtime_idle_poll_interval: float = Field(default=0.05, gt=0, le=5)
    #: DynamoDB sync (docs/sync.md): transformer configuration file (TOML); unset uses the
    #: shipped configuration for seed 002's nine tables.
    sync_config: str | None = None
    #: Site (public id) the stream reader writes into; unset means no stream reader runs.
    sync_site: str | None = None
    #: Source tables the stream reader follows (comma-separated; empty: every configured one).
    sync_tables: str = ""
    #: Seconds between polls of each stream shard when it had nothing new.
    sync_poll_interval: float = Field(default=1.0, gt=0, le=300)
    #: DynamoDB endpoint (a local DynamoDB or moto); unset means AWS.
    dynamodb_endpoint_url: str | None = None
    #: AWS region of source tables that name none in the sync configuration.
    aws_region: str = "us-east-1"

    #: What this process runs: ``all`` (default: everything in one process), or any of
    #: ``api`` (HTTP + ingest), ``realtime`` (change feed + WebSocket), ``worker`` (leader
    #: jobs: scheduler, webhooks, rollups, stream reader), comma-separated (docs/processes.md).
    role: str = "all"
    #: API worker processes ``leadtrail serve`` runs on its port (uvicorn's supervisor
    #: replaces one that dies); more than one needs ``LEADTRAIL_REDIS_URL``.
    workers: int = Field(default=1, ge=1, le=256)
    #: Port of the realtime + background node that ``serve --workers N`` (N > 1, role all)
    #: starts beside its API workers; unset means ``LEADTRAIL_PORT`` + 1.
    realtime_port: int | None = Field(default=None, ge=1, le=65535)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.lower()
        if level not in {"critical", "error", "warning", "info", "debug"}:
            raise ValueError("must be one of critical, error, warning, info, debug")
        return level

    @field_validator("role")
    @classmethod
    def _known_roles(cls, value: str) -> str:
        names = {part.strip().lower() for part in value.split(",") if part.strip()}
        if not names or not names <= {"all", "api", "realtime", "worker"}:
            raise ValueError("must be all, or a comma-separated list of api, realtime, worker")
        return ",".join(sorted(names))

    @property
    def roles(self) -> frozenset[str]:
        """The roles of this process (``all`` expanded)."""
        names = frozenset(self.role.split(","))
        return frozenset({"api", "realtime", "worker"}) if "all" in names else names

    @property
    def node(self) -> str:
        """This process's id in leases and heartbeats."""
        if self.node_id:
            return self.node_id
        import os
        import socket

        return f"{socket.gethostname()}:{os.getpid()}"

    @property
    def base_url(self) -> str:
        """URL printed in snippets and links."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host
        return f"http://{host}:{self.port}"
