"""DynamoDB sync over HTTP: the Lambda alternative to the stream reader (a DynamoDB
Streams Lambda event posted as is) and the checksum report for the dashboard.

Not to be confused with ``web/sync.py``, the tracker's ``/api/sync`` ingest hot path.
"""

from __future__ import annotations

from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from leadtrail.auth.principal import Access
from leadtrail.errors import BadRequest, ConfigError, NotFound, PayloadTooLarge, Unavailable
from leadtrail.sync.checksum import checksum
from leadtrail.sync.component import SyncService
from leadtrail.web.people_common import json, server_caller
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["dynamodb sync"], dependencies=[NO_NUL])
#: AWS Lambda's own limit on a synchronous invocation payload
MAX_EVENT_BYTES = 6 * 1024 * 1024
SiteParam = Query(default=None, description="Site uuid or public id (default: the key's site)")


def _sync(request: Request) -> SyncService:
    svc = services(request).sync
    if svc is None:
        raise Unavailable(
            "the DynamoDB sync is not set up in this process", code="sync_unavailable"
        )
    return svc


def _config_error(exc: ConfigError) -> BadRequest:
    return BadRequest(exc.detail, code="unknown_source_table")


async def _records(request: Request) -> list[dict[str, Any]]:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("the event is over 6 MB")
    body = await request.body()
    if len(body) > MAX_EVENT_BYTES:
        raise PayloadTooLarge("the event is over 6 MB")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    records = data.get("Records") if isinstance(data, dict) else None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise BadRequest(
            'expected a DynamoDB Streams event: {"Records": [ ... ]}',
            code="invalid_request",
            field="Records",
        )
    return records


@router.post(
    "/api/sync/dynamodb",
    summary="Apply a DynamoDB Streams Lambda event",
    description=(
        "Post the event a DynamoDB Streams trigger gives a Lambda function, unchanged "
        '(`{"Records": [...]}`), with an API key of the site. Records are applied with '
        "keep-latest semantics (duplicates and redeliveries are harmless); records that do "
        "not fit the configuration go to the dead-letter queue. The source table comes from "
        "each record's `eventSourceARN`, or `table`."
    ),
)
async def lambda_event(
    request: Request,
    site: str | None = SiteParam,
    table: str | None = Query(default=None, description="Source table for every record"),
) -> Response:
    caller = await server_caller(request, site, Access.OPERATE)
    records = await _records(request)
    sync = _sync(request)
    try:
        out = await sync.apply_lambda_event(caller.site.id, records, table)
    except ConfigError as exc:
        raise _config_error(exc) from None
    # Lambda's partial-batch answer shape: nothing for it to retry, failures are in the DLQ
    return json({**out, "batchItemFailures": []})


@router.get(
    "/api/sync/dynamodb/checksum",
    summary="Compare a DynamoDB table with its mirror",
    description="Row counts and an order-independent digest on both sides, and the keys "
    "missing from the mirror, extra in it, or different (up to 1,000 of each).",
)
async def checksum_report(
    request: Request,
    table: str = Query(description="Source DynamoDB table"),
    site: str | None = SiteParam,
) -> Response:
    caller = await server_caller(request, site, Access.READ)
    sync = _sync(request)
    try:
        spec = sync.config.table(table)
    except ConfigError as exc:
        raise _config_error(exc) from None
    try:
        report = await checksum(services(request).db, sync.clients, caller.site.id, spec)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") == "ResourceNotFoundException":
            raise NotFound(
                f"DynamoDB has no table {table!r}", code="source_table_not_found"
            ) from None
        raise Unavailable(
            f"DynamoDB: {error.get('Message') or exc}", code="dynamodb_unavailable"
        ) from None
    except BotoCoreError as exc:
        raise Unavailable(f"DynamoDB: {exc}", code="dynamodb_unavailable") from None
    return json(report.as_dict())
