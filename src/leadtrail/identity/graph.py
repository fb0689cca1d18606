"""The identity graph in PostgreSQL: links, people, merges and their undoing.

Lock order everywhere: identifier keys (advisory), then people (``canonical_users`` rows by
id), then sessions (by id). The ingest writer only locks sessions, so nobody waits in a
circle.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from leadtrail.errors import Conflict, NotFound
from leadtrail.identity.rules import IdKey, Link, Profile, SessionKey, UserRef
from leadtrail.storage import Connection
from leadtrail.storage.marks import mark_sessions
from leadtrail.storage.queries import load

Q = load(__package__)


async def lock_keys(conn: Connection, site_id: UUID, keys: Iterable[IdKey]) -> None:
    texts = sorted({f"{kind}:{value}" for kind, value in keys})
    if texts:
        await conn.fetchval(Q.lock_keys, site_id, texts)


async def load_links(conn: Connection, site_id: UUID, keys: Iterable[IdKey]) -> dict[IdKey, Link]:
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = await conn.fetch(Q.links_for, site_id, [k for k, _ in wanted], [v for _, v in wanted])
    return {
        (r["kind"], r["value"]): Link(
            r["canonical_user_id"], r["state"], r["first_network"], r["state_reason"]
        )
        for r in rows
    }


async def load_profiles(
    conn: Connection, site_id: UUID, ids: Iterable[UUID]
) -> dict[UUID, Profile]:
    rows = await conn.fetch(Q.profiles, site_id, sorted(set(ids)))
    found: dict[UUID, tuple[datetime, dict[str, set[str]]]] = {}
    for r in rows:
        _, ids_by_kind = found.setdefault(r["id"], (r["created_at"], {}))
        if r["kind"] is not None:
            ids_by_kind.setdefault(r["kind"], set()).add(r["value"])
    return {
        uid: Profile(uid, created, {k: frozenset(v) for k, v in kinds.items()})
        for uid, (created, kinds) in found.items()
    }


async def lock_users(
    conn: Connection, site_id: UUID, ids: Iterable[UUID]
) -> dict[UUID, UUID | None]:
    """Lock people rows in id order; returns each one's ``merged_into``."""
    rows = await conn.fetch(Q.lock_users, site_id, sorted(set(ids)))
    return {r["id"]: r["merged_into"] for r in rows}


