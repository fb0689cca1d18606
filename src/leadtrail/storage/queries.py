"""Named SQL queries kept in ``.sql`` files beside the code that uses them.

A file holds blocks that start with ``-- name: <name>``; the text up to the next header
is the query. Loaded once at import into an immutable mapping of constant strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


class Queries(Mapping[str, str]):
    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self._queries: dict[str, str] = {}
        parts = _HEADER.split(text)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in self._queries:
                raise ValueError(f"{source}: query {name!r} defined twice")
            self._queries[name] = body.strip()

    def __getitem__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise KeyError(f"{self.source} has no query named {name!r}") from None

    def __getattr__(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"{self.source} has no query named {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)


def load(package: str, filename: str = "queries.sql") -> Queries:
    """Queries from ``filename`` inside ``package``."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    return Queries(f"{package}/{filename}", text)
