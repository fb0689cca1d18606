from __future__ import annotations

import pytest

from leadtrail.storage import migrator
from leadtrail.storage.queries import Queries


def test_named_queries_are_split_by_header() -> None:
    queries = Queries("x.sql", "-- name: one\nSELECT 1;\n\n-- name: two\nSELECT 2\n")
    assert dict(queries) == {"one": "SELECT 1;", "two": "SELECT 2"}
    assert queries.two == "SELECT 2"
    with pytest.raises(AttributeError):
        _ = queries.three


def test_duplicate_query_names_are_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        Queries("x.sql", "-- name: a\nSELECT 1\n-- name: a\nSELECT 2\n")


def test_migrations_have_unique_increasing_versions() -> None:
    versions = [m.version for m in migrator.available()]
    assert versions == sorted(set(versions)) and versions[0] == 1
