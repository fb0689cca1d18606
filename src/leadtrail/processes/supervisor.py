"""``leadtrail serve --workers N``: N API workers on one port, and the node that runs the rest.

The API workers share one listening socket, bound here and handed to each worker by
uvicorn's multiprocess supervisor (the kernel spreads connections between the accepting
processes); the supervisor pings them and replaces one that dies or hangs. They run with
``LEADTRAIL_ROLE=api``: HTTP and ingest, no change feed, no leader jobs.

Whatever else the roles ask for (``realtime``, ``worker``; both with the default ``all``)
runs in one more ``leadtrail serve`` process on ``LEADTRAIL_REALTIME_PORT``, restarted
here if it exits. A reverse proxy routes ``/realtime/`` to that port (docs/processes.md).

The database is made ready once, before any worker starts (the embedded server started,
migrations applied), and the embedded server is left running until the last process
using it is gone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from uvicorn.supervisors.multiprocess import Multiprocess

from leadtrail.config import Settings
from leadtrail.errors import ConfigError
from leadtrail.storage.database import APP_ROLE, Database
from leadtrail.storage.embedded import EmbeddedPostgres
from leadtrail.web.server_config import uvicorn_config

logger = logging.getLogger(__name__)
WORKER_APP = "leadtrail.processes.worker:app"
WORKER_HTTP = "leadtrail.processes.worker:WorkerHttpProtocol"


def check(settings: Settings) -> None:
    """Refuse setups whose shared state would silently be per process."""
    if "api" not in settings.roles:
        raise ConfigError("--workers runs API workers: use it with --role api or all")
    if not settings.redis_url:
        raise ConfigError(
            "several API workers share rate limits and login throttles through Redis: "
            "set LEADTRAIL_REDIS_URL (docs/processes.md)"
        )


def side_roles(settings: Settings) -> str:
    """The roles of the node started beside the API workers ('' when none)."""
    return ",".join(sorted(settings.roles - {"api"}))


def side_port(settings: Settings) -> int:
    port = settings.realtime_port or settings.port + 1
    if port > 65535 or port == settings.port:
        raise ConfigError("LEADTRAIL_REALTIME_PORT: choose a free port other than the API's")
    return port


def prepare_database(settings: Settings) -> EmbeddedPostgres | None:
    """Start the embedded server if there is one and apply migrations, once for all
    processes; the returned handle keeps the embedded server up until :func:`release`."""

    async def run() -> EmbeddedPostgres | None:
        dsn, embedded = await Database.resolve_dsn(settings)
        try:
            app_dsn = embedded.dsn(user=APP_ROLE) if embedded is not None else None
            db = await Database.open(settings, dsn=dsn, app_dsn=app_dsn)
            await db.close()  # opened with a DSN: the embedded server stays up
        except BaseException:
            if embedded is not None:
                await asyncio.to_thread(embedded.stop)
            raise
        return embedded

    return asyncio.run(run())


class SideNode:
    """The realtime / background ``leadtrail serve`` beside the API workers, restarted
    (after a second's pause) whenever it exits while the supervisor runs."""

    def __init__(self, roles: str, port: int, env: dict[str, str], public_url: str) -> None:
        self.port = port
        self._argv = [sys.executable, "-m", "leadtrail", "serve", "--workers", "1"]
        self._argv += ["--role", roles, "--port", str(port)]
        self._env = env | {"LEADTRAIL_ROLE": roles, "LEADTRAIL_WORKERS": "1"}
        # its first-run banner and snippets name the address visitors use: the API port
        self._env.setdefault("LEADTRAIL_PUBLIC_URL", public_url)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="side-node", daemon=True)

    def start(self) -> None:
        self._proc = subprocess.Popen(self._argv, env=self._env)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            assert self._proc is not None
            code = self._proc.wait()
            if self._stopping.wait(1.0):
                return
            logger.warning("the %s node exited (%s); starting it again", self._argv[6], code)
            self._proc = subprocess.Popen(self._argv, env=self._env)

    def stop(self) -> None:
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def serve(settings: Settings, echo: Callable[[str], Any]) -> None:
    """Run until SIGINT/SIGTERM: API workers on ``settings.port``, plus the side node."""
    check(settings)
    rest = side_roles(settings)
    port = side_port(settings) if rest else None
    embedded = prepare_database(settings)
    # The workers read their settings from the environment (spawned interpreters).
    os.environ.update({
        "LEADTRAIL_ROLE": "api",
        "LEADTRAIL_WORKERS": "1",
        "LEADTRAIL_HOST": settings.host,
        "LEADTRAIL_PORT": str(settings.port),
    })  # fmt: skip
    side = SideNode(rest, port, dict(os.environ), settings.base_url) if rest and port else None
    config = uvicorn_config(
        WORKER_APP, settings, factory=True, workers=settings.workers, http=WORKER_HTTP
    )
    sock = config.bind_socket()
    try:
        if side is not None:
            side.start()
            echo(f"{rest} node on port {side.port}; route /realtime/ there (docs/processes.md)")
        echo(f"{settings.workers} API workers on {settings.base_url}  (Ctrl-C stops them)")
        Multiprocess(config, sockets=[sock]).run()
    finally:
        if side is not None:
            side.stop()
        sock.close()
        if embedded is not None:
            embedded.stop()
