"""The behaviour module's place in the per-site tracker script (web/site_script.py): present
only when the site turned capture on, configured with its sampling rate and thresholds."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from leadtrail.behaviour.settings import BehaviourSettings
from leadtrail.ingest.sites import SiteConfig
from leadtrail.storage import Database

if TYPE_CHECKING:
    from leadtrail.web.site_script import TrackerExtension


async def behaviour_extension(site: SiteConfig, db: Database) -> TrackerExtension | None:
    from leadtrail.web.site_script import TrackerExtension

    options = BehaviourSettings.from_site(site.settings)
    if not options.enabled:
        return None
    config = {"rate": options.sample_rate, "t": asdict(options.thresholds)}
    return TrackerExtension("behaviour", config, "behaviour.js")
