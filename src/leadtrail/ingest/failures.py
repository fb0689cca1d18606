"""What a failed writer transaction means for the requests in it, and what they are told.
Pure: decided from the exception alone.

- ``TRANSIENT``: the connection or the database's state (broken connection, deadlock,
  shutdown, out of resources): the same batch may well succeed on a retry.
- ``TIMEOUT``: a statement or lock wait ran out of time, or the connection stopped answering:
  the batch is answered 503 at once, since waiting again would double the wait.
- ``CONTENT``: something in the batch (a value the database or its driver refuses, a bug a
  payload triggers): the batch is split until the request at fault is alone.
"""

from __future__ import annotations

import enum

from leadtrail.errors import BadRequest, ConfigError, LeadtrailError, Unavailable
from leadtrail.storage.database import DriverError, PostgresError

#: SQLSTATE prefixes a retry can cure: connection (08), rollback after a deadlock or a
#: serialization failure (40), insufficient resources (53), shutdown or cannot connect now
#: (57P), system I/O error (58)
_TRANSIENT_STATES = ("08", "40", "53", "57P", "58")
#: query canceled (statement_timeout) and lock not available (lock_timeout)
_TIMEOUT_STATES = frozenset({"57014", "55P03"})
#: data exception (22) and integrity constraint violation (23): the rows are at fault
_DATA_STATES = ("22", "23")


class Failure(enum.Enum):
    TRANSIENT = "transient"
    TIMEOUT = "timeout"
    CONTENT = "content"


class Stalled(Exception):
    """The writer's watchdog closed a connection that stopped answering."""


def classify(exc: BaseException) -> Failure:
    if isinstance(exc, Stalled):
        return Failure.TIMEOUT
    if isinstance(exc, PostgresError):
        state = exc.sqlstate or ""
        if state in _TIMEOUT_STATES:
            return Failure.TIMEOUT
        return Failure.TRANSIENT if state.startswith(_TRANSIENT_STATES) else Failure.CONTENT
    # The driver's DataError is also a ValueError: a value it could not encode.
    if isinstance(exc, DriverError) and not isinstance(exc, ValueError):
        return Failure.TRANSIENT
    if isinstance(exc, TimeoutError | OSError | ConfigError):  # ConfigError: cannot connect
        return Failure.TRANSIENT
    return Failure.CONTENT


def write_failed(detail: str = "could not store the events; retry later") -> Unavailable:
    return Unavailable(detail, code="write_failed", retry_after=5)


def refusal(exc: BaseException) -> LeadtrailError:
    """The answer for a request, alone in its batch, whose events make the write fail."""
    if isinstance(exc, PostgresError) and not (exc.sqlstate or "").startswith(_DATA_STATES):
        return write_failed()  # e.g. a permission the writer lacks: not the client's fault
    # Resending the same events would fail the same way: a 4xx stops the tracker resending.
    return BadRequest(
        "the events passed validation but cannot be stored; the server log has details",
        code="events_not_storable",
    )
