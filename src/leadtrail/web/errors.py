"""Every error leaves as JSON ``{"error": code, "detail": ...}``; never a traceback."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from leadtrail.errors import LeadtrailError

logger = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(exc: LeadtrailError) -> JSONResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def _leadtrail_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LeadtrailError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(
        exc.status_code, HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
    )
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return JSONResponse(
        {"error": code, "detail": detail}, status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    location = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
    field = ".".join(location) or None
    message = first.get("msg", "invalid request")
    body = {"error": "invalid_request", "detail": f"{field}: {message}" if field else message}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=400)


async def _too_deep(request: Request, exc: Exception) -> Response:
    # JSON decoders recurse per nesting level: a body of 30,000 nested arrays (60 KB) is
    # the client's problem, not a server error.
    return JSONResponse(
        {"error": "json_too_deep", "detail": "the body nests arrays or objects too deeply"},
        status_code=400,
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": "internal_error", "detail": "internal error; the server log has details"},
        status_code=500,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(LeadtrailError, _leadtrail_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RecursionError, _too_deep)
    app.add_exception_handler(Exception, _unexpected)
