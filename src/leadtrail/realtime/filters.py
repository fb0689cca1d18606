"""``postgres_changes`` filters (``status=eq.open``, ``amount=gt.100,status=in.(a,b)``).

Pure. A filter string is parsed once, at join, against the table's columns into a
``Filter`` of conditions that are AND-ed; values are converted to the column's type (so
``lead_score=gt.9`` compares numbers and ``created_at=gte.<iso>`` compares instants). Nothing
here becomes SQL. Evaluation follows SQL's three-valued logic: a comparison with NULL is
unknown, and unknown never matches, negated or not.

Operators: eq, neq, lt, lte, gt, gte, in, like, ilike, is, isdistinct; any of them
negated with ``not.`` (``status=not.in.(junk,spam)``).

Filters run synchronously in the event loop for every change, against values visitors
control, so a filter's cost is bounded: its text is capped, so is its number of conditions,
and LIKE is matched in linear time (``like.py``). Regular expressions (PostgREST's
``match``/``imatch``) are refused: Python's engine backtracks, and a crafted pattern would
stall every subscriber of the process.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from leadtrail.realtime.like import LikePattern
from leadtrail.realtime.values import PgType, comparable, parse_literal

_SPLIT = re.compile(r",(?=\s*[A-Za-z_][A-Za-z0-9_]*=)")
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=(not\.)?([a-z]+)\.(.*)$", re.DOTALL)
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
OPERATORS = (*_ORDER, "in", "like", "ilike", "is", "isdistinct")
#: regular expressions: refused with their own reason (see the module's docstring)
UNSUPPORTED = ("match", "imatch")
MAX_CONDITIONS = 16
#: characters in a filter's text (room for an ``in`` list of 100 uuids)
MAX_LENGTH = 4096
MAX_IN_VALUES = 100


class FilterError(ValueError):
    """A filter the server refuses, with a reason meant for the client."""


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    negated: bool
    #: unknown (None) -> no match; the callable gets the comparable record value
    test: Callable[[Any], bool | None]
    pg_type: PgType

    def evaluate(self, record: Mapping[str, Any]) -> bool | None:
        value = comparable(self.pg_type, record.get(self.column))
        try:
            result = self.test(value)
        except TypeError:  # e.g. a NaN numeric kept as text
            return None
        if result is None:
            return None
        return not result if self.negated else result


@dataclass(frozen=True)
class Filter:
    text: str
    conditions: tuple[Condition, ...]

    def matches(self, record: Mapping[str, Any] | None) -> bool:
        if record is None:
            return False
        return all(c.evaluate(record) is True for c in self.conditions)

    @property
    def columns(self) -> frozenset[str]:
        return frozenset(c.column for c in self.conditions)


def parse(text: str, columns: Mapping[str, PgType]) -> Filter:
    """Parse ``text`` against a table's ``columns`` (name -> type); raise FilterError."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"a filter may be at most {MAX_LENGTH} characters long")
    parts = [p for p in _SPLIT.split(text) if p.strip()]
    if not parts:
        raise FilterError("filter is empty")
    if len(parts) > MAX_CONDITIONS:
        raise FilterError(f"a filter may combine at most {MAX_CONDITIONS} conditions")
    return Filter(text, tuple(_condition(p, columns) for p in parts))


def _condition(part: str, columns: Mapping[str, PgType]) -> Condition:
    match = _CONDITION.match(part)
    if not match:
        raise FilterError(f"invalid filter {part.strip()!r}: expected column=operator.value")
    column, negation, op, raw = match.groups()
    if op in UNSUPPORTED:
        raise FilterError(
            f"filter operator {op!r} is not supported (regular expressions are not"
            " evaluated); use like or ilike"
        )
    if op not in OPERATORS:
        raise FilterError(f"unknown filter operator {op!r}; use one of {', '.join(OPERATORS)}")
    pg_type = columns.get(column)
    if pg_type is None:
        raise FilterError(f"unknown column {column!r} in filter")
    try:
        test = _test(op, raw, pg_type)
    except ValueError as exc:  # LikeError included
        raise FilterError(f"invalid value for {column} ({pg_type.name}) in filter: {exc}") from None
    return Condition(column, op, negation is not None, test, pg_type)


def _test(op: str, raw: str, pg_type: PgType) -> Callable[[Any], bool | None]:
    if op in _ORDER:
        compare = _ORDER[op]
        wanted = parse_literal(pg_type, raw)
        return lambda v: None if v is None else compare(v, wanted)
    if op == "in":
        values = frozenset(parse_literal(pg_type, item) for item in _in_list(raw))
        return lambda v: None if v is None else v in values
    if op in ("like", "ilike"):
        pattern = LikePattern(raw, fold=op == "ilike")
        return lambda v: None if v is None else pattern.matches(str(v))
    if op == "is":
        return _is(raw.lower(), pg_type)
    # isdistinct: NULL-safe inequality, never unknown
    wanted_or_none = None if raw.lower() == "null" else parse_literal(pg_type, raw)
    return lambda v: v != wanted_or_none


def _is(raw: str, pg_type: PgType) -> Callable[[Any], bool | None]:
    if raw == "null":
        return lambda v: v is None
    if raw in ("not_null", "notnull"):
        return lambda v: v is not None
    if raw in ("true", "false"):
        if pg_type.name != "bool":
            raise ValueError(f"is.{raw} needs a boolean column")
        truth = raw == "true"
        return lambda v: v is truth
    if raw == "unknown":
        return lambda v: v is None
    raise ValueError("is takes null, not_null, true, false or unknown")


def _in_list(raw: str) -> list[str]:
    if not (raw.startswith("(") and raw.endswith(")")):
        raise ValueError("in takes a list in parentheses: in.(a,b,c)")
    body = raw[1:-1]
    items: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(body):
        ch = body[i]
        if quoted:
            if ch == "\\" and i + 1 < len(body):
                i += 1
                current.append(body[i])
            elif ch == '"':
                quoted = False
            else:
                current.append(ch)
        elif ch == '"':
            quoted = True
        elif ch == ",":
            items.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    if quoted:
        raise ValueError("unterminated quote in list")
    items.append("".join(current).strip())
    if len(items) > MAX_IN_VALUES:
        raise ValueError(f"in takes at most {MAX_IN_VALUES} values")
    return items
