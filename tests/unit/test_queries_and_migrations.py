from __future__ import annotations

import re
from importlib import resources

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


def test_shipped_queries_call_no_whole_row_helpers() -> None:
    """On Citus a sessions row has its shard's type, so leadtrail.visitor_hash(sessions) and
    leadtrail.session_dims(sessions, ...) do not resolve there: queries use the _of versions
    (migration 0085) that take columns."""
    source = resources.files("leadtrail")
    offenders = [
        f"{package.name}/queries.sql"
        for package in source.iterdir()
        if package.joinpath("queries.sql").is_file()
        and re.search(
            r"leadtrail\.(visitor_hash|session_dims)\(",
            package.joinpath("queries.sql").read_text(encoding="utf-8"),
        )
    ]
    assert offenders == []
