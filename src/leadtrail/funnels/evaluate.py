"""From stored sessions to funnel progress: loading a subject's touches and turning progress
into the seed's ``conversion_funnels`` rows and report figures. I/O only through the named
queries; the counting itself is ``matcher.progress``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from leadtrail.funnels.matcher import Progress, progress
from leadtrail.funnels.model import Funnel, Touch
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)


@dataclass
class Subject:
    """A session, or a person's sessions, with everything matched against."""

    key: str
    sessions: list[Any]
    touches: list[Touch] = field(default_factory=list)
    friction: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def first(self) -> Any:
        return min(self.sessions, key=lambda s: s["created_at"])

    @property
    def last(self) -> Any:
        return max(self.sessions, key=lambda s: s["last_seen_at"])


def person_key(session: Any) -> str:
    """Who a session belongs to: the person once resolved, else the browser fingerprint."""
    if session["canonical_user_id"] is not None:
        return f"u:{session['canonical_user_id']}"
    if session["fingerprint"]:
        return f"f:{session['fingerprint']}"
    return f"s:{session['id']}"


async def load_subjects(
    conn: Connection, site_id: UUID, sessions: Sequence[Any], by_person: bool
) -> list[Subject]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for s in sessions:
        grouped[person_key(s) if by_person else str(s["id"])].append(s)
    subjects = {k: Subject(k, v) for k, v in grouped.items()}
    owner = {s["id"]: k for k, v in grouped.items() for s in v}
    ids = list(owner)
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        for r in await conn.fetch(Q.session_touches, site_id, chunk):
            subjects[owner[r["session_id"]]].touches.append(
                Touch(r["at"], r["kind"], r["path"], r["category"], r["action"], r["label"])
            )
        for r in await conn.fetch(Q.session_friction, site_id, chunk):
            subjects[owner[r["session_id"]]].friction.append((r["created_at"], r["event_type"]))
    for subject in subjects.values():
        subject.touches.sort(key=lambda t: t.at)
    return list(subjects.values())


def dropoff_reason(subject: Subject, after: datetime) -> str:
    """The last friction event after ``after``; else how the visit ended."""
    friction = [kind for at, kind in subject.friction if at >= after]
    if friction:
        return friction[-1]
    reason = subject.last["exit_reason"]
    return f"exit:{reason}" if reason and reason != "timeout" else "timeout"


def rows_for(funnel: Funnel, subject: Subject, done: Progress) -> list[tuple[Any, ...]]:
    """conversion_funnels rows of one session: one per step reached."""
    session = subject.first
    meta = {
        "channel": session["channel"],
        "device": session["device"],
        "campaign": session["campaign"],
    }
    rows = []
    for i, entered in enumerate(done.entered):
        last = i == len(funnel.steps) - 1
        if i + 1 < done.reached:
            exited: datetime | None = done.entered[i + 1]
            reason = None
        elif last:
            exited, reason = None, None
        else:
            exited, reason = subject.last["last_seen_at"], dropoff_reason(subject, entered)
        seconds = int((exited - entered).total_seconds()) if exited is not None else None
        rows.append(
            (session["id"], i + 1, funnel.steps[i].name, session["created_at"], entered, exited,
             seconds, reason, meta)
        )  # fmt: skip
    return rows


def evaluate(funnel: Funnel, subject: Subject) -> Progress:
    return progress(funnel, subject.touches)
