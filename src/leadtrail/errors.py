"""Error types a client or operator can see, each with a stable code.

Imports nothing from the package. ``docs/errors.md`` lists every code.

    LeadtrailError                 (code, status, detail)
    ├── BadRequest          400    invalid input; ``field`` names the culprit
    ├── Unauthorized        401    missing or invalid credentials
    ├── Forbidden           403    authenticated but not allowed / origin refused
    ├── NotFound            404    unknown or another tenant's resource
    ├── Conflict            409    duplicate or state clash
    ├── PayloadTooLarge     413    body over the limit
    ├── RateLimited         429    too many requests; ``retry_after`` seconds
    ├── Unavailable         503    overloaded or not ready; ``retry_after`` seconds
    └── ConfigError                bad settings or environment (CLI one-liners)
"""

from __future__ import annotations

from typing import Any, ClassVar


class LeadtrailError(Exception):
    """Base of every error that carries a code meant for users."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        field: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.field = field
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """JSON body for HTTP answers: ``{"error": code, "detail": ...}``."""
        out: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        return out


class BadRequest(LeadtrailError):
    status = 400
    default_code = "bad_request"


class Unauthorized(LeadtrailError):
    status = 401
    default_code = "unauthorized"


class Forbidden(LeadtrailError):
    status = 403
    default_code = "forbidden"


class NotFound(LeadtrailError):
    status = 404
    default_code = "not_found"


class Conflict(LeadtrailError):
    status = 409
    default_code = "conflict"


class PayloadTooLarge(LeadtrailError):
    status = 413
    default_code = "payload_too_large"


class RateLimited(LeadtrailError):
    status = 429
    default_code = "rate_limited"


class Unavailable(LeadtrailError):
    status = 503
    default_code = "unavailable"


class ConfigError(LeadtrailError):
    """Settings or environment problems, reported as one line by the CLI."""

    status = 500
    default_code = "config_error"
