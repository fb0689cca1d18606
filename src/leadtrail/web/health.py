"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from leadtrail.web.services import services

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and its schema is current")
async def readyz(request: Request) -> JSONResponse:
    db = services(request).db
    try:
        pending = await db.pending_migrations()
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse(
            {
                "error": "database_unavailable",
                "detail": f"database unreachable: {exc.__class__.__name__}",
            },
            status_code=503,
        )
    if pending:
        return JSONResponse(
            {"error": "migrations_pending", "detail": f"pending migrations: {', '.join(pending)}"},
            status_code=503,
        )
    return JSONResponse({"status": "ready"})
