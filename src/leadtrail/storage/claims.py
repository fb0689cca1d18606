"""Who a transaction runs as: a PostgreSQL role and the claims RLS policies read.

A plain value so ``storage`` need not know how callers authenticate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from uuid import UUID

import orjson


class DbRole(enum.Enum):
    """The roles a transaction may ``SET LOCAL ROLE`` into."""

    ANON = "leadtrail_anon"
    INGEST = "leadtrail_ingest"
    ANALYST = "leadtrail_analyst"
    ADMIN = "leadtrail_admin"
    #: resolves credentials (reads keys, users, memberships)
    AUTH = "leadtrail_auth"
    #: the ingest writer (inserts events, upserts sessions)
    WRITER = "leadtrail_writer"

    @property
    def claim(self) -> str:
        """Name used in the ``role`` claim: ``leadtrail_analyst`` -> ``analyst``."""
        return self.value.removeprefix("leadtrail_")


@dataclass(frozen=True)
class Claims:
    """The caller of one transaction."""

    role: DbRole
    #: user id, API key id or a component name
    sub: str | None = None
    #: sites the caller may see; empty means none
    site_ids: tuple[UUID, ...] = field(default=())

    def to_json(self) -> str:
        """``request.jwt.claims`` value, in the Supabase/PostgREST shape."""
        return orjson.dumps(
            {"sub": self.sub, "role": self.role.claim, "site_ids": [str(s) for s in self.site_ids]}
        ).decode()

    def set_local_sql(self) -> str:
        """Statements that make the current transaction run as this caller.

        ``SET LOCAL`` takes no bind parameters; the value is built from typed fields
        (an enum, UUIDs, our own ids) and quoted, never from raw request text. Citus
        forwards ``SET LOCAL`` (not ``set_config``) to its workers, hence this form.
        """
        literal = "'" + self.to_json().replace("'", "''") + "'"
        return f"SET LOCAL ROLE {self.role.value}; SET LOCAL request.jwt.claims = {literal}"


ANONYMOUS = Claims(role=DbRole.ANON)
