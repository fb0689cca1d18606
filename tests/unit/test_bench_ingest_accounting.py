"""The ingest benchmark's exactly-once accounting: acknowledged ids against the ids stored,
classified as lost, duplicated and stored-but-unacknowledged (in flight at a phase's stop),
and only the first two fail the run."""

from __future__ import annotations

from bench.ingest import classify


def test_every_acknowledged_id_stored_once_passes() -> None:
    got = classify(["a", "b", "c"], {"a": 1, "b": 1, "c": 1})
    assert got.ok
    assert (got.acknowledged, got.stored, got.lost, got.duplicated, got.unacknowledged) == (
        3,
        3,
        [],
        [],
        0,
    )


def test_stored_but_unacknowledged_is_reported_and_allowed() -> None:
    got = classify(["a"], {"a": 1, "x": 1, "y": 1})
    assert got.ok
    assert got.unacknowledged == 2
    assert got.stored == 3


def test_an_acknowledged_id_missing_is_lost() -> None:
    got = classify(["a", "b", "c"], {"a": 1, "c": 1, "z": 1})
    assert not got.ok
    assert got.lost == ["b"]
    assert got.duplicated == []
    assert got.unacknowledged == 1


def test_an_id_on_two_rows_is_duplicated_whether_acknowledged_or_not() -> None:
    got = classify(["a", "b"], {"a": 2, "b": 1, "u": 3})
    assert not got.ok
    assert got.lost == []
    assert got.duplicated == ["a", "u"]
    assert got.stored == 6
    assert got.unacknowledged == 1


def test_an_id_acknowledged_twice_counts_once() -> None:
    # a request retried after a lost response: two 2xx for the same event id
    got = classify(["a", "a", "b"], {"a": 1, "b": 1})
    assert got.ok
    assert got.acknowledged == 2


def test_nothing_stored_loses_everything_acknowledged() -> None:
    got = classify(["b", "a"], {})
    assert got.lost == ["a", "b"]
    assert got.stored == 0
    assert not got.ok
