"""Leader leases in PostgreSQL with fencing tokens.

A lease is held for a TTL and renewed well before it runs out. Every write a leader-only
job makes runs in a transaction that first calls ``Fence.check``: it fails unless the
token is still the live one, and it keeps a takeover waiting until the transaction ends.
So a deposed leader (paused, partitioned, or just slow) can never commit after another
node took over.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass

from leadtrail.storage import Connection, Database
from leadtrail.storage.database import PostgresError
from leadtrail.storage.queries import load

Q = load(__package__)
#: SQLSTATE raised by ``leadtrail.lease_check``
FENCE_SQLSTATE = "LTF01"


class FenceLost(Exception):
    """The lease moved on: this node's leader-only work must stop."""


@dataclass(frozen=True)
class Fence:
    """Proof of leadership: the lease name and the token it was granted with."""

    lease: str
    token: int
    holder: str

    async def check(self, conn: Connection) -> None:
        """Fail unless the lease is still ours; call inside the transaction it guards."""
        try:
            await conn.execute(Q.check, self.lease, self.token)
        except PostgresError as exc:
            if getattr(exc, "sqlstate", None) == FENCE_SQLSTATE:
                raise FenceLost(str(exc)) from exc
            raise


#: the fence of the scheduled job running in this task (None outside the scheduler)
current_fence: contextvars.ContextVar[Fence | None] = contextvars.ContextVar(
    "leadtrail_fence", default=None
)


async def check_current_fence(conn: Connection) -> None:
    """Check the running job's fence, if any: jobs that are also run by operators (the CLI
    rebuild, a test) call this in their transactions and are unfenced outside the scheduler."""
    fence = current_fence.get()
    if fence is not None:
        await fence.check(conn)


class Lease:
    """One named lease taken by one holder (a node id)."""

    def __init__(self, db: Database, name: str, holder: str, ttl: float) -> None:
        self._db = db
        self.name = name
        self.holder = holder
        self.ttl = ttl

    async def acquire(self) -> Fence | None:
        """Take or renew the lease; the fence, or None while another node holds it."""
        async with self._db.system() as conn:
            token = await conn.fetchval(Q.acquire, self.name, self.holder, self.ttl)
        return None if token is None else Fence(self.name, int(token), self.holder)

    async def release(self, fence: Fence) -> None:
        async with self._db.system() as conn:
            await conn.fetchval(Q.release, self.name, self.holder, fence.token)
