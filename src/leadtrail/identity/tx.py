"""Short transactions that retry when PostgreSQL picks them as a deadlock victim or two
writers race to create the same row; the work function must be safe to run again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from leadtrail.storage import Claims, Connection, Database
from leadtrail.storage.database import PostgresError

T = TypeVar("T")
logger = logging.getLogger(__name__)

#: deadlock_detected, serialization_failure, unique_violation
RETRYABLE = frozenset({"40P01", "40001", "23505"})


class StaleRead(Exception):
    """Something read at the start of the transaction changed before it was locked."""


async def run(
    db: Database,
    claims: Claims,
    work: Callable[[Connection], Awaitable[T]],
    attempts: int = 4,
) -> T:
    for attempt in range(1, attempts + 1):
        try:
            async with db.transaction(claims) as conn:
                return await work(conn)
        except (PostgresError, StaleRead) as exc:
            retryable = isinstance(exc, StaleRead) or getattr(exc, "sqlstate", None) in RETRYABLE
            if not retryable or attempt == attempts:
                raise
            logger.info("retrying after %s (attempt %d)", exc.__class__.__name__, attempt)
    raise AssertionError("unreachable")
