"""The periodic experiments pass: copy exposures and complete tests that have a winner or
passed their end date, for every site with a live test. Runs as the writer scoped to one site
at a time, like the identity resolver."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from leadtrail.experiments import service
from leadtrail.storage import Claims, Database, DbRole

logger = logging.getLogger(__name__)


def site_claims(site_id: UUID, sub: str = "experiments") -> Claims:
    return Claims(role=DbRole.WRITER, sub=sub, site_ids=(site_id,))


async def run_once(db: Database) -> int:
    """Tests evaluated."""
    async with db.system() as conn:
        sites = [r["site_id"] for r in await conn.fetch(service.Q.sites_with_live_tests)]
    done = 0
    for site_id in sites:
        async with db.transaction(site_claims(site_id)) as conn:
            tests = await service.active(conn, site_id)
        for test in tests:
            try:
                async with db.transaction(site_claims(site_id)) as conn:
                    await service.evaluate(conn, site_id, test["test_id"], datetime.now(UTC))
                done += 1
            except Exception:  # one broken test must not stop the others
                logger.exception("experiment %s of site %s failed", test["test_id"], site_id)
    return done
