"""Command line: ``leadtrail serve | migrate | db | users | sites | keys``.

Every command reports a problem as one ``error: ...`` line on stderr and exits non-zero;
tracebacks are for bugs only.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import click
from pydantic import ValidationError

from leadtrail import __version__
from leadtrail.config import Settings
from leadtrail.errors import ConfigError, LeadtrailError

P = ParamSpec("P")
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "LEADTRAIL_" + str(first["loc"][0]).upper() if first.get("loc") else "settings"
        raise click.ClickException(f"{name}: {first['msg']}") from None


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def friendly(fn: Callable[P, T]) -> Callable[P, T]:
    """Turn leadtrail errors into one-line messages."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except LeadtrailError as exc:
            _fail(exc.detail)
        except KeyboardInterrupt:
            sys.exit(130)
        raise AssertionError("unreachable")

    return wrapper


def _with_db(work: Callable[[Any], Awaitable[T]], *, migrate: bool = True) -> T:
    from leadtrail.storage import Database

    settings = _settings()

    async def run() -> T:
        db = await Database.open(settings, migrate=migrate)
        try:
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


def _setup_logging(level: str) -> None:
    from leadtrail import redact

    redact.install()  # no API key, session token or password in any log line
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leadtrail")
def main() -> None:
    """leadtrail: real-time visitor tracking, identity resolution and lead attribution."""


# -- serve / migrate ------------------------------------------------------------------


@main.command()
@click.option("--host", help="Address to bind (default LEADTRAIL_HOST or 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port (default LEADTRAIL_PORT or 8000)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    help="API worker processes on the port (default LEADTRAIL_WORKERS or 1); see docs/processes.md.",
)
@click.option(
    "--role",
    help="all (default), or a comma-separated list of api, realtime, worker (LEADTRAIL_ROLE).",
)
@friendly
def serve(host: str | None, port: int | None, workers: int | None, role: str | None) -> None:
    """Run the server (starts the embedded PostgreSQL unless LEADTRAIL_DATABASE_URL is set)."""
    import uvicorn

    from leadtrail.app import create_app
    from leadtrail.bootstrap import banner
    from leadtrail.web.server_config import uvicorn_config

    given = {"host": host, "port": port, "workers": workers, "role": role}
    try:
        settings = Settings(**(_settings().model_dump() | {k: v for k, v in given.items() if v}))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"--{first['loc'][0]}: {first['msg']}") from None
    _setup_logging(settings.log_level)
    if settings.workers > 1:
        from leadtrail.processes import supervisor

        supervisor.serve(settings, lambda line: click.echo(line, err=True))
        return
    app = create_app(settings, on_first_run=lambda r: banner(r, settings, click.echo))
    config = uvicorn_config(app, settings)
    server = uvicorn.Server(config)
    # Everything loaded so far lives as long as the process: keep it out of the cyclic
    # collector, whose full passes over it stalled the event loop for 35-60 ms at a time
    # under load (realtime fan-out p99, bench/realtime.py).
    gc.freeze()
    click.echo(f"leadtrail {__version__} on {settings.base_url}  (Ctrl-C stops it)", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn re-raises the signal after a graceful shutdown; Ctrl-C is a normal stop.
        pass
    if not server.started:
        sys.exit(1)


@main.command()
@friendly
def migrate() -> None:
    """Apply pending database migrations and create monthly partitions."""
    _setup_logging("warning")

    async def work(db: Any) -> None:
        pending = await db.pending_migrations()
        click.echo("migrations are current" if not pending else f"pending: {pending}")

    _with_db(work)


# -- db -----------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database connection details."""


@db.command("url")
@friendly
def db_url() -> None:
    """Print a connection URL for psql (the embedded server's socket by default)."""
    from leadtrail.storage.embedded import EmbeddedPostgres

    settings = _settings()
    if settings.database_url:
        click.echo(settings.database_url)
        return
    embedded = EmbeddedPostgres(settings.data_dir)
    click.echo(embedded.dsn())
    if not embedded.is_running():
        click.echo(
            "note: the embedded server is not running; start `leadtrail serve` first", err=True
        )


@db.command("check")
@friendly
def db_check() -> None:
    """Check that the server has what leadtrail needs (version, logical decoding)."""
    from leadtrail.storage.database import check_server

    async def work(database: Any) -> int:
        async with database.system() as conn:
            result = await check_server(conn)
        click.echo(f"PostgreSQL {result.version // 10000}.{result.version % 10000}")
        for line in result.problems:
            click.echo(f"problem: {line}")
        for line in result.warnings:
            click.echo(f"warning: {line}")
        if not result.problems and not result.warnings:
            click.echo("ok")
        return len(result.problems)

    if _with_db(work, migrate=False):
        sys.exit(1)


# -- users ----------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Dashboard accounts."""


@users.command("create")
@click.argument("email")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="8 to 1024 characters, not a common or easily guessed one (prompted when omitted).",
)
@click.option("--name", default="", help="Display name.")
@click.option("--superuser", is_flag=True, help="May create sites and manage every account.")
@friendly
def users_create(email: str, password: str, name: str, superuser: bool) -> None:
    """Create a user who can log in to the dashboard."""
    from leadtrail.auth.users import create_user

    async def work(database: Any) -> None:
        async with database.system() as conn:
            user = await create_user(conn, email, password, name=name, is_superuser=superuser)
        click.echo(f"created user {user.email} ({user.id})")

    _with_db(work)


