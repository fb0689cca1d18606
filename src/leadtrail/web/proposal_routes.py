"""Optimisation proposals API: post (a person, an AI, any service), list, read with history,
move through the state machine, attach a pull request, generate from friction data, and the
conversion_impact report. Docs: docs/experiments.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.analytics.csvout import to_csv
from leadtrail.auth.principal import Access, Principal
from leadtrail.errors import BadRequest, Conflict
from leadtrail.proposals import machine
from leadtrail.proposals import service as proposals
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.downloads import csv_download
from leadtrail.web.people_common import json, period, site_for
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["optimisation proposals"], dependencies=[NO_NUL])
SiteParam = Query(default=None, description="Site uuid or public id")
Status = Literal[
    "proposed",
    "approved",
    "rejected",
    "implemented",
    "testing",
    "deployed",
    "rolled_back",
    "archived",
]
assert set(Status.__args__) == set(machine.STATUSES)  # type: ignore[attr-defined]
PR_URL = r"^https?://[^\s]{1,500}$"


class ProposalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(default=None, description="Site uuid or public id")
    proposal_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
    friction_point: str = Field(min_length=1, max_length=500)
    change_description: str = Field(min_length=1, max_length=5000)
    component_id: str | None = Field(default=None, max_length=200)
    page_url: str | None = Field(default=None, max_length=2000)
    proposed_changes: dict[str, Any] = Field(default_factory=dict)
    ai_confidence: float | None = Field(default=None, ge=0, le=1)
    expected_impact: float | None = Field(default=None, ge=0, le=1)
    pr_url: str | None = Field(default=None, pattern=PR_URL)
    pr_number: int | None = Field(default=None, ge=1, le=2**31 - 1)
    explanation: str | None = Field(default=None, max_length=5000)
    metadata: dict[str, Any] = Field(default_factory=dict)


class TransitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Status
    reason: str | None = Field(default=None, max_length=2000)
    test_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="On the move to testing: the experiment",
    )


class PullRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pr_url: str | None = Field(default=None, pattern=PR_URL)
    pr_number: int | None = Field(default=None, ge=1, le=2**31 - 1)


class GenerateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str | None = None
    start: str | None = Field(
        default=None, alias="from", description="YYYY-MM-DD; default 30 days ago"
    )
    to: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def actor(principal: Principal) -> str:
    """Who made a move: ``user:<email>`` or ``api_key:<key prefix>``."""
    return f"{principal.kind}:{principal.name}"


@router.post(
    "/api/proposals", status_code=201, summary="Post a proposal (a person, an AI, a service)"
)
async def post_proposal(
    body: ProposalBody, request: Request, principal: CurrentPrincipal
) -> Response:
    site = await site_for(request, principal, body.site_id, Access.OPERATE)
    data = proposals.ProposalInput(
        proposal_id=body.proposal_id,
        friction_point=body.friction_point.strip(),
        change_description=body.change_description.strip(),
        component_id=body.component_id,
        page_url=body.page_url,
        proposed_changes=body.proposed_changes,
        ai_confidence=body.ai_confidence,
        expected_impact=body.expected_impact,
        pr_url=body.pr_url,
        pr_number=body.pr_number,
        explanation=body.explanation,
        metadata=body.metadata,
    )
    async with services(request).db.transaction(
        principal.claims(site.id, need=Access.OPERATE)
    ) as conn:
        out = await proposals.create(conn, site.id, data, actor(principal), _now())
    if out is None:
        raise Conflict(f"proposal {body.proposal_id!r} exists already", code="proposal_exists")
    return json(out, status=201)


@router.get("/api/proposals", summary="List proposals")
async def list_proposals(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    status: Status | None = None,
) -> Response:
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        return json(
            {
                "proposals": await proposals.list_proposals(conn, site.id, status),
                "transitions": {k: sorted(v) for k, v in machine.TRANSITIONS.items()},
            }
        )


IMPACT_COLUMNS = [
    "proposal_id",
    "friction_point",
    "component_id",
    "page_url",
    "status",
    "expected_impact",
    "actual_impact",
    "impact_gap",
    "test_id",
    "test_status",
    "winner_variant",
    "pr_url",
    "pr_number",
    "optimization_date",
    "deployed_at",
]


@router.get(
    "/api/proposals/impact",
    summary="conversion_impact: expected vs measured impact",
    responses={
        200: {
            "description": "JSON, or CSV with `format=csv`",
            "content": {"application/json": {}, "text/csv": {}},
        }
    },
)
async def impact(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    format: Literal["json", "csv"] = Query(default="json"),
) -> Response:
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        rows = await proposals.impact(conn, site.id)
    if format == "csv":
        return csv_download(
            f"leadtrail-conversion-impact-{site.public_id}.csv", to_csv(IMPACT_COLUMNS, rows)
        )
    return json({"proposals": rows})


@router.post("/api/proposals/generate", summary="Generate proposals from the friction data (rules)")
async def generate(body: GenerateBody, request: Request, principal: CurrentPrincipal) -> Response:
    site = await site_for(request, principal, body.site_id, Access.OPERATE)
    span = period(body.start, body.to, site.timezone)
    async with services(request).db.transaction(
        principal.claims(site.id, need=Access.OPERATE)
    ) as conn:
        out = await proposals.generate(conn, site.id, span.start, span.end, "generator", _now())
    return json({"from": span.start, "to": span.end, **out})


@router.get("/api/proposals/{proposal_id}", summary="One proposal with its transitions")
async def get_proposal(
    proposal_id: str, request: Request, principal: CurrentPrincipal, site_id: str | None = SiteParam
) -> Response:
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        return json(await proposals.get(conn, site.id, proposal_id))


@router.post(
    "/api/proposals/{proposal_id}/transition",
    summary="Move a proposal (409 invalid_transition if not allowed)",
)
async def transition(
    proposal_id: str,
    body: TransitionBody,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
) -> Response:
    site = await site_for(request, principal, site_id, Access.OPERATE)
    async with services(request).db.transaction(
        principal.claims(site.id, need=Access.OPERATE)
    ) as conn:
        out = await proposals.transition(
            conn,
            site.id,
            proposal_id,
            body.to,
            actor=actor(principal),
            reason=body.reason,
            now=_now(),
            test_id=body.test_id,
        )
    return json(out)


@router.patch("/api/proposals/{proposal_id}", summary="Attach a pull request (pr_url, pr_number)")
async def attach_pr(
    proposal_id: str,
    body: PullRequestBody,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
) -> Response:
    if body.pr_url is None and body.pr_number is None:
        raise BadRequest("give pr_url or pr_number", code="invalid_request", field="pr_url")
    site = await site_for(request, principal, site_id, Access.OPERATE)
    async with services(request).db.transaction(
        principal.claims(site.id, need=Access.OPERATE)
    ) as conn:
        return json(
            await proposals.set_pr(conn, site.id, proposal_id, body.pr_url, body.pr_number, _now())
        )
