"""What each HTTP operation needs, declared once and published in the OpenAPI document.

Every operation carries ``x-leadtrail-access``: ``public`` (no credential), ``any`` (any valid
credential), ``read``, ``ingest`` (writes: leads, calls, identities, spend) or ``admin``.
Key scopes grant: ``read`` key → read; ``ingest`` key → ingest; ``admin`` key → all. Site roles
grant: viewer → read; analyst → read + ingest; admin and owner → all. docs/security.md shows
the same table, and tests/integration/test_scopes.py calls every operation with each key
scope to check the answers follow it.
"""

from __future__ import annotations

from typing import Any

PUBLIC, ANY, READ, INGEST, ADMIN = "public", "any", "read", "ingest", "admin"

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
