"""Experiments API: create, list, move, results (JSON/CSV), server-side assignment, and the
sample-size calculator. Docs: docs/experiments.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from leadtrail.analytics.csvout import to_csv
from leadtrail.auth.principal import Access
from leadtrail.errors import BadRequest
from leadtrail.experiments import power, service
from leadtrail.experiments.assignment import CHANNELS, DEVICES, Context
from leadtrail.experiments.job import site_claims
from leadtrail.web.deps import CurrentPrincipal
from leadtrail.web.downloads import csv_download
from leadtrail.web.people_common import json, site_for
from leadtrail.web.services import services
from leadtrail.web.text_guard import NO_NUL

router = APIRouter(tags=["experiments"], dependencies=[NO_NUL])
SiteParam = Query(default=None, description="Site uuid or public id")
KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ACTIONS = {
    "start": "active",
    "resume": "active",
    "pause": "paused",
    "complete": "completed",
    "archive": "archived",
}


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_ .-]{0,39}$")
    weight: float = Field(default=1, gt=0, le=1000)
    payload: dict[str, Any] | None = Field(
        default=None, description="What the page renders (public)"
    )


class ExperimentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(default=None, description="Site uuid or public id")
    test_id: str = Field(pattern=KEY, description="The key pages use: leadtrail.variant(key)")
    test_name: str = Field(min_length=1, max_length=200)
    component_id: str | None = Field(default=None, max_length=200)
    variants: list[Variant] = Field(
        min_length=2, max_length=10, description="The first is the control"
    )
    goal: dict[str, Any] = Field(
        description='{"type": "form_lead"} or {"type": "event", "category": ..., "action": ...}; also call, qualified_call, lead_value'
    )
    traffic: float = Field(default=1.0, gt=0, le=1)
    targeting: dict[str, Any] = Field(default_factory=dict)
    end_date: datetime | None = None
    sample_size: int = Field(default=1000, ge=10, le=100_000_000)
    confidence_threshold: float = Field(default=0.95, ge=0.5, le=0.99)
    auto_complete: bool = True
    start: bool = Field(default=False, description="Start at once (status active)")
    metadata: dict[str, Any] = Field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("/api/experiments", status_code=201, summary="Create an experiment")
async def create_experiment(
    body: ExperimentBody, request: Request, principal: CurrentPrincipal
) -> Response:
    site = await site_for(request, principal, body.site_id, Access.OPERATE)
    if body.end_date is not None and body.end_date.tzinfo is None:
        raise BadRequest("end_date needs a time zone", code="invalid_request", field="end_date")
    spec = service.TestSpec(
        test_id=body.test_id,
        test_name=body.test_name.strip(),
        variants=[v.model_dump(exclude_none=True) for v in body.variants],
        goal=body.goal,
        component_id=body.component_id,
        traffic=body.traffic,
        targeting=body.targeting,
        end_date=body.end_date,
        sample_size=body.sample_size,
        confidence_threshold=body.confidence_threshold,
        auto_complete=body.auto_complete,
        metadata=body.metadata,
    )
    async with services(request).db.transaction(
        principal.claims(site.id, need=Access.OPERATE)
    ) as conn:
        out = await service.create(conn, site.id, spec)
        if body.start:
            out = await service.move(conn, site.id, body.test_id, "active", _now())
    return json(out, status=201)


@router.get("/api/experiments", summary="List experiments")
async def list_experiments(
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    status: Literal["draft", "active", "paused", "completed", "archived"] | None = None,
) -> Response:
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        return json({"experiments": await service.list_tests(conn, site.id, status)})


@router.get("/api/experiments/sample-size", summary="Sample size or minimum detectable effect")
async def sample_size(
    baseline: float = Query(gt=0, lt=1, description="Control conversion rate, e.g. 0.05"),
    mde: float | None = Query(
        default=None, gt=0, le=10, description="Relative lift to detect, e.g. 0.1"
    ),
    visitors: int | None = Query(
        default=None, ge=10, le=10**9, description="Visitors per variant (gives the MDE)"
    ),
    alpha: float = Query(default=0.05, gt=0, lt=0.5),
    power_: float = Query(default=0.8, alias="power", gt=0.5, lt=1),
) -> Response:
    """Give `mde` for the visitors needed per variant, or `visitors` for the detectable lift."""
    if (mde is None) == (visitors is None):
        raise BadRequest("give either mde or visitors", code="invalid_request", field="mde")
    try:
        if mde is not None:
            n = power.proportion_sample_size(baseline, mde, alpha, power_)
            return json(
                {
                    "baseline": baseline,
                    "mde": mde,
                    "visitors_per_variant": n,
                    "alpha": alpha,
                    "power": power_,
                }
            )
        assert visitors is not None
        found = power.proportion_mde(baseline, visitors, alpha, power_)
    except ValueError as exc:
        raise BadRequest(str(exc), code="invalid_request", field="mde") from None
    return json(
        {
            "baseline": baseline,
            "visitors_per_variant": visitors,
            "mde": found,
            "alpha": alpha,
            "power": power_,
        }
    )


@router.get("/api/experiments/{test_id}", summary="One experiment")
async def get_experiment(
    test_id: str, request: Request, principal: CurrentPrincipal, site_id: str | None = SiteParam
) -> Response:
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(principal.claims(site.id)) as conn:
        return json(await service.get(conn, site.id, test_id))


@router.post(
    "/api/experiments/{test_id}/{action}", summary="start, pause, resume, complete or archive"
)
async def move_experiment(
    test_id: str,
    action: Literal["start", "resume", "pause", "complete", "archive"],
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    winner: str | None = Query(
        default=None, max_length=40, description="complete: the chosen variant"
    ),
) -> Response:
    site = await site_for(request, principal, site_id, Access.OPERATE)
    principal.claims(site.id, need=Access.OPERATE)
    async with services(request).db.transaction(site_claims(site.id, str(principal.id))) as conn:
        now = _now()
        if action == "complete":
            out = await service.complete(conn, site.id, test_id, now, winner)
        else:
            out = await service.move(conn, site.id, test_id, ACTIONS[action], now)
    return json(out)


RESULT_COLUMNS = [
    "metric",
    "variant",
    "control",
    "n",
    "mean",
    "diff",
    "ci_low",
    "ci_high",
    "lift",
    "lift_low",
    "lift_high",
    "p_value",
    "p_value_adjusted",
    "sequential_p_value",
    "sequential_p_value_adjusted",
    "sequential_ci_low",
    "sequential_ci_high",
    "chance_to_beat",
    "expected_loss",
]


@router.get(
    "/api/experiments/{test_id}/results",
    summary="Results with intervals, guardrails and the SRM check",
)
async def experiment_results(
    test_id: str,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    format: Literal["json", "csv"] = Query(default="json"),
) -> Response:
    """Reading the results also copies new exposures and may complete the test (auto-complete)."""
    site = await site_for(request, principal, site_id, Access.READ)
    async with services(request).db.transaction(site_claims(site.id, str(principal.id))) as conn:
        out = await service.evaluate(conn, site.id, test_id, _now())
    if format == "csv":
        rows = [{"metric": out["goal"]["type"], **r} for r in out["primary"]["variants"]]
        for name, g in out["guardrails"].items():
            rows += [{"metric": name, **r} for r in g["variants"]]
        return csv_download(
            f"leadtrail-experiment-{site.public_id}-{test_id}.csv", to_csv(RESULT_COLUMNS, rows)
        )
    return json(out)


@router.get(
    "/api/experiments/{test_id}/assignment", summary="The variant a visitor gets (server side)"
)
async def experiment_assignment(
    test_id: str,
    request: Request,
    principal: CurrentPrincipal,
    site_id: str | None = SiteParam,
    visitor: str | None = Query(
        default=None,
        min_length=1,
        max_length=128,
        description="The tracker's fingerprint (localStorage leadtrail_fp)",
    ),
    session_id: UUID | None = Query(
        default=None, description="The tracker's session (leadtrail.sessionId())"
    ),
    page: str | None = Query(default=None, max_length=2000),
    device: Literal["desktop", "mobile", "tablet"] | None = None,
    channel: str | None = Query(default=None, max_length=40),
    returning: bool | None = None,
    record: bool = Query(default=False, description="Record the exposure (needs session_id)"),
) -> Response:
    site = await site_for(request, principal, site_id, Access.OPERATE if record else Access.READ)
    if channel is not None and channel not in CHANNELS:
        raise BadRequest(
            f"channel is one of {', '.join(CHANNELS)}", code="invalid_request", field="channel"
        )
    assert device is None or device in DEVICES
    if record and session_id is None:
        raise BadRequest(
            "recording an exposure needs session_id", code="invalid_request", field="session_id"
        )
    async with services(request).db.transaction(site_claims(site.id, str(principal.id))) as conn:
        test = await service.get(conn, site.id, test_id)
        session = await service.session_context(conn, site.id, session_id) if session_id else None
        if session_id is not None and session is None and record:
            raise BadRequest("unknown session", code="unknown_session", field="session_id")
        unit = visitor or (session["fingerprint"] if session else None)
        if not unit:
            raise BadRequest(
                "give visitor or a session with a fingerprint",
                code="invalid_request",
                field="visitor",
            )
        person = session["canonical_user_id"] if session else None
        ctx = Context(
            page=page,
            device=device or (session["device_type"] if session else None),
            channel=channel,
            returning=returning,
        )
        variant = await service.assign(conn, site.id, test, unit, ctx, person)
        if record and variant is not None and session is not None:
            await service.record_exposure(conn, site.id, test_id, session, unit, variant, _now())
    payload = next((v.get("payload") for v in test["variants"] if v["name"] == variant), None)
    return json(
        {
            "test_id": test_id,
            "variant": variant,
            "payload": payload,
            "unit": unit,
            "status": test["status"],
        }
    )
