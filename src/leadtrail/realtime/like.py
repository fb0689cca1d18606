"""SQL ``LIKE``/``ILIKE`` matching without backtracking. Pure.

A subscriber's pattern runs against visitor-controlled values (``url``) for every change,
synchronously in the event loop, so its cost must not explode: a regular expression built
from ``%`` (``.*a.*a.*b``) backtracks polynomially. Here the pattern is split on ``%``
into fixed-length segments: the first must match at the start, the last at the end, and
the ones between are found left to right, each at its leftmost place after the previous
one. Leftmost is always right for ``%`` wildcards: a segment has a fixed length, so the
leftmost occurrence also ends first and leaves the most room for the rest. A segment
without ``_`` is found with ``str.find``; one with ``_`` with a bit-parallel scan (one
step per character of the value). The cost is linear in the value's length (times the
number of segments), whatever the pattern.

Semantics are PostgreSQL's: ``%`` any run of characters (also none), ``_`` exactly one
character (newlines included), ``\\`` escapes the next character, and a pattern may not
end with the escape character. PostgREST's ``*`` stands for ``%``; ``\\*`` is a literal
star.
"""

from __future__ import annotations

from collections.abc import Sequence

#: a ``_`` in a segment's token list
ANY = None


class LikeError(ValueError):
    """A pattern PostgreSQL would refuse too."""


class _Segment:
    """A run of literal characters and ``_`` between two ``%``."""

    __slots__ = ("_accept", "_masks", "_pieces", "_wild", "length", "literal")

    def __init__(self, tokens: Sequence[str | None]) -> None:
        self.length = len(tokens)
        #: the whole segment when it has no ``_`` (then ``str.find`` does the work)
        self.literal: str | None = None
        if ANY not in tokens:
            self.literal = "".join(t for t in tokens if t is not None)
        #: (offset, literal run): checks the segment at one place
        self._pieces: list[tuple[int, str]] = []
        run: list[str] = []
        for i, token in enumerate((*tokens, ANY)):
            if token is ANY:
                if run:
                    self._pieces.append((i - len(run), "".join(run)))
                    run = []
            else:
                run.append(token)
        # Shift-And: bit i of the state is set when the last i+1 characters match the
        # segment's first i+1 tokens.
        self._wild = sum(1 << i for i, t in enumerate(tokens) if t is ANY)
        self._masks: dict[str, int] = {}
        for i, token in enumerate(tokens):
            if token is not ANY:
                self._masks[token] = self._masks.get(token, self._wild) | (1 << i)
        self._accept = 1 << (self.length - 1) if self.length else 0

    def at(self, value: str, pos: int) -> bool:
        """Does the segment match ``value`` at ``pos`` (which leaves room for it)?"""
        return all(value.startswith(piece, pos + offset) for offset, piece in self._pieces)

    def find(self, value: str, start: int, end: int) -> int:
        """Leftmost ``pos >= start`` where the segment matches within ``value[:end]``."""
        if self.literal is not None:
            return value.find(self.literal, start, end)
        masks, wild, accept = self._masks, self._wild, self._accept
        state = 0
        for i in range(start, end):
            state = ((state << 1) | 1) & masks.get(value[i], wild)
            if state & accept:
                return i - self.length + 1
        return -1


class LikePattern:
    """A compiled ``LIKE`` (or, with ``fold``, ``ILIKE``) pattern."""

    __slots__ = ("_first", "_fold", "_last", "_middle", "_wildcard", "pattern")

    def __init__(self, pattern: str, *, fold: bool = False) -> None:
        self.pattern = pattern
        self._fold = fold
        segments = [_Segment(tokens) for tokens in _tokens(pattern, fold)]
        self._wildcard = len(segments) > 1
        self._first = segments[0]
        self._last = segments[-1]
        self._middle = segments[1:-1]

    def matches(self, value: str) -> bool:
        if self._fold:
            value = value.lower()
        first, last = self._first, self._last
        size = len(value)
        if not self._wildcard:
            return size == first.length and first.at(value, 0)
        end = size - last.length
        if first.length > end or not first.at(value, 0) or not last.at(value, end):
            return False
        pos = first.length
        for segment in self._middle:
            found = segment.find(value, pos, end)
            if found < 0:
                return False
            pos = found + segment.length
        return True


def _tokens(pattern: str, fold: bool) -> list[list[str | None]]:
    """The pattern's segments between ``%``/``*`` (runs of them count as one)."""
    segments: list[list[str | None]] = [[]]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 1
            if i == len(pattern):
                raise LikeError("a LIKE pattern must not end with the escape character \\")
            segments[-1].extend(pattern[i].lower() if fold else pattern[i])
        elif ch in ("%", "*"):
            if segments[-1] or len(segments) == 1:
                segments.append([])
        elif ch == "_":
            segments[-1].append(ANY)
        else:
            # lower() may give more than one character ("İ"); the value is folded alike
            segments[-1].extend(ch.lower() if fold else ch)
        i += 1
    return segments
