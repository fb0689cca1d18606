"""A heartbeat as the seed's ``publish_heartbeat`` sends it (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadtrail.errors import BadRequest

STATUSES = ("healthy", "degraded", "unhealthy")
#: fields of the seed's ``metrics`` object that have their own column
_COLUMNS = ("cpu_usage", "memory_usage", "is_leader", "quorum_size", "region", "version")


@dataclass(frozen=True)
class Beat:
    component_type: str
    component_id: str
    status: str = "healthy"
    component_name: str | None = None
    cpu_usage: float | None = None
    memory_usage: float | None = None
    is_leader: bool = False
    quorum_size: int | None = None
    quorum_members: list[str] | None = None
    region: str | None = None
    version: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def args(self) -> tuple[Any, ...]:
        return (
            self.component_type,
            self.component_id,
            self.component_name,
            self.status,
            self.cpu_usage,
            self.memory_usage,
            self.is_leader,
            self.quorum_size,
            self.quorum_members,
            self.region,
            self.version,
            self.metrics,
            self.metadata,
        )


def _text(
    data: dict[str, Any], key: str, *, required: bool = False, limit: int = 200
) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise BadRequest(f"{key} is required", code="invalid_heartbeat")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise BadRequest(
            f"{key} must be a non-empty string of at most {limit} characters",
            code="invalid_heartbeat",
        )
    return value.strip()


def _number(metrics: dict[str, Any], key: str) -> float | None:
    value = metrics.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"metrics.{key} must be a number", code="invalid_heartbeat")
    return float(value)


def parse_beat(data: Any) -> Beat:
    """The seed's ``data`` object; the well-known metrics get their own columns and stay in
    ``metrics`` too. A bad field is a 400 ``invalid_heartbeat``."""
    if not isinstance(data, dict):
        raise BadRequest("data must be an object", code="invalid_heartbeat")
    status = data.get("status", "healthy")
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", code="invalid_heartbeat")
    metrics = data.get("metrics") or {}
    metadata = data.get("metadata") or {}
    if not isinstance(metrics, dict) or not isinstance(metadata, dict):
        raise BadRequest("metrics and metadata must be objects", code="invalid_heartbeat")
    if len(repr(metrics)) + len(repr(metadata)) > 16_384:
        raise BadRequest("metrics and metadata are too large (16 KB)", code="invalid_heartbeat")
    quorum = metrics.get("quorum_size", data.get("quorum_size"))
    if quorum is not None and (isinstance(quorum, bool) or not isinstance(quorum, int)):
        raise BadRequest("quorum_size must be an integer", code="invalid_heartbeat")
    members = data.get("quorum_members", metrics.get("quorum_members"))
    if members is not None and (
        not isinstance(members, list) or not all(isinstance(m, str) for m in members)
    ):
        raise BadRequest("quorum_members must be a list of strings", code="invalid_heartbeat")
    leader = metrics.get("is_leader", data.get("is_leader", False))
    if not isinstance(leader, bool):
        raise BadRequest("is_leader must be true or false", code="invalid_heartbeat")
    region = metrics.get("region", data.get("region"))
    version = metrics.get("version", data.get("version"))
    return Beat(
        component_type=_text(data, "component_type", required=True) or "",
        component_id=_text(data, "component_id", required=True) or "",
        component_name=_text(data, "component_name"),
        status=status,
        cpu_usage=_number(metrics, "cpu_usage"),
        memory_usage=_number(metrics, "memory_usage"),
        is_leader=leader,
        quorum_size=quorum,
        quorum_members=members,
        region=str(region)[:100] if region is not None else None,
        version=str(version)[:100] if version is not None else None,
        metrics=metrics,
        metadata=metadata,
    )
