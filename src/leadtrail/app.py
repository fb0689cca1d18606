"""Builds the ASGI application: wiring only."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI

from leadtrail import __version__, bootstrap
from leadtrail.auth.service import Authenticator
from leadtrail.auth.signing import signing_key
from leadtrail.config import Settings
from leadtrail.storage import Database
from leadtrail.web import assets, auth_routes, errors, health
from leadtrail.web.access_log import AccessLogMiddleware
from leadtrail.web.services import Services

logger = logging.getLogger(__name__)
PARTITION_CHECK_SECONDS = 6 * 3600


async def _keep_partitions(db: Database, months_ahead: int) -> None:
    """Create next months' partitions well before they are needed."""
    while True:
        await asyncio.sleep(PARTITION_CHECK_SECONDS)
        try:
            created = await db.ensure_partitions(months_ahead)
            if created:
                logger.info("created %d monthly partitions", created)
        except Exception:
            logger.exception("partition upkeep failed; will retry")


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    on_first_run: Callable[[bootstrap.FirstRun], None] | None = None,
) -> FastAPI:
    """The leadtrail app. With ``database`` given, the caller owns its lifecycle."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or await Database.open(settings)
        upkeep: asyncio.Task[None] | None = None
        try:
            app.state.services = Services(
                settings=settings,
                db=db,
                auth=Authenticator(db, signing_key(settings), settings.session_max_age),
            )
            if on_first_run is not None:
                result = await bootstrap.first_run(db)
                if result is not None:
                    on_first_run(result)
            upkeep = asyncio.create_task(_keep_partitions(db, settings.partitions_ahead))
            yield
        finally:
            if upkeep is not None:
                upkeep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await upkeep
            if database is None:
                await db.close()

    app = FastAPI(
        title="leadtrail",
        version=__version__,
        summary="Real-time visitor tracking, identity resolution and lead attribution",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    app.add_middleware(AccessLogMiddleware)
    app.include_router(health.router)
    app.include_router(auth_routes.router)
    app.include_router(assets.router)
    app.mount("/assets", assets.static_files(), name="assets")
    return app
