"""Linking sessions to people by fingerprint: the background resolver and the same step
run synchronously for one session (identify, leads, calls).

Ingest never sets ``sessions.canonical_user_id``; the resolver picks up sessions without a
person (a partial index keeps that queue cheap) in small batches, one short transaction
per batch and site.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from leadtrail.identity import graph, tx
from leadtrail.identity.rules import (
    CONCURRENCY_SLACK_SECONDS,
    NETWORK_LOOKBACK_DAYS,
    IdKey,
    Link,
    OwnedSession,
    Resolution,
    SessionKey,
    UserRef,
    Visit,
    net_key,
    resolve_visits,
)
from leadtrail.scheduling.lease import check_current_fence
from leadtrail.storage import Claims, Connection, Database, DbRole
from leadtrail.storage.marks import mark_sessions

Q = graph.Q
logger = logging.getLogger(__name__)


def visit_from_row(row: Any) -> Visit:
    return Visit(
        key=(row["id"], row["created_month"]),
        fingerprint=row["fingerprint"] or None,
        network=row["network"] or "",
        concurrent_elsewhere=bool(row["concurrent_elsewhere"]),
    )


async def owned_sessions(conn: Connection, site_id: UUID, fps: Iterable[str]) -> list[OwnedSession]:
    rows = await conn.fetch(Q.owned_by_fingerprint, site_id, sorted(set(fps)))
    return [
        OwnedSession(
            (r["id"], r["created_month"]),
            r["canonical_user_id"],
            r["fingerprint"],
            r["network"],
            r["identity_via"],
        )
        for r in rows
    ]


async def identified_users(conn: Connection, site_id: UUID, ids: list[UUID]) -> frozenset[UUID]:
    if not ids:
        return frozenset()
    rows = await conn.fetch(Q.identified_users, site_id, sorted(set(ids)))
    return frozenset(r[0] for r in rows)


async def apply_resolution(
    conn: Connection,
    site_id: UUID,
    result: Resolution,
    *,
    previous: dict[SessionKey, UUID],
    source: str,
) -> dict[SessionKey, UUID]:
    """Write a decided resolution: new people, links, session assignments and moves."""
    created = await graph.create_users(conn, site_id, result.new_users, datetime.now(UTC))
    existing: set[UUID] = set(previous.values())
    for ref, _ in [*result.assignments.values(), *result.moved.values()]:
        if isinstance(ref, UUID):
            existing.add(ref)
    state = await graph.lock_users(conn, site_id, existing)
    remap: dict[UUID, UUID] = {}
    for uid, merged_into in state.items():
        if merged_into is not None:
            survivor = await graph.survivor_of(conn, site_id, uid)
            if survivor is not None:
                remap[uid] = survivor

    def final(ref: UserRef | None) -> UUID | None:
        uid = graph.real(ref, created)
        return remap.get(uid, uid) if uid is not None else None

    links = {
        k: Link(final(v.user), v.state, v.first_network, v.reason) for k, v in result.links.items()
    }
    await graph.write_links(conn, site_id, links, created, source)
    assigned: dict[SessionKey, UUID] = {}
    unresolved = [(k, v) for k, v in sorted(result.assignments.items()) if k not in previous]
    if unresolved:
        assigned_rows = await conn.fetch(
            Q.assign_unresolved,
            site_id,
            [k[0] for k, _ in unresolved],
            [k[1] for k, _ in unresolved],
            [final(ref) for _, (ref, _) in unresolved],
            [via for _, (_, via) in unresolved],
        )
        await mark_sessions(conn, assigned_rows)
        assigned.update({k: final(ref) for k, (ref, _) in unresolved if final(ref)})  # type: ignore[misc]
    moves: dict[SessionKey, tuple[UUID | None, UUID, str]] = {}
    for key, (ref, via) in result.moved.items():
        target = final(ref)
        if target is not None:
            moves[key] = (previous.get(key), target, via)
    for key, (ref, via) in result.assignments.items():
        target = final(ref)
        if key in previous and target is not None and target != previous[key]:
            moves[key] = (previous[key], target, via)
    await graph.move_sessions(conn, site_id, moves)
    assigned.update({k: m[1] for k, m in moves.items()})
    touched = set(assigned.values()) | {m[0] for m in moves.values() if m[0]} | set(created)
    await graph.refresh_users(conn, site_id, touched)
    return assigned


async def resolve(
    conn: Connection, site_id: UUID, visits: list[Visit], *, source: str = "resolver"
) -> dict[SessionKey, UUID]:
    """Decide and write a person for each visit (fingerprint keys must not be locked by
    the caller in another order; this takes them)."""
    fps = sorted({v.fingerprint for v in visits if v.fingerprint})
    await graph.lock_keys(conn, site_id, [("fingerprint", f) for f in fps])
    keys: list[IdKey] = [("fingerprint", f) for f in fps]
    keys += [net_key(v.fingerprint, v.network) for v in visits if v.fingerprint and v.network]
    links = await graph.load_links(conn, site_id, keys)
    open_fps = [f for f in fps if (links.get(("fingerprint", f)) or Link(None)).state == "active"]
    rows = await conn.fetch(Q.fingerprint_networks, site_id, open_fps, NETWORK_LOOKBACK_DAYS)
    networks = {r["fingerprint"]: set(r["networks"]) for r in rows}
    result = resolve_visits(visits, links, networks)
    owned: list[OwnedSession] = []
    if result.newly_shared:
        owned = await owned_sessions(conn, site_id, result.newly_shared)
        more = await graph.load_links(
            conn, site_id, [net_key(o.fingerprint, o.network) for o in owned if o.network]
        )
        links = {**links, **more}
        result = resolve_visits(visits, links, networks, owned)
    previous = {o.key: o.user for o in owned if o.key in result.moved}
    return await apply_resolution(conn, site_id, result, previous=previous, source=source)


async def resolve_pending(conn: Connection, site_id: UUID, batch_size: int) -> int:
    """One batch of the queue of a site; 0 when empty or another process holds it."""
    if not await conn.fetchval(Q.try_lock_resolver, site_id):
        return 0
    rows = await conn.fetch(Q.unresolved_batch, site_id, batch_size, CONCURRENCY_SLACK_SECONDS)
    if not rows:
        return 0
    await resolve(conn, site_id, [visit_from_row(r) for r in rows])
    return len(rows)


def writer_claims(site_id: UUID) -> Claims:
    return Claims(role=DbRole.WRITER, sub="identity-resolver", site_ids=(site_id,))


class IdentityResolver:
    """Background component: drains every site's queue, then keeps people's totals in step
    with the sessions ingest keeps updating."""

    name = "identity-resolver"

    def __init__(self, db: Database, interval: float, batch_size: int) -> None:
        self._db = db
        self._interval = interval
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        if self._interval > 0:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Run a pass now rather than at the next tick."""
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):  # not wait_for: see realtime/stream.py
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                logger.exception("identity resolver pass failed; retrying next tick")

    async def run_once(self) -> int:
        """Resolve everything queued and refresh recently active people; returns the
        number of sessions linked."""
        async with self._db.system() as conn:
            site_ids = [r["id"] for r in await conn.fetch("SELECT id FROM sites ORDER BY id")]
        total = 0
        for site_id in site_ids:
            while True:
                done = await tx.run(self._db, writer_claims(site_id), self._fenced(site_id))
                total += done
                if done < self._batch_size:
                    break
            await self._refresh_active(site_id)
        return total

    def _fenced(self, site_id: UUID) -> Callable[[Connection], Awaitable[int]]:
        async def work(conn: Connection) -> int:
            # On the scheduler's leader: commit only while this node still leads.
            await check_current_fence(conn)
            return await resolve_pending(conn, site_id, self._batch_size)

        return work

    async def _refresh_active(self, site_id: UUID) -> None:
        """Recompute the totals of people whose sessions changed (marked by triggers)."""

        async def work(conn: Connection) -> None:
            await check_current_fence(conn)
            ids = sorted(r[0] for r in await conn.fetch(Q.take_dirty_people, site_id))
            for start in range(0, len(ids), 500):
                await graph.refresh_users(conn, site_id, ids[start : start + 500])

        await tx.run(self._db, writer_claims(site_id), work)
