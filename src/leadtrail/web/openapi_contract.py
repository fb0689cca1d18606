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
