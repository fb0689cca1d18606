"""Funnels: definitions (CRUD), the job that keeps ``conversion_funnels`` current, the
reports, and ``completed`` (for experiment goals: did this session or person complete it?)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from leadtrail.errors import BadRequest, Conflict, NotFound
from leadtrail.funnels.evaluate import (
    Q,
    Subject,
    dropoff_reason,
    evaluate,
    load_subjects,
    person_key,
    rows_for,
)
from leadtrail.funnels.model import Funnel
from leadtrail.storage import Claims, Connection, Database, DbRole

#: sessions re-evaluated per transaction
CHUNK = 500
#: sessions whose last_seen_at moved this little before the previous pass are looked at
#: again (transactions in flight)
MARGIN = timedelta(minutes=2)
BREAKDOWNS = ("channel", "device", "campaign")


@dataclass(frozen=True)
class StoredFunnel:
    id: UUID
    funnel: Funnel
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> StoredFunnel:
        funnel = Funnel.parse(
            {
                "name": row["name"],
                "steps": row["steps"],
                "window_seconds": row["window_seconds"],
                "order": row["order_mode"],
                "count_by": row["count_by"],
            }
        )
        return cls(row["id"], funnel, row["created_at"], row["updated_at"])

    def as_json(self) -> dict[str, Any]:
        return {"id": str(self.id), **self.funnel.as_json(), "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}  # fmt: skip


async def list_funnels(conn: Connection, site_id: UUID) -> list[StoredFunnel]:
    return [StoredFunnel.from_row(r) for r in await conn.fetch(Q.list_funnels, site_id)]


async def get_funnel(conn: Connection, site_id: UUID, funnel_id: UUID) -> StoredFunnel:
    row = await conn.fetchrow(Q.get_funnel, site_id, funnel_id)
    if row is None:
        raise NotFound("no such funnel", code="funnel_not_found")
    return StoredFunnel.from_row(row)


def _args(f: Funnel) -> tuple[Any, ...]:
    return (f.name, [s.as_json() for s in f.steps], f.window_seconds, f.order, f.count_by)


async def create_funnel(conn: Connection, site_id: UUID, raw: object) -> StoredFunnel:
    funnel = Funnel.parse(raw)
    new_id = await conn.fetchval(Q.insert_funnel, site_id, *_args(funnel))
    if new_id is None:
        raise Conflict(f"a funnel named {funnel.name!r} exists", code="funnel_exists")
    return await get_funnel(conn, site_id, new_id)


async def update_funnel(
    conn: Connection, site_id: UUID, funnel_id: UUID, raw: object
) -> StoredFunnel:
    funnel = Funnel.parse(raw)
    if await conn.fetchval(Q.name_taken, site_id, funnel.name, funnel_id):
        raise Conflict(f"a funnel named {funnel.name!r} exists", code="funnel_exists")
    if await conn.fetchval(Q.update_funnel, site_id, funnel_id, *_args(funnel)) is None:
        raise NotFound("no such funnel", code="funnel_not_found")
    return await get_funnel(conn, site_id, funnel_id)


async def delete_funnel(conn: Connection, site_id: UUID, funnel_id: UUID) -> None:
    """The funnel and its conversion_funnels rows."""
    if await conn.fetchval(Q.delete_funnel, site_id, funnel_id) is None:
        raise NotFound("no such funnel", code="funnel_not_found")
    await conn.execute(Q.delete_funnel_rows, site_id, funnel_id)


# -- keeping conversion_funnels current ---------------------------------------------------


async def write_rows(
    conn: Connection, site_id: UUID, stored: StoredFunnel, subjects: list[Subject]
) -> None:
    """Replace the rows of these sessions for one funnel."""
    await conn.execute(Q.funnel_lock, f"{site_id}:{stored.id}")
    rows: list[tuple[Any, ...]] = []
    for subject in subjects:
        rows.extend(rows_for(stored.funnel, subject, evaluate(stored.funnel, subject)))
    await conn.execute(
        Q.replace_rows_delete, site_id, stored.id, [s.sessions[0]["id"] for s in subjects]
    )
    if rows:
        cols = list(zip(*rows, strict=True))
        await conn.execute(Q.insert_rows, site_id, stored.id, stored.funnel.name, *map(list, cols))


class FunnelJob:
    """Re-evaluates every funnel for the sessions that changed since the last pass."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def run_once(self) -> int:
        async with self._db.system() as conn:
            sites = [r["site_id"] for r in await conn.fetch(Q.funnel_sites)]
        return sum([await self.refresh_site(site_id) for site_id in sites])

    async def refresh_site(self, site_id: UUID, *, rebuild: bool = False) -> int:
        claims = Claims(role=DbRole.WRITER, sub="funnels", site_ids=(site_id,))
        now = datetime.now(UTC)
        async with self._db.transaction(claims) as conn:
            since = None if rebuild else await conn.fetchval(Q.funnel_progress, site_id)
            start = since - MARGIN if since else datetime(1970, 1, 1, tzinfo=UTC)
            sessions = await conn.fetch(Q.changed_sessions, site_id, start, now + timedelta(days=1))
            funnels = await list_funnels(conn, site_id)
        for i in range(0, len(sessions), CHUNK):
            async with self._db.transaction(claims) as conn:
                subjects = await load_subjects(conn, site_id, sessions[i : i + CHUNK], False)
                for stored in funnels:
                    await write_rows(conn, site_id, stored, subjects)
        async with self._db.transaction(claims) as conn:
            await conn.execute(Q.save_progress, site_id, now)
        return len(sessions)

    async def rebuild_funnel(self, site_id: UUID, funnel_id: UUID) -> None:
        """After a definition changed: its rows for every session."""
        claims = Claims(role=DbRole.WRITER, sub="funnels", site_ids=(site_id,))
        async with self._db.transaction(claims) as conn:
            stored = await get_funnel(conn, site_id, funnel_id)
            await conn.execute(Q.funnel_lock, f"{site_id}:{funnel_id}")
            await conn.execute(Q.delete_funnel_rows, site_id, funnel_id)
            sessions = await conn.fetch(
                Q.changed_sessions, site_id, datetime(1970, 1, 1, tzinfo=UTC),
                datetime.now(UTC) + timedelta(days=1),
            )  # fmt: skip
        for i in range(0, len(sessions), CHUNK):
            async with self._db.transaction(claims) as conn:
                subjects = await load_subjects(conn, site_id, sessions[i : i + CHUNK], False)
                await write_rows(conn, site_id, stored, subjects)


