"""Deleting a site with all its data.

Every table with a ``site_id`` is emptied of the site's rows (tables found in the catalog, so
ones later migrations add are covered), referencing tables first, then the site itself. The
caller runs this as the site's admin: row-level security confines every delete to the site.
"""

from __future__ import annotations

from uuid import UUID

from leadtrail.sites import changes
from leadtrail.storage import Connection, catalog


async def delete_site(conn: Connection, site_id: UUID) -> dict[str, int]:
    """Delete the site and its rows everywhere; rows removed per table."""
    removed: dict[str, int] = {}
    tables = await catalog.tenant_tables(conn)
    for table in await catalog.children_first(conn, tables):
        status = await conn.execute(
            f"DELETE FROM {catalog.qualified(table)} WHERE site_id = $1", site_id
        )
        if count := int(status.split()[-1]):
            removed[table[1] if table[0] == "public" else ".".join(table)] = count
    await conn.execute("DELETE FROM sites WHERE id = $1", site_id)
    await changes.announce(conn)  # every process's ingest cache forgets the site
    return removed
