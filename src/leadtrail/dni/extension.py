"""The tracker extension of dynamic number insertion: the ``dni.js`` module, delivered by
the site script only to sites that have a pool of tracking numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadtrail.dni.service import Q
from leadtrail.storage import Claims, Database, DbRole

if TYPE_CHECKING:
    from leadtrail.ingest.sites import SiteConfig
    from leadtrail.web.site_script import TrackerExtension


async def dni_extension(site: SiteConfig, db: Database) -> TrackerExtension | None:
    # imported here: web.site_script imports this module to list it among its providers
    from leadtrail.web.site_script import TrackerExtension

    claims = Claims(role=DbRole.WRITER, sub="site-script", site_ids=(site.id,))
    async with db.transaction(claims) as conn:
        size = await conn.fetchval(Q.pool_size, site.id)
    if not size:
        return None
    default = site.settings.get("dni_default_number")
    return TrackerExtension(
        "dni",
        {"site": site.public_id, "number": default if isinstance(default, str) else None},
        "dni.js",
    )
