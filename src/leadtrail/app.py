"""Builds the ASGI application: wiring only."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import Receive, Scope, Send

from leadtrail import __version__, bootstrap
from leadtrail.components import Component
from leadtrail.config import Settings
from leadtrail.storage import Database
from leadtrail.web import (
    access_table,
    account_routes,
    analytics_routes,
    api_docs,
    assets,
    auth_routes,
    behaviour_routes,
    call_provider_routes,
    correlator_routes,
    dashboard,
    diagnostics_routes,
    dni_routes,
    errors,
    experiment_routes,
    funnel_routes,
    health,
    lead_routes,
    live_routes,
    metrics,
    money_routes,
    openapi_contract,
    ops_routes,
    people_routes,
    privacy_routes,
    proposal_routes,
    realtime_routes,
    site_routes,
    site_script,
    sso_routes,
    sync,
    sync_routes,
    webhook_routes,
)
from leadtrail.web.access_log import AccessLogMiddleware
from leadtrail.web.request_guard import RequestGuard
from leadtrail.web.services import build_services

logger = logging.getLogger(__name__)


class LeadtrailApp(FastAPI):
    """FastAPI, except that ``/api/sync`` (the hot path) is answered before Starlette's
    middleware stack: profiling showed the stack's layers (error handling, telemetry, body
    limit) at ~10 % of a single-event request's CPU. Everything else passes the request
    guard first (body limits and deadlines, WebSockets per IP); ``/api/sync`` reads its
    body through the guard's counter itself."""

    guard: RequestGuard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == sync.PATH:
            await sync.serve(self, scope, receive, send)
            return
        await self.guard(scope, receive, send, super().__call__)


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
        started: list[Component] = []
        try:
            svc = build_services(settings, db)
            app.state.services = svc
            if on_first_run is not None:
                result = await bootstrap.first_run(db)
                if result is not None:
                    on_first_run(result)
            for component in svc.components:
                await component.start()
                started.append(component)
            yield
        finally:
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:
                    logger.exception("stopping %s failed", component.name)
            if database is None:
                await db.close()

    app = LeadtrailApp(
        title="leadtrail",
        version=__version__,
        summary="Real-time visitor tracking, identity resolution and lead attribution",
        lifespan=lifespan,
        # served by web/api_docs.py with local assets (FastAPI's own pages load a CDN)
        docs_url=None,
        redoc_url=None,
    )
    app.guard = RequestGuard(settings)
    errors.install(app)
    app.add_middleware(AccessLogMiddleware)
    app.include_router(health.router)
    app.include_router(auth_routes.router)
    app.include_router(account_routes.router)
    app.include_router(sso_routes.router)
    app.include_router(metrics.router)
    app.include_router(assets.router)
    app.include_router(people_routes.router)
    app.include_router(privacy_routes.router)
    app.include_router(lead_routes.router)
    app.include_router(money_routes.router)
    app.include_router(realtime_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(live_routes.router)
    app.include_router(site_routes.router)
    app.include_router(diagnostics_routes.router)
    app.include_router(site_script.router)
    app.include_router(call_provider_routes.router)
    app.include_router(dni_routes.router)
    app.include_router(behaviour_routes.router)
    app.include_router(funnel_routes.router)
    app.include_router(dashboard.router)
    app.include_router(api_docs.router)
    app.mount(api_docs.ASSETS_URL, api_docs.static_files(), name="api-docs-assets")
    app.include_router(experiment_routes.router)
    app.include_router(proposal_routes.router)
    app.include_router(ops_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(correlator_routes.router)
    app.include_router(sync_routes.router)
    app.mount("/assets", assets.static_files(), name="assets")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            sync.document(schema)
            access_table.document(schema)
            openapi_contract.document(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
