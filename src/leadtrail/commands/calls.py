"""``leadtrail calls``: call-provider webhook secrets and the DNI pool of tracking numbers
(the same as the Settings page and /api/sites/{site}/call-providers, /dni/numbers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click


@click.group()
def calls() -> None:
    """Call tracking: provider webhooks and dynamic number insertion."""


@calls.command("provider-set")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.argument("kind", type=click.Choice(["twilio", "hmac"]))
@click.option(
    "--secret",
    prompt=True,
    hide_input=True,
    help="Twilio: the account's auth token; hmac: the shared signing secret (prompted, or "
    "read from standard input when piped).",
)
def provider_set(site_ref: str, kind: str, secret: str) -> None:
    """Set a provider's secret (stored encrypted) and print its webhook path."""
    from leadtrail.cli import _fail, _settings, _with_db, friendly

    secret = secret.strip()
    if not 16 <= len(secret) <= 200:
        _fail("the secret must be 16-200 characters")

    @friendly
    def run() -> None:
        from leadtrail.auth.signing import signing_key
        from leadtrail.callproviders import service
        from leadtrail.sites.service import get_site

        key = signing_key(_settings())

        async def work(database: Any) -> None:
            async with database.system() as conn, conn.transaction():
                site = await get_site(conn, site_ref)
                await service.set_secret(conn, site.id, kind, secret, key)
            path = "twilio" if kind == "twilio" else "calls"
            click.echo(f"/api/webhooks/{path}/{site.public_id}")

        _with_db(work)

    run()


@calls.command("provider-list")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
def provider_list(site_ref: str) -> None:
    """The site's providers (never their secrets)."""
    from leadtrail.cli import _with_db, friendly

    @friendly
    def run() -> None:
        from leadtrail.callproviders import service
        from leadtrail.sites.service import get_site

        async def work(database: Any) -> None:
            async with database.system() as conn:
                site = await get_site(conn, site_ref)
                rows = await service.list_providers(conn, site.id)
            for row in rows:
                click.echo(f"{row['kind']}\tupdated {row['updated_at']:%Y-%m-%d %H:%M}")

        _with_db(work)

    run()


@calls.command("dni-add")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--label", default=None, help="A note, e.g. the campaign the number is for.")
@click.argument("numbers", nargs=-1, required=True)
def dni_add(site_ref: str, label: str | None, numbers: tuple[str, ...]) -> None:
    """Add tracking numbers to the site's DNI pool."""
    from leadtrail.cli import _with_db, friendly

    @friendly
    def run() -> None:
        from leadtrail.dni import service
        from leadtrail.identity import normalize
        from leadtrail.sites.people import PeopleSettings
        from leadtrail.sites.service import get_site

        async def work(database: Any) -> None:
            async with database.system() as conn, conn.transaction():
                site = await get_site(conn, site_ref)
                region = PeopleSettings.from_site(site.settings).default_region
                for raw in numbers:
                    number = normalize.phone(raw, region, field="number")
                    await service.add_number(conn, site.id, number, label)
                    click.echo(number)

        _with_db(work)

    run()


@calls.command("dni-list")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
def dni_list(site_ref: str) -> None:
    """The pool, with the session each number is leased to now."""
    from leadtrail.cli import _with_db, friendly

    @friendly
    def run() -> None:
        from leadtrail.dni import service
        from leadtrail.sites.service import get_site

        async def work(database: Any) -> None:
            async with database.system() as conn:
                site = await get_site(conn, site_ref)
                rows = await service.list_numbers(conn, site.id, datetime.now(UTC))
            for row in rows:
                click.echo(f"{row['number']}\t{row['leased_to'] or '-'}\t{row['label'] or ''}")

        _with_db(work)

    run()