@users.command("list")
@friendly
def users_list() -> None:
    """List users."""
    from leadtrail.auth.users import list_users

    async def work(database: Any) -> None:
        async with database.system() as conn:
            for user in await list_users(conn):
                flag = " superuser" if user.is_superuser else ""
                click.echo(f"{user.id}  {user.email}{flag}")

    _with_db(work)


# -- sites ----------------------------------------------------------------------------


@main.group()
def sites() -> None:
    """Tracked websites."""


@sites.command("create")
@click.argument("name")
@click.option(
    "--domain", required=True, help="The site's domain, e.g. example.com (subdomains included)."
)
@click.option("--owner", "owner_email", help="Email of an existing user who will own the site.")
@click.option("--public-id", help="Identifier used in the tracker snippet (generated by default).")
@click.option(
    "--origin", "origins", multiple=True, help="Another allowed origin domain; repeatable."
)
@click.option("--timezone", default="UTC", show_default=True, help="Reporting time zone.")
@click.option(
    "--phone-region",
    help="Two-letter region (US, TR, ...) for phone numbers written without a country code.",
)
@click.option("--currency", help="ISO 4217 currency of ad spend and values (default USD).")
@friendly
def sites_create(
    name: str,
    domain: str,
    owner_email: str | None,
    public_id: str | None,
    origins: tuple[str, ...],
    timezone: str,
    phone_region: str | None,
    currency: str | None,
) -> None:
    """Create a site and print its public id and tracker snippet."""
    from leadtrail.auth.users import find_user
    from leadtrail.errors import NotFound
    from leadtrail.sites import manage
    from leadtrail.sites.service import create_site, snippet

    settings = _settings()
    options = {"default_region": phone_region, "currency": currency}
    site_settings = {k: v for k, v in options.items() if v is not None}

    async def work(database: Any) -> None:
        async with database.system() as conn, conn.transaction():
            owner_id = None
            if owner_email:
                user = await find_user(conn, owner_email)
                if user is None:
                    raise NotFound(f"no user with email {owner_email}")
                owner_id = user.id
            site = await create_site(
                conn,
                name=name,
                domain=domain,
                owner_id=owner_id,
                public_id=public_id,
                allowed_origins=origins,
                timezone=timezone,
            )
            if site_settings:
                site = await manage.update_site(conn, site.id, {"settings": site_settings})
        click.echo(f"created site {site.name!r}  public id: {site.public_id}  id: {site.id}")
        click.echo(snippet(site.public_id, settings.base_url))

    _with_db(work)


