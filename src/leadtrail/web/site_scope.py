"""Which site a request is about: a uuid or public id the caller may see, else 404."""

from __future__ import annotations

from uuid import UUID

from leadtrail.auth.principal import Access, Principal
from leadtrail.errors import NotFound
from leadtrail.sites.service import Site, get_site
from leadtrail.storage import Database


def _as_uuid(ref: str) -> UUID | None:
    try:
        return UUID(ref)
    except ValueError:
        return None


async def resolve_site(db: Database, principal: Principal, ref: str, need: Access) -> Site:
    """The site named by ``ref`` (uuid or public id), checked for ``need``.

    An unknown site and another tenant's site give the same 404; a visible site without
    the needed role gives 403.
    """
    site_id = _as_uuid(ref)
    if site_id is not None and site_id not in principal.memberships:
        raise NotFound("no such site", code="site_not_found")
    if not principal.site_ids:
        raise NotFound("no such site", code="site_not_found")
    # RLS limits the lookup to the caller's own sites.
    async with db.transaction(principal.claims()) as conn:
        try:
            site = await get_site(conn, site_id or ref)
        except NotFound:
            raise NotFound("no such site", code="site_not_found") from None
    principal.require(site.id, need)
    return site
