"""What each HTTP operation needs, declared once and published in the OpenAPI document.

Every operation carries ``x-leadtrail-access``: ``public`` (no credential), ``any`` (any valid
credential), ``read``, ``ingest`` (writes: leads, calls, identities, spend), ``admin``, or
``user`` (a dashboard login; no API key).
Key scopes grant: ``read`` key → read; ``ingest`` key → ingest; ``admin`` key → all. Site roles
grant: viewer → read; analyst → read + ingest; admin and owner → all. docs/security.md shows
the same table, and tests/integration/test_scopes.py calls every operation with each key
scope to check the answers follow it.
"""

from __future__ import annotations

from typing import Any

PUBLIC, ANY, READ, INGEST, ADMIN = "public", "any", "read", "ingest", "admin"
#: a dashboard login (account pages, superuser actions): API keys are refused with 401
USER = "user"

#: "METHOD path" -> what it needs
REQUIRED: dict[str, str] = {
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    "GET /metrics": PUBLIC,
    "POST /api/auth/login": PUBLIC,
    "POST /api/auth/logout": PUBLIC,
    "GET /api/auth/me": ANY,
    "GET /api/dashboard/session": PUBLIC,
    "POST /api/sync": PUBLIC,
    "OPTIONS /api/sync": PUBLIC,
    "GET /api/analytics/dimensions": PUBLIC,
    "POST /api/identify": INGEST,
    "POST /api/leads": INGEST,
    "POST /api/call-event": INGEST,
    "PATCH /api/calls/{call_id}": INGEST,
    "PATCH /api/leads/{lead_id}": INGEST,
    "POST /api/ad-spend": INGEST,
    "POST /api/identity/merges/{merge_id}/undo": INGEST,
    "GET /api/users/{user_id}/journey": READ,
    "GET /api/users/{user_id}/similar": READ,
    "GET /api/identity/merges": READ,
    "GET /api/attribution": READ,
    "GET /api/ad-spend": READ,
    "GET /api/campaigns/performance": READ,
    "GET /api/exports/google-ads-offline-conversions.csv": READ,
    "POST /realtime/v1/api/broadcast": READ,
    "POST /realtime/v1/api/broadcast/{topic}/events/{event}": READ,
    "GET /api/analytics/overview": READ,
    "GET /api/analytics/funnel": READ,
    "GET /api/analytics/breakdown/{dimension}": READ,
    "GET /api/analytics/sessions": READ,
    "GET /api/live/events": READ,
    "GET /api/live/sessions/{session_id}/events": READ,
    "GET /api/live/calls": READ,
    "GET /api/sites": READ,
    "GET /api/sites/{site}": READ,
    "PATCH /api/sites/{site}": ADMIN,
    "GET /api/sites/{site}/keys": ADMIN,
    "POST /api/sites/{site}/keys": ADMIN,
    "DELETE /api/sites/{site}/keys/{key_id}": ADMIN,
    "GET /api/sites/{site}/members": ADMIN,
    "POST /api/sites/{site}/members": ADMIN,
    "PATCH /api/sites/{site}/members/{user_id}": ADMIN,
    "DELETE /api/sites/{site}/members/{user_id}": ADMIN,
    # accounts, single sign-on, privacy (issue 16)
    "POST /api/auth/password": USER,
    "POST /api/auth/accept": PUBLIC,
    "GET /api/auth/oidc/login": PUBLIC,
    "GET /api/auth/oidc/callback": PUBLIC,
    "GET /api/users": USER,
    "POST /api/users": USER,
    "POST /api/users/{user_id}/reset-link": USER,
    "DELETE /api/users/{user_id}": USER,
    "POST /api/sites": USER,
    "POST /api/sites/{site}/delete": USER,
    "GET /api/sites/{site}/ignored-traffic": READ,
    "GET /api/privacy/export": ADMIN,
    "POST /api/privacy/erase": ADMIN,
    "GET /api/privacy/erasures": ADMIN,
    # calls and attribution (issue 11); provider webhooks verify their own signatures
    "POST /api/calls/{call_id}/match": INGEST,
    "GET /api/exports/microsoft-ads-offline-conversions.csv": READ,
    "POST /api/webhooks/twilio/{site}": PUBLIC,
    "POST /api/webhooks/calls/{site}": PUBLIC,
    "GET /api/sites/{site}/call-providers": ADMIN,
    "PUT /api/sites/{site}/call-providers/{kind}": ADMIN,
    "DELETE /api/sites/{site}/call-providers/{kind}": ADMIN,
    "POST /api/dni/lease": PUBLIC,
    "GET /api/sites/{site}/dni/numbers": READ,
    "POST /api/sites/{site}/dni/numbers": ADMIN,
    "DELETE /api/sites/{site}/dni/numbers/{number}": ADMIN,
    # behaviour and funnels (issue 12)
    "GET /api/behaviour/friction": READ,
    "GET /api/behaviour/summary": READ,
    "GET /api/behaviour/components": READ,
    "GET /api/behaviour/sessions": READ,
    "GET /api/behaviour/clickmap": READ,
    "GET /api/behaviour/scroll": READ,
    "GET /api/funnels": READ,
    "POST /api/funnels": ADMIN,
    "PUT /api/funnels/{funnel_id}": ADMIN,
    "DELETE /api/funnels/{funnel_id}": ADMIN,
    "GET /api/funnels/{funnel_id}/report": READ,
    # experiments and proposals (issue 13)
    "POST /api/experiments": INGEST,
    "GET /api/experiments": READ,
    "GET /api/experiments/sample-size": PUBLIC,
    "GET /api/experiments/{test_id}": READ,
    "POST /api/experiments/{test_id}/{action}": INGEST,
    "GET /api/experiments/{test_id}/results": READ,
    "GET /api/experiments/{test_id}/assignment": READ,
    "POST /api/proposals": INGEST,
    "GET /api/proposals": READ,
    "GET /api/proposals/impact": READ,
    "POST /api/proposals/generate": INGEST,
    "GET /api/proposals/{proposal_id}": READ,
    "PATCH /api/proposals/{proposal_id}": INGEST,
    "POST /api/proposals/{proposal_id}/transition": INGEST,
    # operations (issue 15); the session-correlator's actions check their own need (read for
    # get_user_journey, ingest for the others)
    "POST /api/heartbeats": INGEST,
    "GET /api/system/health": READ,
    "GET /api/system/scheduler": USER,
    "POST /api/webhooks": ADMIN,
    "GET /api/webhooks": READ,
    "PATCH /api/webhooks/{endpoint_id}": ADMIN,
    "DELETE /api/webhooks/{endpoint_id}": ADMIN,
    "GET /api/webhooks/{endpoint_id}/deliveries": READ,
    "POST /api/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay": ADMIN,
    "POST /functions/v1/session-correlator": ANY,
    # DynamoDB sync (issue 14)
    "POST /api/sync/dynamodb": INGEST,
    "GET /api/sync/dynamodb/checksum": READ,
}

#: what each key scope may use
SCOPE_GRANTS: dict[str, frozenset[str]] = {
    "read": frozenset({PUBLIC, ANY, READ}),
    "ingest": frozenset({PUBLIC, ANY, INGEST}),
    "admin": frozenset({PUBLIC, ANY, READ, INGEST, ADMIN}),
}


def document(schema: dict[str, Any]) -> None:
    """Add ``x-leadtrail-access`` to every operation the table knows."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            need = REQUIRED.get(f"{method.upper()} {path}")
            if need is not None and isinstance(operation, dict):
                operation["x-leadtrail-access"] = need
