"""Tying identifiers to people: what ``/api/identify``, leads and calls share.

``tie`` resolves the session first (if the background resolver has not yet), decides with
the pure rules who the identifiers belong to, merges people when they tie them together,
and records every merge so it can be undone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from leadtrail.identity import graph, resolver, tx
from leadtrail.identity.rules import (
    CONCURRENCY_SLACK_SECONDS,
    STRONG_KINDS,
    IdKey,
    Link,
    WeakCandidate,
    decide_tie,
    net_key,
    split_fingerprint,
)
from leadtrail.storage import Connection

Q = graph.Q
WEAK_VIAS = frozenset({"fingerprint", "network", "solo", None})


@dataclass(frozen=True)
class SessionState:
    id: UUID
    month: date
    fingerprint: str | None
    network: str
    canonical_user_id: UUID | None
    via: str | None

    @classmethod
    def from_row(cls, row: Any) -> SessionState:
        return cls(
            row["id"],
            row["created_month"],
            row["fingerprint"] or None,
            row["network"] or "",
            row["canonical_user_id"],
            row["identity_via"],
        )


class MergeRefused(Exception):
    """An unverified caller (a browser) named identifiers that belong to someone else."""


@dataclass
class TieResult:
    canonical_user_id: UUID
    created: bool
    merges: list[UUID] = field(default_factory=list)
    session: SessionState | None = None


async def load_session(conn: Connection, site_id: UUID, session_id: UUID) -> SessionState | None:
    row = await conn.fetchrow(Q.one_session, site_id, session_id, CONCURRENCY_SLACK_SECONDS)
    return SessionState.from_row(row) if row else None


async def resolve_session(conn: Connection, site_id: UUID, session_id: UUID) -> SessionState | None:
    """The session with its person, linking it now if the resolver has not yet."""
    row = await conn.fetchrow(Q.one_session, site_id, session_id, CONCURRENCY_SLACK_SECONDS)
    if row is None:
        return None
    if row["canonical_user_id"] is None:
        await resolver.resolve(conn, site_id, [resolver.visit_from_row(row)], source="resolver")
        return await load_session(conn, site_id, session_id)
    return SessionState.from_row(row)


async def _share_fingerprint(conn: Connection, site_id: UUID, fp: str, reason: str) -> set[UUID]:
    """A fingerprint shown to belong to two people: split its owner's sessions by network."""
    links = await graph.load_links(conn, site_id, [("fingerprint", fp)])
    link = links.get(("fingerprint", fp))
    if link is None or link.state != "active":
        return set()
    owned = await resolver.owned_sessions(conn, site_id, [fp])
    more = await graph.load_links(
        conn, site_id, [net_key(o.fingerprint, o.network) for o in owned if o.network]
    )
    identified = isinstance(link.owner, UUID) and bool(
        await resolver.identified_users(conn, site_id, [link.owner])
    )
    result = split_fingerprint(fp, link, reason, owned, {**links, **more}, identified)
    previous = {o.key: o.user for o in owned if o.key in result.moved}
    assigned = await resolver.apply_resolution(
        conn, site_id, result, previous=previous, source="resolver"
    )
    return set(assigned.values()) | set(previous.values())


