"""How the ingest writer reads a failed transaction, from a table of cases."""

from __future__ import annotations

import asyncpg
import pytest

from leadtrail.errors import BadRequest, ConfigError, Unavailable
from leadtrail.ingest.failures import Failure, Stalled, classify, refusal

exc = asyncpg.exceptions

CASES: list[tuple[BaseException, Failure]] = [
    (exc.ConnectionDoesNotExistError("closed in the middle of operation"), Failure.TRANSIENT),
    (exc.DeadlockDetectedError("deadlock"), Failure.TRANSIENT),
    (exc.SerializationError("could not serialize"), Failure.TRANSIENT),
    (exc.TooManyConnectionsError("too many"), Failure.TRANSIENT),
    (exc.AdminShutdownError("terminating"), Failure.TRANSIENT),
    (exc.CannotConnectNowError("starting up"), Failure.TRANSIENT),
    (exc.InterfaceError("another operation is in progress"), Failure.TRANSIENT),
    (ConnectionResetError(), Failure.TRANSIENT),
    (TimeoutError(), Failure.TRANSIENT),
    (ConfigError("cannot connect to PostgreSQL"), Failure.TRANSIENT),
    (exc.QueryCanceledError("statement timeout"), Failure.TIMEOUT),
    (exc.LockNotAvailableError("lock timeout"), Failure.TIMEOUT),
    (Stalled("no answer"), Failure.TIMEOUT),
    (exc.NumericValueOutOfRangeError("integer out of range"), Failure.CONTENT),
    (exc.CheckViolationError("check"), Failure.CONTENT),
    (exc.InsufficientPrivilegeError("permission denied"), Failure.CONTENT),
    (exc.DataError("invalid input for query argument"), Failure.CONTENT),
    (OverflowError("value out of int32 range"), Failure.CONTENT),
    (KeyError("a bug"), Failure.CONTENT),
]


@pytest.mark.parametrize(("error", "kind"), CASES, ids=[type(c[0]).__name__ for c in CASES])
def test_classify(error: BaseException, kind: Failure) -> None:
    assert classify(error) is kind


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (OverflowError("value out of int32 range"), 400, "events_not_storable"),
        (exc.NumericValueOutOfRangeError("integer out of range"), 400, "events_not_storable"),
        (exc.UniqueViolationError("duplicate key"), 400, "events_not_storable"),
        (exc.InsufficientPrivilegeError("permission denied"), 503, "write_failed"),
    ],
)
def test_refusal_of_the_request_at_fault(error: BaseException, status: int, code: str) -> None:
    answer = refusal(error)
    assert (answer.status, answer.code) == (status, code)
    assert isinstance(answer, BadRequest | Unavailable)
    if isinstance(answer, Unavailable):
        assert answer.retry_after is not None
