"""Who may receive which change: the RLS decision made in process. Pure.

Every published table has the foundation's ``tenant`` policy (``site_id = ANY (claimed
site ids)``) and per-role grants. So "would ``SELECT`` under the subscriber's claims return
this row?" is: the subscriber's role may SELECT the table, RLS on it is forced with the
tenant policy as the only policy that lets that role read, and the row's site_id is among
the claimed ones. The feed reads the grants and policies from the catalog (``TableAccess``);
a table whose policies differ is refused to everyone (fail closed), never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from leadtrail.storage import Claims, DbRole

#: ``pg_policies.qual`` of the tenant policy: 0003's ``leadtrail.apply_tenant_policy`` form
#: (site_id among the claimed site ids, checked on the claims' JSON) and 0001's original.
TENANT_USING = frozenset(
    {"leadtrail.site_visible(site_id)", "(site_id = ANY (leadtrail.site_ids()))"}
)


@dataclass(frozen=True)
class Viewer:
    """A subscriber's identity: the claims a SELECT of theirs would run with."""

    claims: Claims
    #: API key id or user id, for logs
    name: str = ""

    @property
    def role(self) -> DbRole:
        return self.claims.role

    @property
    def site_ids(self) -> frozenset[str]:
        return frozenset(str(s) for s in self.claims.site_ids)


@dataclass(frozen=True)
class TableAccess:
    """Per published table: which roles may read it under the tenant policy alone."""

    #: table -> roles whose SELECT on it is granted and governed only by ``tenant``
    readers: Mapping[str, frozenset[DbRole]] = field(default_factory=dict)

    def may_read(self, role: DbRole, table: str) -> bool:
        return role in self.readers.get(table, frozenset())

    def allows(self, viewer: Viewer, table: str, site_id: str | None) -> bool:
        """The in-process equivalent of ``SELECT ... WHERE <pk>`` under ``viewer.claims``."""
        return (
            site_id is not None and site_id in viewer.site_ids and self.may_read(viewer.role, table)
        )


@dataclass(frozen=True)
class TablePolicy:
    """What the catalog says about one table, for ``decide_readers``."""

    table: str
    rls_enabled: bool
    rls_forced: bool
    #: role -> has SELECT
    select_grants: Mapping[DbRole, bool]
    #: (policy name, roles it applies to ("public" = all), command, permissive, USING text)
    policies: tuple[tuple[str, tuple[str, ...], str, bool, str], ...]


def decide_readers(policy: TablePolicy) -> frozenset[DbRole]:
    """Roles for which RLS on this table reduces to ``site_id = ANY (site_ids())``."""
    if not (policy.rls_enabled and policy.rls_forced):
        return frozenset()
    readers = set()
    for role, granted in policy.select_grants.items():
        if not granted:
            continue
        applying = [
            (permissive, using)
            for _name, roles, command, permissive, using in policy.policies
            if command in ("ALL", "SELECT") and ("public" in roles or role.value in roles)
        ]
        if len(applying) == 1 and applying[0][0] and applying[0][1] in TENANT_USING:
            readers.add(role)
    return frozenset(readers)
