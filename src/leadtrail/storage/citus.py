"""Distributing leadtrail's tables over a Citus cluster (``leadtrail db distribute``).

Which table goes where, decided per table:

- every per-site table (a ``site_id`` column) in ``public``: distributed by ``site_id``, all in
  one colocation group, so a site's sessions, events, people, leads and rollups sit on the
  same node and joins between them never leave it;
- small tables every node reads and that have no ``site_id`` to shard by, or that are looked
  up across sites (accounts, memberships): reference tables, a copy on every node. API keys
  are looked up by prefix across sites but stay distributed: a write to a reference table
  locks the reference tables it points to, as the writing role (the auth role may not);
- the webhook queue (claimed across sites): ordinary tables on the coordinator;
- leadtrail's internal work queues and bookkeeping (``leadtrail`` schema): left as ordinary
  tables on the coordinator. They are tiny, only background jobs on the coordinator read them,
  and keeping them local means marking a change never adds a distributed write.

Idempotent: tables already in Citus's metadata are skipped, so it can run again after a
migration added tables.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from asyncpg import Connection

from leadtrail.errors import ConfigError

#: looked up without a site (credentials, memberships, accounts), or the sites themselves
REFERENCE = (
    "public.sites",
    "public.app_users",
    "public.account_tokens",
    "public.dashboard_sessions",
    "public.site_members",
    "leadtrail.hll_masks",
)
#: per-site tables kept on the coordinator: the webhook outbox and its deliveries are a work
#: queue claimed across sites (FOR UPDATE SKIP LOCKED, which Citus runs only on one shard);
#: realtime heartbeats are pruned by clock_timestamp() (volatile: refused in a distributed DELETE)
LOCAL = (
    "public.realtime_heartbeats",
    "public.webhook_endpoints",
    "public.webhook_deliveries",
    "public.webhook_attempts",
    "public.webhook_outbox",
)
#: roles the coordinator opens worker connections as (the role of the current transaction)
ROLES = (
    "leadtrail_app",
    "leadtrail_anon",
    "leadtrail_ingest",
    "leadtrail_analyst",
    "leadtrail_admin",
    "leadtrail_auth",
    "leadtrail_writer",
)


@dataclass(frozen=True)
class Table:
    name: str
    has_site_id: bool
    #: tables this one has a foreign key to
    references: frozenset[str]


@dataclass(frozen=True)
class Plan:
    reference: tuple[str, ...]
    distributed: tuple[str, ...]
    local: tuple[str, ...]


def plan(tables: Iterable[Table]) -> Plan:
    """Decide every table's placement; reference and distributed tables in foreign-key order
    (a table after the tables it references)."""
    by_name = {t.name: t for t in tables}
    reference, distributed, local = [], [], []
    for table in by_name.values():
        if table.name in REFERENCE:
            reference.append(table.name)
        elif table.name.startswith("leadtrail.") or table.name in LOCAL:
            local.append(table.name)
        elif table.has_site_id:
            distributed.append(table.name)
        else:
            raise ConfigError(
                f"{table.name} has no site_id and is not a known shared table: decide its "
                "placement in leadtrail.storage.citus"
            )
    return Plan(
        tuple(_fk_order(reference, by_name)),
        tuple(_fk_order(distributed, by_name)),
        tuple(sorted(local)),
    )


def _fk_order(names: list[str], tables: Mapping[str, Table]) -> list[str]:
    wanted = set(names)
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(tables[name].references):
            if dep in wanted and dep != name:
                visit(dep)
        done.append(name)

    for name in sorted(names):
        visit(name)
    return done


TABLES_SQL = """
SELECT n.nspname || '.' || c.relname AS name,
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = c.oid AND a.attname = 'site_id' AND NOT a.attisdropped) AS has_site_id,
       coalesce((SELECT array_agg(DISTINCT rn.nspname || '.' || rc.relname)
                 FROM pg_constraint k JOIN pg_class rc ON rc.oid = k.confrelid
                 JOIN pg_namespace rn ON rn.oid = rc.relnamespace
                 WHERE k.conrelid = c.oid AND k.contype = 'f'), '{}') AS refs
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ('public', 'leadtrail')
"""

PLACED_SQL = """
SELECT logicalrelid::regclass::text AS name, partmethod FROM pg_dist_partition
"""


async def read_tables(conn: Connection) -> list[Table]:
    rows = await conn.fetch(TABLES_SQL)
    return [Table(r["name"], r["has_site_id"], frozenset(r["refs"])) for r in rows]


async def citus_version(conn: Connection) -> str | None:
    value = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'citus'")
    return str(value) if value is not None else None


async def authenticate_roles(conn: Connection, echo: Callable[[str], None] = print) -> None:
    """Let the coordinator reach the workers as leadtrail's roles (it connects as the role of
    the current transaction). A role without a password gets LOGIN and a generated one
    (ALTER ROLE propagates to every node), kept only in Citus's ``pg_dist_authinfo``
    (superusers only), on every node. Roles that already have an entry are left alone; a
    password set by the operator (leadtrail_app's) cannot be read back, so its entry is theirs
    to add (docs/scaling.md)."""
    for role in ROLES:
        known = await conn.fetchval(
            "SELECT 1 FROM pg_dist_authinfo WHERE nodeid = 0 AND rolename = $1", role
        )
        if known:
            continue
        has_password = await conn.fetchval(
            "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1", role
        )
        if has_password:
            echo(
                f"warning: {role} has a password of its own; add it to pg_dist_authinfo on every "
                "node (docs/scaling.md) or the coordinator cannot reach the workers as it"
            )
            continue
        password = secrets.token_urlsafe(24)
        await conn.execute(f"ALTER ROLE {role} LOGIN PASSWORD '{password}'")
        upsert = (
            "INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) "
            f"VALUES (0, '{role}', 'password={password}') "
            "ON CONFLICT (rolename, nodeid) DO UPDATE SET authinfo = EXCLUDED.authinfo"
        )
        await conn.execute(upsert)
        for row in await conn.fetch("SELECT * FROM run_command_on_workers($1)", upsert):
            if not row["success"]:
                raise ConfigError(
                    f"cannot store {role}'s node password on {row['nodename']}:{row['nodeport']}: "
                    f"{row['result']}"
                )


async def distribute(
    conn: Connection, *, shard_count: int | None = None, echo: Callable[[str], None] = print
) -> Plan:
    """Apply the plan on a database that has the citus extension."""
    if await citus_version(conn) is None:
        raise ConfigError(
            "Citus is not installed in this database: CREATE EXTENSION citus on every node and "
            "add the workers first (docs/scaling.md)"
        )
    placed = {r["name"]: r["partmethod"] for r in await conn.fetch(PLACED_SQL)}
    the_plan = plan(await read_tables(conn))
    await authenticate_roles(conn, echo)
    # Request claims are SET LOCAL in each transaction; Citus forwards them to the workers
    # (where the RLS policies read them) only when told to.
    database = await conn.fetchval("SELECT current_database()")
    await conn.execute(f"ALTER DATABASE \"{database}\" SET citus.propagate_set_commands = 'local'")
    await conn.execute("SET citus.propagate_set_commands = 'local'")
    # A write to a table with a foreign key to a reference table makes Citus lock the
    # referenced table's shard on every node (lock_shard_resources), which it allows only to
    # a role that holds UPDATE, DELETE or TRUNCATE on that table. leadtrail_admin updates
    # `sites` and creates API keys, both referencing `app_users`, where it had column grants
    # only: PATCH /api/sites failed with "permission denied for table app_users". The grant
    # lets it take the lock and nothing more: app_users forces row-level security and has
    # no UPDATE policy for this role, so an UPDATE by it matches no row
    # (tests/citus/test_citus_site_update.py).
    await conn.execute("GRANT UPDATE ON app_users TO leadtrail_admin")
    if shard_count is not None:
        await conn.execute(f"SET citus.shard_count = {int(shard_count)}")
    pending = [n for n in the_plan.distributed if _short(n) not in placed and n not in placed]
    async with conn.transaction():
        # Citus turns a local table that references a new reference table into a "Citus local"
        # table, and then refuses to distribute a table such a table references: the foreign
        # keys between the tables to distribute are dropped first and put back at the end
        # (each includes site_id, so they hold within a shard group).
        fks = await conn.fetch(FKS_SQL, pending)
        for fk in fks:
            await conn.execute(f'ALTER TABLE {fk["tbl"]} DROP CONSTRAINT "{fk["conname"]}"')
        await _place(conn, the_plan, placed, echo)
        for fk in fks:
            await conn.execute(
                f'ALTER TABLE {fk["tbl"]} ADD CONSTRAINT "{fk["conname"]}" {fk["def"]}'
            )
    return the_plan


FKS_SQL = """
SELECT k.conrelid::regclass::text AS tbl, k.conname, pg_get_constraintdef(k.oid) AS def
FROM pg_constraint k
WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid = ANY ($1::text[]::regclass[])
ORDER BY 1, 2
"""


async def _place(
    conn: Connection, the_plan: Plan, placed: Mapping[str, str], echo: Callable[[str], None]
) -> None:
    for name in the_plan.reference:
        if _short(name) in placed or name in placed:
            continue
        await conn.execute("SELECT create_reference_table($1::regclass)", name)
        echo(f"reference   {name}")
    first: str | None = None
    for name in the_plan.distributed:
        if _short(name) in placed or name in placed:
            first = first or name
            continue
        if first is None:
            await conn.execute("SELECT create_distributed_table($1::regclass, 'site_id')", name)
            first = name
        else:
            await conn.execute(
                "SELECT create_distributed_table($1::regclass, 'site_id', colocate_with => $2)",
                name,
                first,
            )
        echo(f"distributed {name}")


def _short(name: str) -> str:
    """pg_dist_partition prints public tables without their schema."""
    return name.removeprefix("public.")
