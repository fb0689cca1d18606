"""Reading RLS from the catalog: only the tenant policy, forced, with a SELECT grant."""

from __future__ import annotations

from uuid import uuid4

from leadtrail.realtime.access import TableAccess, TablePolicy, Viewer, decide_readers
from leadtrail.storage import Claims, DbRole

TENANT = ("tenant", ("public",), "ALL", True, "leadtrail.site_visible(site_id)")
GRANTS = {DbRole.ANALYST: True, DbRole.ADMIN: True}


def policy(**changes: object) -> TablePolicy:
    base: dict[str, object] = {
        "table": "calls",
        "rls_enabled": True,
        "rls_forced": True,
        "select_grants": GRANTS,
        "policies": (TENANT,),
    }
    base.update(changes)
    return TablePolicy(**base)  # type: ignore[arg-type]


def test_the_foundation_shape_is_readable() -> None:
    assert decide_readers(policy()) == {DbRole.ANALYST, DbRole.ADMIN}
    original = ("tenant", ("public",), "ALL", True, "(site_id = ANY (leadtrail.site_ids()))")
    assert decide_readers(policy(policies=(original,))) == {DbRole.ANALYST, DbRole.ADMIN}


def test_anything_else_fails_closed() -> None:
    assert decide_readers(policy(rls_forced=False)) == frozenset()
    assert decide_readers(policy(rls_enabled=False)) == frozenset()
    assert decide_readers(policy(select_grants={DbRole.ANALYST: False, DbRole.ADMIN: True})) == {
        DbRole.ADMIN
    }
    extra = ("peek", ("leadtrail_analyst",), "SELECT", True, "true")
    assert decide_readers(policy(policies=(TENANT, extra))) == {DbRole.ADMIN}
    changed = ("tenant", ("public",), "ALL", True, "true")
    assert decide_readers(policy(policies=(changed,))) == frozenset()
    # a policy for another command (INSERT) or role does not change what SELECT returns
    other = ("ins", ("public",), "INSERT", True, "true")
    writer_only = ("w", ("leadtrail_writer",), "ALL", True, "true")
    assert decide_readers(policy(policies=(TENANT, other, writer_only))) == GRANTS.keys()


def test_allows_needs_site_and_table() -> None:
    site, other = uuid4(), uuid4()
    viewer = Viewer(Claims(role=DbRole.ANALYST, sub="k", site_ids=(site,)))
    access = TableAccess({"calls": frozenset({DbRole.ANALYST})})
    assert access.allows(viewer, "calls", str(site))
    assert not access.allows(viewer, "calls", str(other))
    assert not access.allows(viewer, "calls", None)
    assert not access.allows(viewer, "leads", str(site))
