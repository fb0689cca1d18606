"""On Citus an admin can change its site (the reference-table lock needs a grant on
app_users), and that grant changes no account: row-level security still refuses it."""

from __future__ import annotations

import uuid

from leadtrail.storage import Claims, Database, DbRole
from tests.integration.people_support import make_tenant


async def test_admin_updates_its_site_but_no_account(db: Database) -> None:
    t = await make_tenant(db, "site-update")
    admin = Claims(role=DbRole.ADMIN, sub=str(uuid.uuid4()), site_ids=(t.site_id,))
    async with db.transaction(admin) as conn:
        renamed = await conn.fetchval(
            "UPDATE sites SET name = 'renamed' WHERE id = $1 RETURNING name", t.site_id
        )
        touched = await conn.execute("UPDATE app_users SET name = 'taken over'")
    assert renamed == "renamed"
    assert touched == "UPDATE 0"
    async with db.owner_connection() as conn:
        assert await conn.fetchval("SELECT count(*) FROM app_users WHERE name = 'taken over'") == 0
