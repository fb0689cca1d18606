"""Who is calling, what they may do on which site, and the claims that follow.

The application decides *whether* an action is allowed (site role, key scope); the
database decides *which rows* it touches (RLS on the claimed site ids).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from uuid import UUID

from leadtrail.errors import Forbidden, NotFound
from leadtrail.storage import Claims, DbRole


class SiteRole(enum.Enum):
    OWNER = "owner"
    ADMIN = "admin"
    ANALYST = "analyst"
    VIEWER = "viewer"


class Access(enum.Enum):
    """What an operation needs, from least to most."""

    READ = 1  # dashboards, reports, realtime
    OPERATE = 2  # day-to-day writes: call status, leads, identify
    MANAGE = 3  # settings, keys, members


_ROLE_ACCESS = {
    SiteRole.VIEWER: Access.READ,
    SiteRole.ANALYST: Access.OPERATE,
    SiteRole.ADMIN: Access.MANAGE,
    SiteRole.OWNER: Access.MANAGE,
}
# Key scopes grant sets, not levels: an ``ingest`` key writes (leads, calls, identify) but
# reads nothing, so a key leaked from a form backend cannot list journeys or e-mails.
_SCOPE_GRANTS = {
    "read": frozenset({Access.READ}),
    "ingest": frozenset({Access.OPERATE}),
    "admin": frozenset(Access),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated user or API key."""

    kind: str  # "user" | "api_key"
    id: UUID
    name: str
    memberships: Mapping[UUID, SiteRole] = field(default_factory=dict)
    scopes: frozenset[str] = frozenset()
    is_superuser: bool = False

    @property
    def site_ids(self) -> tuple[UUID, ...]:
        return tuple(self.memberships)

    def access(self, site_id: UUID) -> Access | None:
        role = self.memberships.get(site_id)
        if role is None:
            return None
        if self.kind == "api_key":
            levels = self._granted()
            return max(levels, key=lambda a: a.value) if levels else None
        return _ROLE_ACCESS[role]

    def _granted(self) -> frozenset[Access]:
        return frozenset().union(*(_SCOPE_GRANTS.get(s, frozenset()) for s in self.scopes))

    def allows(self, site_id: UUID, need: Access) -> bool:
        """Whether the caller may do ``need`` on the site (a member or key of it)."""
        have = self.access(site_id)
        if have is None:
            return False
        if self.kind == "api_key":
            return need in self._granted()
        return have.value >= need.value

    def require(self, site_id: UUID, need: Access) -> None:
        """Raise unless allowed. An unknown or foreign site is a 404, never a hint."""
        if self.access(site_id) is None:
            raise NotFound("no such site", code="site_not_found")
        if not self.allows(site_id, need):
            raise Forbidden(
                f"this needs {need.name.lower()} access to the site", code="insufficient_role"
            )

    def has_scope(self, scope: str) -> bool:
        return self.kind == "user" or scope in self.scopes or "admin" in self.scopes

    def claims(self, site_id: UUID | None = None, *, need: Access = Access.READ) -> Claims:
        """Claims for one site (checked), or for all of the caller's sites."""
        if site_id is not None:
            self.require(site_id, need)
            sites: tuple[UUID, ...] = (site_id,)
        else:
            sites = self.site_ids
        role = DbRole.ANALYST if need is Access.READ else DbRole.ADMIN
        return Claims(role=role, sub=str(self.id), site_ids=sites)