async def tie(
    conn: Connection,
    site_id: UUID,
    *,
    identifiers: list[IdKey],
    session_id: UUID | None = None,
    fingerprint: str | None = None,
    source: str,
    actor: str,
    evidence: Mapping[str, Any] | None = None,
    attributes: Mapping[str, Any] | None = None,
    refresh: bool = True,
    allow_merge: bool = True,
) -> TieResult:
    """Attach strong identifiers (and optionally a session and a fingerprint) to one person.

    ``refresh=False`` leaves the person's totals to the caller (who changes more rows).
    ``allow_merge=False`` (a browser without a verified identity) raises
    :class:`MergeRefused`, before anything is written, when the tie would merge people or
    move the session to a person it does not already belong to."""
    strong = sorted({k for k in identifiers if k[0] in STRONG_KINDS})
    session = await resolve_session(conn, site_id, session_id) if session_id else None
    fp = fingerprint or (session.fingerprint if session else None)
    keys: list[IdKey] = list(strong) + ([("fingerprint", fp)] if fp else [])
    await graph.lock_keys(conn, site_id, keys)
    if session_id is not None:
        # Re-read under the locks: a concurrent tie may have moved it.
        session = await load_session(conn, site_id, session_id)
    links = await graph.load_links(conn, site_id, keys)

    weak: list[WeakCandidate] = []
    if session is not None and session.canonical_user_id is not None:
        weak.append(WeakCandidate(session.canonical_user_id, ("session", str(session.id))))
    fp_link = links.get(("fingerprint", fp)) if fp else None
    if fp and fp_link is not None and isinstance(fp_link.owner, UUID):
        weak.append(WeakCandidate(fp_link.owner, ("fingerprint", fp)))

    candidates = {
        link.owner for k, link in links.items() if k in strong and isinstance(link.owner, UUID)
    }
    candidates |= {w.user for w in weak}
    state = await graph.lock_users(conn, site_id, candidates)
    if any(v is not None for v in state.values()):
        # A link or session pointing at a merged person: a concurrent merge moved it after
        # we read it. Retry from the start (tx.run does).
        raise tx.StaleRead()
    profiles = await graph.load_profiles(conn, site_id, candidates)
    decision = decide_tie(strong, links, profiles, weak)
    if not allow_merge and (
        decision.merged
        or (
            decision.person is not None
            and (session is None or decision.person != session.canonical_user_id)
        )
    ):
        raise MergeRefused()

    created = decision.person is None
    if decision.person is None:
        at = await conn.fetchval("SELECT now()")
        person = (await graph.create_users(conn, site_id, 1, at))[0]
    else:
        person = decision.person
    base = {"source": source, **(evidence or {})}
    merges: list[UUID] = []
    for loser, (kind, value) in decision.merged:
        merges.append(
            await graph.merge(
                conn,
                site_id,
                person,
                loser,
                reason=source,
                evidence={**base, "kind": kind, "value": value},
                actor=actor,
            )
        )
    new_links = {k: Link(person, "active", None) for k in decision.link}
    touched: set[UUID] = {person}
    for key in decision.shared:
        await graph.mark_shared(conn, site_id, key, "conflicting_people")

    rejected_session = any(w.evidence[0] == "session" for w in decision.rejected)
    rejected_fp = any(w.evidence[0] == "fingerprint" for w in decision.rejected)
    if session is not None:
        if rejected_session and session.via not in WEAK_VIAS:
            pass  # identified as someone else earlier in this very session: it stays theirs
        elif session.canonical_user_id != person or session.via in WEAK_VIAS:
            if session.canonical_user_id != person and session.canonical_user_id not in [
                m for m, _ in decision.merged
            ]:
                touched.add(session.canonical_user_id)  # type: ignore[arg-type]
            await graph.move_sessions(
                conn,
                site_id,
                {
                    (session.id, session.month): (
                        _current(session, decision.merged, person),
                        person,
                        source,
                    )
                },
            )
        if rejected_session and session.via == "network" and session.fingerprint:
            await graph.mark_shared(
                conn, site_id, net_key(session.fingerprint, session.network), "conflicting_people"
            )
    if fp:
        if rejected_fp or (
            rejected_session and session is not None and session.via == "fingerprint"
        ):
            touched |= await _share_fingerprint(conn, site_id, fp, "conflicting_people")
        elif fp_link is None:
            network = session.network if session is not None else None
            new_links[("fingerprint", fp)] = Link(person, "active", network or None)
    await graph.write_links(conn, site_id, new_links, [], source)
    given = {k: v for k, v in (attributes or {}).items() if v not in (None, "")}
    if given:
        await conn.execute(Q.add_attributes, site_id, person, given)
    await graph.refresh_users(conn, site_id, touched if refresh else touched - {person})
    final = await load_session(conn, site_id, session.id) if session is not None else None
    return TieResult(person, created, merges, final)


def _current(session: SessionState, merged: list[tuple[UUID, IdKey]], person: UUID) -> UUID | None:
    """Who holds the session now: merges already moved a merged person's sessions."""
    if session.canonical_user_id in {m for m, _ in merged}:
        return person
    return session.canonical_user_id
