"""Where ``leadtrail db distribute`` puts each table (leadtrail.storage.citus.plan)."""

from __future__ import annotations

import pytest

from leadtrail.errors import ConfigError
from leadtrail.storage.citus import Table, plan


def t(name: str, site: bool = True, *refs: str) -> Table:
    return Table(name, site, frozenset(refs))


def test_per_site_tables_are_distributed_after_the_tables_they_reference() -> None:
    placed = plan(
        [
            t("public.leads", True, "public.canonical_users", "public.sites"),
            t("public.sites", False),
            t("public.canonical_users", True, "public.sites"),
            t("public.app_users", False),
            t("public.site_members", True, "public.sites", "public.app_users"),
        ]
    )
    assert placed.distributed == ("public.canonical_users", "public.leads")
    assert placed.reference == ("public.app_users", "public.sites", "public.site_members")


def test_internal_queues_and_the_webhook_outbox_stay_on_the_coordinator() -> None:
    placed = plan([t("leadtrail.rollup_dirty"), t("public.webhook_outbox"), t("public.events")])
    assert placed.local == ("leadtrail.rollup_dirty", "public.webhook_outbox")
    assert placed.distributed == ("public.events",)


def test_a_new_shared_table_must_be_placed_on_purpose() -> None:
    with pytest.raises(ConfigError, match=r"public\.gadgets has no site_id"):
        plan([t("public.gadgets", False)])
