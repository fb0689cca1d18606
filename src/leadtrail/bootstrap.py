"""First run on an empty database: an admin account and a demo site, shown once."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from leadtrail.auth.users import count_users, create_user
from leadtrail.config import Settings
from leadtrail.sites.service import Site, create_site, snippet
from leadtrail.storage import Database

ADMIN_EMAIL = "admin@leadtrail.local"
DEMO_PUBLIC_ID = "demo"


@dataclass(frozen=True)
class FirstRun:
    email: str
    password: str
    site: Site


async def first_run(db: Database) -> FirstRun | None:
    """Create the admin and the demo site if no user exists yet; None otherwise."""
    async with db.system() as conn, conn.transaction():
        # Serialise concurrent first starts on the same database.
        await conn.execute("SELECT pg_advisory_xact_lock(7412093002)")
        if await count_users(conn):
            return None
        password = secrets.token_urlsafe(12)
        admin = await create_user(
            conn, ADMIN_EMAIL, password, name="Administrator", is_superuser=True
        )
        site = await create_site(
            conn,
            name="Demo site",
            domain="localhost",
            owner_id=admin.id,
            public_id=DEMO_PUBLIC_ID,
            allowed_origins=["127.0.0.1"],
        )
    return FirstRun(ADMIN_EMAIL, password, site)


def banner(result: FirstRun, settings: Settings, echo: Callable[[str], None]) -> None:
    base = settings.base_url
    echo("")
    echo("leadtrail is set up. This password is shown only once:")
    echo(f"  dashboard  {base}/")
    echo(f"  email      {result.email}")
    echo(f"  password   {result.password}")
    echo(f"  demo site  {result.site.public_id} ({result.site.domain})")
    echo(f"  snippet    {snippet(result.site.public_id, base)}")
    echo("")
