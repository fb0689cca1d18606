"""Storing proposals, moving them through the state machine (every move recorded with actor,
time and reason), generating them from friction data, and the expected-vs-actual report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.errors import BadRequest, NotFound
from leadtrail.proposals import machine
from leadtrail.proposals.rules import Candidate, Friction, evaluate
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)


@dataclass(frozen=True)
class ProposalInput:
    proposal_id: str
    friction_point: str
    change_description: str
    component_id: str | None = None
    page_url: str | None = None
    proposed_changes: dict[str, Any] | None = None
    ai_confidence: float | None = None
    expected_impact: float | None = None
    pr_url: str | None = None
    pr_number: int | None = None
    source: str = "api"
    rule: str | None = None
    explanation: str | None = None
    metadata: dict[str, Any] | None = None


def _out(row: Any) -> dict[str, Any]:
    out = dict(row)
    for key in ("ai_confidence", "expected_impact", "actual_impact"):
        if isinstance(out.get(key), Decimal):
            out[key] = float(out[key])
    out.pop("site_id", None)
    return out


def _dec(value: float | None, places: str = "0.01") -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal(places))


async def create(
    conn: Connection, site_id: UUID, p: ProposalInput, actor: str, now: datetime
) -> dict[str, Any] | None:
    """The stored proposal, or None when its id exists already (idempotent posts)."""
    row = await conn.fetchrow(
        Q.insert_proposal,
        site_id,
        p.proposal_id,
        p.friction_point,
        p.component_id,
        p.page_url,
        p.change_description,
        p.proposed_changes or {},
        _dec(p.ai_confidence),
        _dec(p.expected_impact),
        p.pr_url,
        p.pr_number,
        p.source,
        p.rule,
        p.explanation,
        p.metadata or {},
        now,
    )
    if row is None:
        return None
    await conn.execute(
        Q.insert_transition, site_id, p.proposal_id, None, "proposed", actor, p.source, now
    )
    return _out(row)


async def get(conn: Connection, site_id: UUID, proposal_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(Q.get_proposal, site_id, proposal_id)
    if row is None:
        raise NotFound("no such proposal", code="proposal_not_found")
    out = _out(row)
    out["transitions"] = [dict(r) for r in await conn.fetch(Q.transitions, site_id, proposal_id)]
    return out


async def list_proposals(
    conn: Connection, site_id: UUID, status: str | None
) -> list[dict[str, Any]]:
    return [_out(r) for r in await conn.fetch(Q.list_proposals, site_id, status)]


async def transition(
    conn: Connection,
    site_id: UUID,
    proposal_id: str,
    target: str,
    *,
    actor: str,
    reason: str | None,
    now: datetime,
    test_id: str | None = None,
) -> dict[str, Any]:
    """Move a proposal; 409 ``invalid_transition`` for a move the machine does not allow."""
    row = await conn.fetchrow(Q.get_proposal_for_update, site_id, proposal_id)
    if row is None:
        raise NotFound("no such proposal", code="proposal_not_found")
    current = row["status"]
    machine.check(current, target)
    if target == "testing":
        test_id = test_id or row["test_id"]
        if not test_id:
            raise BadRequest(
                "moving to testing needs the experiment that tests it (test_id)",
                code="test_required",
                field="test_id",
            )
        if await conn.fetchval(Q.test_exists, site_id, test_id) is None:
            raise NotFound("no such experiment", code="experiment_not_found")
    elif test_id is not None:
        raise BadRequest(
            "test_id is only set on the move to testing", code="invalid_request", field="test_id"
        )
    if target == "rolled_back" and not reason:
        raise BadRequest("a rollback needs a reason", code="reason_required", field="reason")
    updated = await conn.fetchrow(Q.move, site_id, proposal_id, target, now, reason, test_id)
    await conn.execute(
        Q.insert_transition, site_id, proposal_id, current, target, actor, reason, now
    )
    return _out(updated)


async def set_pr(
    conn: Connection,
    site_id: UUID,
    proposal_id: str,
    pr_url: str | None,
    pr_number: int | None,
    now: datetime,
) -> dict[str, Any]:
    row = await conn.fetchrow(Q.set_pr, site_id, proposal_id, pr_url, pr_number, now)
    if row is None:
        raise NotFound("no such proposal", code="proposal_not_found")
    return _out(row)


async def record_outcome(
    conn: Connection, site_id: UUID, test_id: str, lift: float | None, now: datetime
) -> list[str]:
    """Fill ``actual_impact`` of the proposals an experiment tested; their ids."""
    if lift is None:
        return []
    value = _dec(max(-9999.0, min(9999.0, lift)), "0.0001")
    return [
        r["proposal_id"] for r in await conn.fetch(Q.record_outcome, site_id, test_id, value, now)
    ]


async def friction(
    conn: Connection, site_id: UUID, start: datetime, end: datetime
) -> list[Friction]:
    rows = await conn.fetch(Q.friction, site_id, start, end)
    return [
        Friction(
            kind=r["kind"],
            page=r["page"],
            element=r["element"],
            field=r["field"],
            sessions=int(r["sessions"]),
            events=int(r["events"]),
            converted=int(r["converted"] or 0),
            page_sessions=int(r["page_sessions"]),
            form_total=int(r["form_total"] or 0),
        )
        for r in rows
    ]


async def generate(
    conn: Connection, site_id: UUID, start: datetime, end: datetime, actor: str, now: datetime
) -> dict[str, Any]:
    """Run the rules over the period's friction; new proposals are stored, known ones kept."""
    candidates: list[Candidate] = evaluate(await friction(conn, site_id, start, end))
    created = []
    for c in candidates:
        row = await create(
            conn,
            site_id,
            ProposalInput(
                proposal_id=c.proposal_id,
                friction_point=c.friction_point,
                change_description=c.change_description,
                component_id=c.component_id,
                page_url=c.page_url,
                proposed_changes=c.proposed_changes,
                ai_confidence=c.confidence,
                expected_impact=c.expected_impact,
                source="generator",
                rule=c.rule,
                explanation=c.explanation,
            ),
            actor,
            now,
        )
        if row is not None:
            created.append(row)
    return {"candidates": len(candidates), "created": created}


async def impact(conn: Connection, site_id: UUID) -> list[dict[str, Any]]:
    return [_out(r) for r in await conn.fetch(Q.impact_report, site_id)]