# -- reports --------------------------------------------------------------------------------


def _steps_out(funnel: Funnel, entered: list[int], medians: list[float | None],
               reasons: dict[int, Counter[str]]) -> list[dict[str, Any]]:  # fmt: skip
    out = []
    for i, step in enumerate(funnel.steps):
        converted = entered[i + 1] if i + 1 < len(entered) else entered[i]
        out.append(
            {
                "step": i + 1,
                "name": step.name,
                "entered": entered[i],
                "converted": converted,
                "dropped": entered[i] - converted,
                "median_seconds_to_next": medians[i] if i + 1 < len(entered) else None,
                "dropoff_reasons": [
                    {"reason": r, "count": n} for r, n in reasons[i + 1].most_common(5)
                ],
            }
        )
    return out


async def report(
    conn: Connection, site_id: UUID, stored: StoredFunnel, start: datetime, end: datetime,
    breakdown: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Per step: entered, converted, drop-off, median time to the next step and the top
    drop-off reasons; by session from ``conversion_funnels``, by person from the raw data."""
    if breakdown is not None and breakdown not in BREAKDOWNS:
        raise BadRequest(f"breakdown is one of {', '.join(BREAKDOWNS)}", code="invalid_breakdown",
                         field="breakdown")  # fmt: skip
    funnel = stored.funnel
    if funnel.count_by == "session" and _whole_days(start, end):
        entered, medians, reasons, groups = await _by_session_daily(
            conn, site_id, stored, start, end, breakdown
        )
    elif funnel.count_by == "session":
        entered, medians, reasons, groups = await _by_session_rows(
            conn, site_id, stored, start, end, breakdown
        )
    else:
        entered, medians, reasons, groups = await _by_person(
            conn, site_id, funnel, start, end, breakdown
        )
    result = {"funnel": stored.as_json(), "from": start.isoformat(), "to": end.isoformat(),
              "steps": _steps_out(funnel, entered, medians, reasons)}  # fmt: skip
    if breakdown:
        result["breakdown"] = {
            "by": breakdown,
            "groups": [{"value": k, "entered": v} for k, v in sorted(groups.items())],
        }
    return result


Figures = tuple[list[int], list[float | None], dict[int, Counter[str]], dict[str, list[int]]]


def _whole_days(start: datetime, end: datetime) -> bool:
    """Whether [start, end) is made of whole UTC days (what the per-day counts answer)."""
    return all(
        t.tzinfo is not None and t.astimezone(UTC).time() == datetime.min.time()
        for t in (start, end)
    )


def _median(counts: list[tuple[int, int]]) -> float | None:
    """percentile_cont(0.5) of values given as (value, how many), ascending."""
    total = sum(n for _, n in counts)
    if total <= 0:
        return None
    position = (total - 1) / 2
    lo, hi = int(position), int(position) + (position % 1 > 0)
    values: dict[int, int] = {}
    seen = 0
    for value, n in counts:
        for index in (lo, hi):
            if seen <= index < seen + n:
                values[index] = value
        seen += n
    return values[lo] + (values[hi] - values[lo]) * (position - lo)


async def _by_session_daily(
    conn: Connection, site_id: UUID, stored: StoredFunnel, start: datetime, end: datetime,
    breakdown: str | None,
) -> Figures:  # fmt: skip
    """From the per-day counts (funnel_step_daily, funnel_duration_daily): a 30-day report
    reads at most 30 days of rows per step, reason and dimension, whatever the traffic."""
    n = len(stored.funnel.steps)
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    entered = [0] * n
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    for r in await conn.fetch(Q.daily_steps, site_id, stored.id, first, last):
        if r["step_order"] > n or not r["sessions"]:
            continue
        entered[r["step_order"] - 1] += r["sessions"]
        if r["reason"]:
            reasons[r["step_order"]][r["reason"]] += r["sessions"]
    durations: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for r in await conn.fetch(Q.daily_durations, site_id, stored.id, first, last):
        durations[r["step_order"]].append((r["seconds"], r["sessions"]))
    medians = [_median(durations[i + 1]) for i in range(n)]
    groups: dict[str, list[int]] = {}
    if breakdown:
        for r in await conn.fetch(Q.daily_breakdown, site_id, stored.id, first, last, breakdown):
            if r["step_order"] <= n:
                groups.setdefault(r["value"], [0] * n)[r["step_order"] - 1] = r["entered"]
    return entered, medians, reasons, groups


async def _by_session_rows(
    conn: Connection, site_id: UUID, stored: StoredFunnel, start: datetime, end: datetime,
    breakdown: str | None,
) -> Figures:  # fmt: skip
    """From the conversion_funnels rows (a range that is not whole UTC days)."""
    n = len(stored.funnel.steps)
    entered = [0] * n
    medians: list[float | None] = [None] * n
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    for r in await conn.fetch(Q.report_steps, site_id, stored.id, start, end):
        if r["step_order"] > n:
            continue
        entered[r["step_order"] - 1] += r["sessions"]
        if r["reason"] is None:
            medians[r["step_order"] - 1] = r["median_seconds"]
        else:
            reasons[r["step_order"]][r["reason"]] += r["sessions"]
    groups: dict[str, list[int]] = {}
    if breakdown:
        for r in await conn.fetch(Q.report_breakdown, site_id, stored.id, start, end, breakdown):
            if r["step_order"] <= n:
                groups.setdefault(r["value"] or "", [0] * n)[r["step_order"] - 1] = r["entered"]
    return entered, medians, reasons, groups


async def _by_person(
    conn: Connection, site_id: UUID, funnel: Funnel, start: datetime, end: datetime,
    breakdown: str | None,
) -> tuple[list[int], list[float | None], dict[int, Counter[str]], dict[str, list[int]]]:  # fmt: skip
    """People with a session started in the range, all their sessions considered."""
    n = len(funnel.steps)
    started = await conn.fetch(Q.sessions_started, site_id, start, end)
    users = list({s["canonical_user_id"] for s in started if s["canonical_user_id"]})
    prints = list(
        {s["fingerprint"] for s in started if s["fingerprint"] and not s["canonical_user_id"]}
    )
    extra = await conn.fetch(Q.person_sessions, site_id, users, prints) if started else []
    first_seen = {s["id"]: s for s in started}
    sessions = list(first_seen.values()) + [s for s in extra if s["id"] not in first_seen]
    subjects = await load_subjects(conn, site_id, sessions, True)
    entered = [0] * n
    deltas: list[list[float]] = [[] for _ in range(n)]
    reasons: dict[int, Counter[str]] = defaultdict(Counter)
    groups: dict[str, list[int]] = {}
    in_range = {person_key(s) for s in started}
    for subject in subjects:
        if subject.key not in in_range:
            continue
        done = evaluate(funnel, subject)
        if breakdown:
            first = min(
                (s for s in subject.sessions if s["id"] in first_seen),
                key=lambda s: s["created_at"],
            )
            counts = groups.setdefault(first[breakdown] or "", [0] * n)
        for i in range(done.reached):
            entered[i] += 1
            if breakdown:
                counts[i] += 1
            if i + 1 < done.reached:
                deltas[i].append((done.entered[i + 1] - done.entered[i]).total_seconds())
        if 0 < done.reached < n:
            reasons[done.reached][dropoff_reason(subject, done.entered[-1])] += 1
    medians: list[float | None] = [statistics.median(d) if d else None for d in deltas]
    return entered, medians, reasons, groups


async def completed(
    conn: Connection, site_id: UUID, funnel: Funnel, *, session_id: UUID | None = None,
    person: UUID | None = None,
) -> bool:  # fmt: skip
    """Whether a session (``session_id``) or a person (canonical user id ``person``, all of
    their sessions) went through every step of ``funnel`` within its window and order. For
    experiment goals ("funnel completion"); runs on the caller's connection and claims."""
    if (session_id is None) == (person is None):
        raise ValueError("give a session_id or a person")
    if session_id is not None:
        sessions = await conn.fetch(Q.one_session, site_id, session_id)
    else:
        sessions = await conn.fetch(Q.person_sessions, site_id, [person], [])
    if not sessions:
        return False
    subjects = await load_subjects(conn, site_id, sessions, person is not None)
    return any(evaluate(funnel, s).reached == len(funnel.steps) for s in subjects)
