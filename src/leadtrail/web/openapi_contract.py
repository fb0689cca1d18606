"""Make the OpenAPI document say what the API answers on errors.

FastAPI documents ``422`` for request validation, but leadtrail answers those with ``400``
and the ``{"error", "detail", "field"}`` body (web/errors.py). Every operation that takes
input documents ``400``; every operation that names a site or an id documents ``404``;
operations that need a credential document ``401`` and ``403``; all of them with the
``Error`` schema.
"""

from __future__ import annotations

from typing import Any

from leadtrail.web.access_table import PUBLIC, REQUIRED

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "A code listed in docs/errors.md"},
        "detail": {"type": "string"},
        "field": {"type": "string", "nullable": True},
    },
}
_REF = {"$ref": "#/components/schemas/Error"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REF}}}


def _names_something(path: str, operation: dict[str, Any]) -> bool:
    if "{" in path:
        return True
    return any(p.get("name") == "site_id" for p in operation.get("parameters", []))


#: public operations that still refuse: wrong password, a foreign origin's preflight
_PUBLIC_REFUSALS = {
    "POST /api/auth/login": ("401", "Wrong e-mail or password"),
    "OPTIONS /api/sync": ("403", "The origin may not send data for the site"),
}


_NO_SITE = "The named site does not exist or is not the caller's"

#: answers routes give that FastAPI cannot see (they read their body themselves, answer with a
#: Response of their own status, or refuse by a signature or a setting)
_EXTRA: dict[str, dict[str, str]] = {
    "GET /api/auth/oidc/login": {"404": "Single sign-on is not configured"},
    "GET /api/auth/oidc/callback": {"404": "Single sign-on is not configured"},
    "POST /api/privacy/erase": {"404": "Nothing is stored about that person"},
    "POST /api/webhooks/twilio/{site}": {"401": "The request's signature does not verify"},
    "POST /api/webhooks/calls/{site}": {"401": "The request's signature does not verify"},
    "POST /api/dni/lease": {"400": "Bad request: the body"},
    "POST /functions/v1/session-correlator": {"400": "An unknown action, or its data is invalid"},
    "DELETE /api/sites/{site}/call-providers/{kind}": {"204": "Removed"},
    "POST /api/sites/{site}/dni/numbers": {"201": "Added to the pool"},
    "DELETE /api/sites/{site}/dni/numbers/{number}": {"204": "Removed from the pool"},
    # found by schemathesis (tests/integration/test_api_contract_fuzz.py)
    "POST /api/auth/login": {"429": "Too many attempts from this address or for this account"},
    "POST /api/identify": {"404": _NO_SITE},
    "POST /api/leads": {"404": _NO_SITE},
    "POST /api/ad-spend": {"404": _NO_SITE},
    "POST /api/proposals": {"404": _NO_SITE},
    "POST /api/proposals/generate": {"404": _NO_SITE},
    "POST /api/sync/dynamodb": {"404": _NO_SITE},
    "GET /api/sync/dynamodb/checksum": {"404": _NO_SITE},
    "POST /realtime/v1/api/broadcast": {"400": "Bad request: the body"},
    "POST /api/heartbeats": {"400": "Bad request: the body"},
    "POST /api/proposals/{proposal_id}/transition": {
        "409": "The proposal's state does not allow that transition"
    },
}


def document(schema: dict[str, Any]) -> None:
    """Rewrite the error responses of every operation in place."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            refusal = _PUBLIC_REFUSALS.get(f"{method.upper()} {path}")
            if refusal is not None:
                responses.setdefault(refusal[0], _error(refusal[1]))
            for status, text in _EXTRA.get(f"{method.upper()} {path}", {}).items():
                responses.setdefault(
                    status, _error(text) if status >= "400" else {"description": text}
                )
            if method == "options":
                continue
            takes_input = (
                responses.pop("422", None) is not None
                or "requestBody" in operation
                or bool(operation.get("parameters"))
            )
            if takes_input:
                responses.setdefault("400", _error("Bad request: the body or a parameter"))
            if _names_something(path, operation):
                responses.setdefault("404", _error("No such site or id (or not yours)"))
            if REQUIRED.get(f"{method.upper()} {path}", PUBLIC) != PUBLIC:
                responses.setdefault("401", _error("No valid credential"))
                responses.setdefault("403", _error("The role or key scope does not allow this"))
