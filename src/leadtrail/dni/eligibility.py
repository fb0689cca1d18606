"""Whether a visit gets a tracking number: its channel (from the stored session when ingest
has written it, else from the landing URL and referrer the module sends) against the site's
``dni_sources``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from leadtrail.attribution.channels import PAID, channel
from leadtrail.ingest.referrer import classify, click_ids_from, query_params, utm_from
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load("leadtrail.dni")


def wants_number(channel_name: str, sources: tuple[str, ...]) -> bool:
    return (
        "all" in sources or channel_name in sources or ("paid" in sources and channel_name in PAID)
    )


def landing(url: str | None, referrer: str | None, site_domain: str) -> dict[str, Any]:
    """The session columns the channel rules read, from a landing URL and its referrer."""
    params = query_params(url or "")
    utm = utm_from(params)
    clicks = click_ids_from(params)
    host = urlsplit(url or "").hostname
    source = classify(
        referrer or None, site_domain=site_domain, page_host=host, utm=utm, click_ids=clicks
    )
    return {
        **{f"utm_{k}": v for k, v in utm.items()},
        **clicks,
        "referrer_type": source.referrer_type,
        "referrer_domain": source.referrer_domain,
    }


async def visit_channel(
    conn: Connection, site: Any, session_id: UUID, url: str | None, referrer: str | None
) -> str:
    row = await conn.fetchrow(Q.session_landing, site.id, session_id)
    return channel(dict(row) if row is not None else landing(url, referrer, site.domain))
