"""LIKE/ILIKE without backtracking: PostgreSQL's answers, a reference implementation on
random patterns, and a pathological pattern against a long value."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtrail.realtime.like import LikeError, LikePattern
from tests.unit.realtime.like_cases import CASES, INVALID


@pytest.mark.parametrize(("value", "pattern", "like", "ilike"), CASES)
def test_postgresql_semantics(value: str, pattern: str, like: bool, ilike: bool) -> None:
    assert LikePattern(pattern).matches(value) is like
    assert LikePattern(pattern, fold=True).matches(value) is ilike


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [("abc", "a*", True), ("abc", "*b*", True), ("a*c", "a\\*c", True), ("abc", "a\\*c", False)],
)
def test_star_is_postgrest_percent(value: str, pattern: str, expected: bool) -> None:
    assert LikePattern(pattern).matches(value) is expected


@pytest.mark.parametrize(("value", "pattern"), INVALID)
def test_a_trailing_escape_is_refused(value: str, pattern: str) -> None:
    with pytest.raises(LikeError, match="escape character"):
        LikePattern(pattern)


def _reference(pattern: str, fold: bool) -> re.Pattern[str]:
    """The obvious translation to a regular expression (right, but it backtracks)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append({"%": ".*", "*": ".*", "_": "."}.get(ch) or re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if fold else 0))


@given(
    pattern=st.text(alphabet="ab%_*\\", max_size=9),
    value=st.text(alphabet="abAB%_\n", max_size=10),
    fold=st.booleans(),
)
def test_agrees_with_a_regular_expression(pattern: str, value: str, fold: bool) -> None:
    try:
        compiled = LikePattern(pattern, fold=fold)
    except LikeError:
        assert pattern.endswith("\\")
        return
    assert compiled.matches(value) is (_reference(pattern, fold).fullmatch(value) is not None)


# Run in a child process so that an engine that backtracks fails the test (on the timeout)
# instead of hanging it.
PATHOLOGICAL = """
import json, sys, time
from leadtrail.realtime import filters
from leadtrail.realtime.values import BUILTIN
columns = {"url": BUILTIN[25]}
value = {"url": "a" * 100_000}
texts = [
    "url=like." + "%a" * 40 + "%b",
    "url=ilike." + "%A" * 40 + "%b",
    "url=like.%" + "a_" * 500 + "b%",
    "url=like." + "%" + "a%" * 15 + "_" * 50 + "b",
]
parsed = [filters.parse(text, columns) for text in texts]
start = time.perf_counter()
results = [f.matches(value) for f in parsed]
print(json.dumps({"seconds": time.perf_counter() - start, "results": results}))
"""


def test_a_pathological_pattern_against_a_long_value_is_quick() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PATHOLOGICAL], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["results"] == [False, False, False, False]
    # typically a few hundredths of a second; a backtracking engine takes hours
    assert report["seconds"] < 5, report
