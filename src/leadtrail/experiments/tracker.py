"""The experiments extension of the per-site tracker script (web/site_script.py): the active
tests' public configuration and the browser module that assigns from it synchronously."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadtrail.experiments import service
from leadtrail.experiments.job import site_claims
from leadtrail.ingest.sites import SiteConfig
from leadtrail.storage import Database

if TYPE_CHECKING:
    from leadtrail.web.site_script import TrackerExtension


async def provider(site: SiteConfig, db: Database) -> TrackerExtension | None:
    """``leadtrail._cfg.experiments`` and ``modules/experiments.js`` while the site has an
    active test; nothing otherwise (the site script stays empty)."""
    # imported here: web/site_script.py imports this module for its PROVIDERS list
    from leadtrail.web.site_script import TrackerExtension

    async with db.transaction(site_claims(site.id, "site-script")) as conn:
        tests = await service.active(conn, site.id)
    if not tests:
        return None
    return TrackerExtension("experiments", service.tracker_config(tests), "experiments.js")
