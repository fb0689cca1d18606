"""Presence per topic, in Phoenix's shape (``{key: {"metas": [{"phx_ref", ...}]}}``). Pure.

An entry remembers the sites of whoever tracked it; readers only see entries that share a
site with them, so presence never crosses tenants.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_refs = itertools.count(1)


def new_ref() -> str:
    return f"F{next(_refs):x}"


@dataclass(frozen=True)
class Entry:
    #: identifies the tracking channel (connection id + topic); ``node:owner`` when it
    #: was tracked on another realtime node (relay.py)
    owner: int | str
    key: str
    ref: str
    meta: dict[str, Any]
    sites: frozenset[str]

    def meta_with_ref(self) -> dict[str, Any]:
        return {**self.meta, "phx_ref": self.ref}


class Topic:
    """Who is present on one topic."""

    def __init__(self) -> None:
        self._entries: dict[int | str, Entry] = {}

    def __bool__(self) -> bool:
        return bool(self._entries)

    def track(
        self, owner: int, key: str, meta: dict[str, Any], sites: frozenset[str]
    ) -> tuple[Entry, Entry | None]:
        """Add or replace ``owner``'s entry; returns (new, replaced)."""
        previous = self._entries.get(owner)
        entry = Entry(owner, key, new_ref(), meta, sites)
        self._entries[owner] = entry
        return entry, previous

    def untrack(self, owner: int | str) -> Entry | None:
        return self._entries.pop(owner, None)

    def put(self, entry: Entry) -> Entry | None:
        """Add or replace an entry made elsewhere (another node); returns the replaced."""
        previous = self._entries.get(entry.owner)
        self._entries[entry.owner] = entry
        return previous

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def state_for(self, sites: frozenset[str]) -> dict[str, dict[str, list[dict[str, Any]]]]:
        return group(e for e in self._entries.values() if e.sites & sites)


def group(entries: Iterable[Entry]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for entry in entries:
        out.setdefault(entry.key, {"metas": []})["metas"].append(entry.meta_with_ref())
    return out


def diff(joins: Iterable[Entry], leaves: Iterable[Entry]) -> dict[str, Any]:
    return {"joins": group(joins), "leaves": group(leaves)}
