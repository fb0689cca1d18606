"""``leadtrail privacy``: export or erase a person from the command line (an operator's
answer to a data-subject request), and the erasure audit."""

from __future__ import annotations

import getpass
import sys
from typing import Any

import click
import orjson

from leadtrail.cli import _with_db, friendly

SUBJECT = click.Choice(["person", "email", "phone", "fingerprint", "session"])


def _operator_claims(site_id: Any) -> Any:
    from leadtrail.storage import Claims, DbRole

    return Claims(role=DbRole.ADMIN, sub=f"cli:{getpass.getuser()}", site_ids=(site_id,))


def _region(site: Any) -> str | None:
    from leadtrail.sites.people import PeopleSettings

    return PeopleSettings.from_site(site.settings).default_region


@click.group()
def privacy() -> None:
    """Data-subject requests: export or erase everything about one person."""


@privacy.command("export")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.argument("kind", type=SUBJECT)
@click.argument("value")
@friendly
def export(site_ref: str, kind: str, value: str) -> None:
    """Print every stored fact about the person named by KIND and VALUE, as JSON."""
    from leadtrail.privacy import service
    from leadtrail.sites.service import get_site

    async def work(database: Any) -> None:
        async with database.system() as conn:
            site = await get_site(conn, site_ref)
        out = await service.export_person(
            database, _operator_claims(site.id), site.id, kind, value, region=_region(site)
        )
        sys.stdout.buffer.write(orjson.dumps(out, option=orjson.OPT_INDENT_2) + b"\n")

    _with_db(work)


@privacy.command("erase")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.argument("kind", type=SUBJECT)
@click.argument("value")
@friendly
def erase(site_ref: str, kind: str, value: str, yes: bool) -> None:
    """Erase the person named by KIND and VALUE from every table. Cannot be undone."""
    from leadtrail.privacy import service
    from leadtrail.sites.service import get_site

    if not yes:
        click.confirm(f"Erase everything about {kind} {value!r}? This cannot be undone", abort=True)

    async def work(database: Any) -> None:
        async with database.system() as conn:
            site = await get_site(conn, site_ref)
        claims = _operator_claims(site.id)
        erased = await service.erase_person(
            database, claims, site.id, kind, value, actor=claims.sub, region=_region(site)
        )
        total = sum(erased.rows_removed.values())
        click.echo(f"erased {total} rows (audit record {erased.id})")
        for table, count in sorted(erased.rows_removed.items()):
            click.echo(f"  {table}: {count}")

    _with_db(work)