async def create_users(conn: Connection, site_id: UUID, count: int, at: datetime) -> list[UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    if ids:
        await conn.executemany(Q.create_users, [(site_id, i, at) for i in ids])
    return ids


def real(ref: UserRef | None, created: Sequence[UUID]) -> UUID | None:
    """A decided person as an id: placeholders (ints) index the people just created."""
    if ref is None or isinstance(ref, UUID):
        return ref
    return created[ref]


async def write_links(
    conn: Connection,
    site_id: UUID,
    links: Mapping[IdKey, Link],
    created: Sequence[UUID],
    source: str,
) -> None:
    if not links:
        return
    items = sorted(links.items())
    await conn.execute(
        Q.upsert_links,
        site_id,
        [k for (k, _), _ in items],
        [v for (_, v), _ in items],
        [real(link.user, created) for _, link in items],
        [link.state for _, link in items],
        [link.reason for _, link in items],
        [link.first_network for _, link in items],
        source,
    )


async def mark_shared(conn: Connection, site_id: UUID, key: IdKey, reason: str) -> None:
    await conn.execute(Q.mark_shared, site_id, key[0], key[1], reason)


async def move_sessions(
    conn: Connection,
    site_id: UUID,
    moves: Mapping[SessionKey, tuple[UUID | None, UUID, str]],
) -> int:
    """Re-point sessions (key -> (expected current person, new person, via))."""
    if not moves:
        return 0
    items = sorted(moves.items())
    rows = await conn.fetch(
        Q.move_sessions,
        site_id,
        [k[0] for k, _ in items],
        [k[1] for k, _ in items],
        [m[0] for _, m in items],
        [m[1] for _, m in items],
        [m[2] for _, m in items],
    )
    await mark_sessions(conn, rows, former_people=[(site_id, m[0]) for _, m in items])
    return len(rows)


async def refresh_users(conn: Connection, site_id: UUID, ids: Iterable[UUID | None]) -> None:
    """Recompute people's totals from their sessions, leads and calls."""
    wanted = sorted({i for i in ids if i is not None})
    if wanted:
        # Lock the people first, in a statement of its own: the totals are then computed by a
        # later statement, whose snapshot sees what a concurrent merge or unmerge of them
        # committed. Computed in the same statement, they came from the snapshot before the
        # wait and overwrote the other transaction's fresh totals with stale ones.
        await lock_users(conn, site_id, wanted)
        # one statement per person, pipelined (one round trip): keyed by a scalar id, every
        # lookup stays a point lookup whatever the plan (see the query)
        await conn.executemany(Q.refresh_user, [(site_id, i) for i in wanted])


async def survivor_of(conn: Connection, site_id: UUID, user_id: UUID) -> UUID | None:
    value = await conn.fetchval(Q.survivor_of, site_id, user_id)
    return value if isinstance(value, UUID) else None


# -- merges --------------------------------------------------------------------------------


async def merge(
    conn: Connection,
    site_id: UUID,
    survivor: UUID,
    loser: UUID,
    *,
    reason: str,
    evidence: Mapping[str, Any],
    actor: str,
) -> UUID:
    """Move everything of ``loser`` to ``survivor`` and record what moved. Both people
    must already be locked by the caller."""
    loser_attributes = await conn.fetchval(Q.retire_user, site_id, loser, survivor)
    if loser_attributes is None:
        raise Conflict("that person was already merged", code="already_merged")
    sessions = await conn.fetch(Q.merge_sessions, site_id, loser, survivor)
    await mark_sessions(conn, sessions, former_people=[(site_id, loser)])
    leads = await conn.fetch(Q.merge_leads, site_id, loser, survivor)
    calls = await conn.fetch(Q.merge_calls, site_id, loser, survivor)
    links = await conn.fetch(Q.merge_links, site_id, loser, survivor)
    before = await conn.fetchval(Q.user_attributes, site_id, survivor) or {}
    if loser_attributes:
        await conn.execute(Q.set_attributes, site_id, survivor, {**loser_attributes, **before})
    moved = {
        "sessions": sorted([str(r["id"]), r["created_month"].isoformat()] for r in sessions),
        "leads": sorted(str(r["id"]) for r in leads),
        "calls": sorted(str(r["id"]) for r in calls),
        "links": sorted([r["kind"], r["value"]] for r in links),
    }
    row = await conn.fetchrow(
        Q.insert_merge, site_id, survivor, loser, reason, dict(evidence), moved, before, actor
    )
    assert row is not None
    merge_id: UUID = row["id"]
    return merge_id


@dataclass(frozen=True)
class Unmerged:
    merge_id: UUID
    survivor_id: UUID
    restored_id: UUID
    sessions: int
    leads: int
    calls: int
    undone_at: datetime


async def unmerge(conn: Connection, site_id: UUID, merge_id: UUID, actor: str) -> Unmerged:
    """Undo one merge: the merged person gets back the rows that moved and is alive again.

    The identifier that tied them is marked shared, so the next lead with it does not
    merge them again.
    """
    row = await conn.fetchrow(Q.get_merge_for_update, site_id, merge_id)
    if row is None:
        raise NotFound(f"no merge {merge_id}", code="merge_not_found")
    if row["undone_at"] is not None:
        raise Conflict("this merge was already undone", code="already_undone")
    survivor, merged = row["survivor_id"], row["merged_id"]
    state = await lock_users(conn, site_id, [survivor, merged])
    if state.get(survivor) is not None:
        raise Conflict(
            f"person {survivor} has since been merged into {state[survivor]}; undo that merge first",
            code="unmerge_blocked",
        )
    if state.get(merged) != survivor:
        raise Conflict(
            "the merged person is no longer part of the survivor", code="unmerge_blocked"
        )
    moved = row["moved"]
    sessions = moved.get("sessions", [])
    restored = await conn.fetch(
        Q.unmerge_sessions,
        site_id,
        survivor,
        [UUID(s[0]) for s in sessions],
        [date.fromisoformat(s[1]) for s in sessions],
        merged,
    )
    await mark_sessions(conn, restored, former_people=[(site_id, survivor)])
    leads = [UUID(x) for x in moved.get("leads", [])]
    calls = [UUID(x) for x in moved.get("calls", [])]
    await conn.execute(Q.unmerge_leads, site_id, survivor, leads, merged)
    await conn.execute(Q.unmerge_calls, site_id, survivor, calls, merged)
    links = moved.get("links", [])
    await conn.execute(
        Q.unmerge_links, site_id, survivor, [k for k, _ in links], [v for _, v in links], merged
    )
    await conn.execute(Q.revive_user, site_id, merged)
    await conn.execute(Q.set_attributes, site_id, survivor, row["survivor_attributes_before"])
    evidence = row["evidence"] or {}
    if evidence.get("kind") in ("external_id", "email", "phone", "fingerprint", "fingerprint_net"):
        await mark_shared(conn, site_id, (evidence["kind"], str(evidence["value"])), "unmerge")
    undone_at = await conn.fetchval(Q.mark_undone, site_id, merge_id, actor)
    await refresh_users(conn, site_id, [survivor, merged])
    return Unmerged(merge_id, survivor, merged, len(restored), len(leads), len(calls), undone_at)


async def list_merges(
    conn: Connection, site_id: UUID, user_id: UUID | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    rows = await conn.fetch(Q.list_merges, site_id, user_id, limit)
    return [dict(r) for r in rows]