@sites.command("list")
@friendly
def sites_list() -> None:
    """List sites."""
    from leadtrail.sites.service import list_sites

    async def work(database: Any) -> None:
        async with database.system() as conn:
            for site in await list_sites(conn):
                click.echo(f"{site.public_id}  {site.domain}  {site.name}  ({site.id})")

    _with_db(work)


# -- keys -----------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """API keys (for servers calling leadtrail)."""


@keys.command("create")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--name", default="", help="What the key is for.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    default=("ingest",),
    show_default=True,
    type=click.Choice(["ingest", "read", "admin"]),
    help="Repeatable.",
)
@friendly
def keys_create(site_ref: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create an API key; the key is printed once and only its hash is stored."""
    from leadtrail.auth.api_keys import create_key
    from leadtrail.sites.service import get_site

    async def work(database: Any) -> None:
        async with database.system() as conn, conn.transaction():
            site = await get_site(conn, site_ref)
            new = await create_key(conn, site.id, name=name, scopes=scopes)
        click.echo(new.key)
        click.echo(
            f"prefix {new.prefix}  scopes {','.join(new.scopes)}  site {site.public_id}", err=True
        )

    _with_db(work)


@keys.command("list")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@friendly
def keys_list(site_ref: str) -> None:
    """List a site's keys (prefixes only)."""
    from leadtrail.auth.api_keys import list_keys
    from leadtrail.sites.service import get_site

    async def work(database: Any) -> None:
        async with database.system() as conn:
            site = await get_site(conn, site_ref)
            for key in await list_keys(conn, site.id):
                state = "revoked" if key.revoked_at else "active"
                used = key.last_used_at.isoformat() if key.last_used_at else "never"
                click.echo(
                    f"{key.prefix}  {','.join(key.scopes)}  {state}  last used {used}  {key.name}"
                )

    _with_db(work)


@keys.command("revoke")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.argument("key")
@friendly
def keys_revoke(site_ref: str, key: str) -> None:
    """Revoke a key by its prefix or id."""
    from leadtrail.auth.api_keys import revoke_key
    from leadtrail.sites.service import get_site

    async def work(database: Any) -> None:
        async with database.system() as conn:
            site = await get_site(conn, site_ref)
            info = await revoke_key(conn, site.id, key)
        click.echo(f"revoked {info.prefix}")

    _with_db(work)


# -- identity -------------------------------------------------------------------------


@main.group()
def identity() -> None:
    """People and the identity graph: merge history and undo."""


@identity.command("merges")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.option("--user", "user_id", help="Only merges involving this canonical user id.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@friendly
def identity_merges(site_ref: str, user_id: str | None, limit: int) -> None:
    """List merges, newest first (id, survivor <- merged, reason, state)."""
    from uuid import UUID

    from leadtrail.errors import BadRequest
    from leadtrail.identity.graph import list_merges
    from leadtrail.sites.service import get_site

    try:
        uid = UUID(user_id) if user_id else None
    except ValueError:
        raise BadRequest("--user must be a canonical user id (a UUID)") from None

    async def work(database: Any) -> None:
        async with database.system() as conn:
            site = await get_site(conn, site_ref)
            for m in await list_merges(conn, site.id, uid, limit):
                state = f"undone {m['undone_at']:%Y-%m-%d %H:%M}" if m["undone_at"] else "active"
                click.echo(
                    f"{m['id']}  {m['survivor_id']} <- {m['merged_id']}  {m['reason']}"
                    f"  {m['created_at']:%Y-%m-%d %H:%M}  {state}"
                )

    _with_db(work)


@identity.command("unmerge")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.argument("merge_id")
@friendly
def identity_unmerge(site_ref: str, merge_id: str) -> None:
    """Undo a merge: the merged person gets back its sessions, leads, calls and identifiers."""
    from uuid import UUID

    from leadtrail.errors import BadRequest
    from leadtrail.identity.graph import unmerge
    from leadtrail.sites.service import get_site

    try:
        mid = UUID(merge_id)
    except ValueError:
        raise BadRequest(
            "MERGE_ID must be a merge id (a UUID); see `leadtrail identity merges`"
        ) from None

    async def work(database: Any) -> None:
        async with database.system() as conn, conn.transaction():
            site = await get_site(conn, site_ref)
            result = await unmerge(conn, site.id, mid, "cli")
        click.echo(
            f"unmerged {result.restored_id} from {result.survivor_id}: "
            f"{result.sessions} sessions, {result.leads} leads, {result.calls} calls restored"
        )

    _with_db(work)


# -- import ---------------------------------------------------------------------------


@main.group("import")
def import_() -> None:
    """Bring data in from files."""


@import_.command("ad-spend")
@click.option("--site", "site_ref", required=True, help="Site public id or id.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@friendly
def import_ad_spend(site_ref: str, file: str) -> None:
    """Import ad spend from a CSV file (upserts; safe to re-run).

    Columns (header names, any order): platform, campaign_id, campaign_name, date
    (YYYY-MM-DD), clicks, impressions, cost, currency, and gclid for click-level rows.
    Google Ads, Microsoft Ads and Meta export headers (Campaign ID, Day, Impr., Cost,
    Currency code, Amount spent ...) are recognised.
    """
    from leadtrail.adspend.rows import read_csv
    from leadtrail.adspend.service import upsert
    from leadtrail.errors import BadRequest
    from leadtrail.sites.people import PeopleSettings
    from leadtrail.sites.service import get_site

    try:
        with click.open_file(file, encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as exc:
        raise BadRequest(f"{file} is not UTF-8 text (byte {exc.start})") from None

    async def work(database: Any) -> None:
        async with database.system() as conn, conn.transaction():
            site = await get_site(conn, site_ref)
            rows = read_csv(text, PeopleSettings.from_site(site.settings).currency)
            out = await upsert(conn, site.id, rows, "csv")
        click.echo(
            f"imported {out['rows']} rows ({out['inserted']} new, {out['updated']} updated); "
            f"{out['clicks_matched']} of {out['click_rows']} click ids matched a session"
        )

    _with_db(work)


@main.group()
def rollups() -> None:
    """Report rollup tables (kept current by the server; rebuild after bulk changes)."""


@rollups.command("rebuild")
@click.option("--site", "site_ref", help="Site public id or id (default: every site).")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only hours from this UTC day on (default: all history).",
)
@friendly
def rollups_rebuild(site_ref: str | None, since: datetime | None) -> None:
    """Re-aggregate report rollups from the sessions table.

    Needed after changes the server cannot see as recent activity: a bulk import of old
    sessions, or identity merges that reach back further than
    LEADTRAIL_ROLLUP_SETTLE_HOURS.
    """
    from leadtrail.analytics.rollups import Rollups
    from leadtrail.sites.service import get_site, list_sites

    async def work(database: Any) -> None:
        async with database.system() as conn:
            sites = [await get_site(conn, site_ref)] if site_ref else await list_sites(conn)
        job = Rollups(database)
        start = since.replace(tzinfo=UTC) if since else None
        for site in sites:
            hours = await job.rebuild_sites([site.id], start)
            click.echo(f"{site.public_id}: {hours} hours re-aggregated")

    _with_db(work)


def _register_command_groups() -> None:
    """Command groups that live in ``leadtrail.commands`` (imported here, after ``main``
    exists, because they import the helpers above)."""
    from leadtrail.commands import accounts  # noqa: F401 (adds to the users and sites groups)
    from leadtrail.commands.backup import backup, restore
    from leadtrail.commands.behaviour import behaviour
    from leadtrail.commands.calls import calls
    from leadtrail.commands.distribute import distribute  # noqa: F401 (adds db distribute)
    from leadtrail.commands.privacy import privacy
    from leadtrail.commands.retention import retention
    from leadtrail.commands.status import status
    from leadtrail.commands.sync import register as register_sync

    main.add_command(privacy)
    main.add_command(backup)
    main.add_command(restore)
    main.add_command(retention)
    main.add_command(calls)
    main.add_command(behaviour)
    main.add_command(status)
    register_sync(main, import_)


_register_command_groups()
