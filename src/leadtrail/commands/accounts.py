"""Account commands that need no dashboard: reset a password (also the first-run admin's,
when it is lost) and delete a site with its data. They add to the ``users`` and ``sites``
groups of ``leadtrail.cli``."""

from __future__ import annotations

from typing import Any

import click

from leadtrail.cli import _with_db, friendly, sites, users


@users.command("set-password")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The new password (prompted when omitted).",
)
@friendly
def users_set_password(email: str, password: str) -> None:
    """Set a user's password; every dashboard session of the account ends."""
    from leadtrail.auth import accounts

    async def work(database: Any) -> None:
        await accounts.set_password(database, email, password)
        click.echo(f"password set for {email}")

    _with_db(work)


@sites.command("delete")
@click.argument("site_ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@friendly
def sites_delete(site_ref: str, yes: bool) -> None:
    """Delete a site and every row of its data. Cannot be undone."""
    from leadtrail.sites.deletion import delete_site
    from leadtrail.sites.service import get_site
    from leadtrail.storage import Claims, DbRole

    async def work(database: Any) -> None:
        async with database.system() as conn:
            site = await get_site(conn, site_ref)
        if not yes:
            click.confirm(
                f"Delete site {site.public_id} ({site.name}) and all its data?", abort=True
            )
        claims = Claims(role=DbRole.ADMIN, sub="cli", site_ids=(site.id,))
        async with database.transaction(claims) as conn:
            removed = await delete_site(conn, site.id)
        click.echo(f"deleted site {site.public_id} ({sum(removed.values())} rows of data)")

    _with_db(work)
