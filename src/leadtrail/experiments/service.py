"""Experiments on PostgreSQL: create and move tests, assign on the server, copy exposures from
tracker events into ``variant_assignments``, read results, and complete tests automatically."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from leadtrail.errors import BadRequest, Conflict, NotFound
from leadtrail.experiments import analysis, assignment, goals, lifecycle
from leadtrail.experiments.summary import Summary
from leadtrail.proposals import service as proposals
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load(__package__)
#: the tracker may deliver an event up to a day late (ingest's MAX_CLIENT_AGE): each exposure
#: copy re-reads that window, and the unique key keeps it idempotent
REPLAY_WINDOW = timedelta(hours=24, minutes=5)


@dataclass(frozen=True)
class TestSpec:
    test_id: str
    test_name: str
    variants: list[dict[str, Any]]
    goal: dict[str, Any]
    component_id: str | None = None
    traffic: float = 1.0
    targeting: dict[str, Any] = field(default_factory=dict)
    end_date: datetime | None = None
    sample_size: int = 1000
    confidence_threshold: float = 0.95
    auto_complete: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)


def _test_out(row: Any) -> dict[str, Any]:
    out = dict(row)
    out.pop("site_id", None)
    for key in ("traffic", "confidence_threshold"):
        if isinstance(out.get(key), Decimal):
            out[key] = float(out[key])
    return out


def check_targeting(targeting: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, allowed in (("devices", assignment.DEVICES), ("channels", assignment.CHANNELS)):
        values = targeting.get(name) or []
        if not isinstance(values, list) or any(v not in allowed for v in values):
            raise BadRequest(
                f"targeting.{name} is a list of {', '.join(allowed)}",
                code="invalid_targeting",
                field=f"targeting.{name}",
            )
        if values:
            out[name] = values
    pages = targeting.get("pages") or []
    if not isinstance(pages, list) or any(
        not isinstance(p, str) or not p.startswith(("/", "*")) or len(p) > 200 for p in pages
    ):
        raise BadRequest(
            "targeting.pages is a list of path patterns such as /pricing*",
            code="invalid_targeting",
            field="targeting.pages",
        )
    if pages:
        out["pages"] = pages
    visitors = targeting.get("visitors") or "all"
    if visitors not in assignment.VISITORS:
        raise BadRequest(
            "targeting.visitors is all, new or returning",
            code="invalid_targeting",
            field="targeting.visitors",
        )
    if visitors != "all":
        out["visitors"] = visitors
    unknown = set(targeting) - {"pages", "devices", "channels", "visitors"}
    if unknown:
        raise BadRequest(
            f"unknown targeting rule {sorted(unknown)[0]!r}",
            code="invalid_targeting",
            field="targeting",
        )
    return out


async def create(conn: Connection, site_id: UUID, spec: TestSpec) -> dict[str, Any]:
    goal = goals.check_goal(spec.goal)
    targeting = check_targeting(spec.targeting)
    names = [v["name"] for v in spec.variants]
    if len(set(names)) != len(names):
        raise BadRequest("variant names must differ", code="invalid_variants", field="variants")
    row = await conn.fetchrow(
        Q.insert_test,
        site_id,
        spec.test_id,
        spec.test_name,
        spec.component_id,
        spec.variants,
        Decimal(str(spec.traffic)),
        targeting,
        goal,
        goal["type"],
        spec.end_date,
        spec.sample_size,
        Decimal(str(spec.confidence_threshold)),
        spec.auto_complete,
        spec.metadata,
    )
    if row is None:
        raise Conflict(f"experiment {spec.test_id!r} exists already", code="experiment_exists")
    return _test_out(row)


async def get(conn: Connection, site_id: UUID, test_id: str) -> dict[str, Any]:
    row = await conn.fetchrow(Q.get_test, site_id, test_id)
    if row is None:
        raise NotFound("no such experiment", code="experiment_not_found")
    return _test_out(row)


async def list_tests(conn: Connection, site_id: UUID, status: str | None) -> list[dict[str, Any]]:
    return [_test_out(r) for r in await conn.fetch(Q.list_tests, site_id, status)]


async def move(
    conn: Connection,
    site_id: UUID,
    test_id: str,
    target: str,
    now: datetime,
    winner: str | None = None,
) -> dict[str, Any]:
    """Change the status (409 ``invalid_transition`` for a move that is not allowed)."""
    test = await get(conn, site_id, test_id)
    lifecycle.check(test["status"], target)
    row = await conn.fetchrow(
        Q.set_status,
        site_id,
        test_id,
        target,
        now if target == "active" else None,
        now if target == "completed" else None,
        (winner or "none") if target == "completed" else None,
        now,
        test["status"],
    )
    if row is None:  # moved by someone else meanwhile
        raise Conflict("the experiment changed meanwhile; retry", code="invalid_transition")
    return _test_out(row)


def weights(test: dict[str, Any]) -> list[float]:
    return [float(v.get("weight", 1)) for v in test["variants"]]


def tracker_config(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """The public per-site configuration the browser module reads (no goals, no payload
    secrets: the variants' payloads are for the page to render)."""
    return {
        "tests": [
            {
                "k": t["test_id"],
                "v": [v["name"] for v in t["variants"]],
                "b": assignment.bounds(weights(t)),
                "t": float(t["traffic"]),
                "g": t["targeting"],
                "p": {v["name"]: v.get("payload") for v in t["variants"] if v.get("payload")},
            }
            for t in tests
        ]
    }


async def active(conn: Connection, site_id: UUID) -> list[dict[str, Any]]:
    return [_test_out(r) for r in await conn.fetch(Q.active_tests, site_id)]


async def assign(
    conn: Connection,
    site_id: UUID,
    test: dict[str, Any],
    visitor: str,
    ctx: assignment.Context,
    person: UUID | None = None,
) -> str | None:
    """The variant for ``visitor`` (the tracker's fingerprint). A known person keeps the
    variant they were first exposed to on any device."""
    if test["status"] != "active":
        return None
    if person is not None:
        seen = await conn.fetchval(Q.person_variant, site_id, test["test_id"], person)
        if seen is not None:
            return str(seen)
    names = [v["name"] for v in test["variants"]]
    return assignment.assign(
        test["test_id"],
        visitor,
        names,
        assignment.bounds(weights(test)),
        float(test["traffic"]),
        test["targeting"],
        ctx,
    )


async def sync_exposures(
    conn: Connection, site_id: UUID, test: dict[str, Any], now: datetime
) -> None:
    """Copy new exposure events of ``test`` into ``variant_assignments``."""
    if test["start_date"] is None:
        return
    since = test["exposures_synced_at"]
    since = test["start_date"] if since is None else max(test["start_date"], since - REPLAY_WINDOW)
    await conn.execute(Q.sync_exposures, site_id, test["test_id"], since)
    await conn.execute(Q.mark_synced, site_id, test["test_id"], now)


async def _summaries(
    conn: Connection,
    site_id: UUID,
    test: dict[str, Any],
    metric: goals.Metric,
    goal: dict[str, Any],
) -> list[analysis.Arm]:
    sql = Q.metric_template.replace("/*GOAL*/", Q[metric.query])
    p1, p2 = goals.params(metric, goal)
    rows = await conn.fetch(
        sql,
        site_id,
        test["test_id"],
        p1,
        p2,
        test["start_date"] or test["created_at"],
        metric.aggregate,
    )
    by_name = {r["variant"]: r for r in rows}
    arms = []
    for v in test["variants"]:
        r = by_name.get(v["name"])
        s = (
            Summary(
                n=int(r["n"]),
                total=float(r["total"]),
                total_sq=float(r["total_sq"]),
                pre=float(r["pre"]),
                pre_sq=float(r["pre_sq"]),
                cross=float(r["cross_sum"]),
            )
            if r
            else Summary(0, 0.0, 0.0)
        )
        arms.append(analysis.Arm(v["name"], s))
    return arms


async def results(conn: Connection, site_id: UUID, test: dict[str, Any]) -> dict[str, Any]:
    """The read-out: goal, guardrails, SRM, progress and the winner decision."""
    goal = test["goal"]
    metric = goals.GOALS[goal["type"]]
    # These queries aggregate whole sets of exposed sessions: hash joins. A planner misled by
    # missing statistics (fresh rows) picked nested loops that re-scan events per session.
    await conn.execute(Q.planner_for_aggregates)
    confidence = float(test["confidence_threshold"])
    sample_size = int(test["sample_size"])
    arms = await _summaries(conn, site_id, test, metric, goal)
    readout = analysis.compare_arms(
        arms, binary=metric.binary, confidence=confidence, planned_n=sample_size
    )
    guardrails = {}
    for name, guard in goals.GUARDRAILS.items():
        g_arms = await _summaries(conn, site_id, test, guard, goal)
        g = analysis.compare_arms(
            g_arms,
            binary=False,
            confidence=confidence,
            planned_n=sample_size,
            lower_is_better=True,
            use_cuped=False,
        )
        g["label"] = guard.label
        g["worse"] = analysis.guardrail_flag(g)
        guardrails[name] = g
    counts = [a.summary.n for a in arms]
    decided = analysis.winner(readout, sample_size)
    return {
        "test_id": test["test_id"],
        "status": test["status"],
        "goal": {**goal, "label": metric.label, "binary": metric.binary},
        "sample_size": sample_size,
        "confidence_threshold": confidence,
        "units": sum(counts),
        "progress": min(1.0, min(counts) / sample_size) if counts else 0.0,
        "primary": readout,
        "guardrails": guardrails,
        "srm": analysis.srm(counts, weights(test)),
        "winner": decided,
        "declared_winner": test["winner_variant"],
    }


def measured_lift(readout: dict[str, Any], winner: str | None) -> float | None:
    """The relative lift of the winner (or of the best challenger) over the control."""
    rows = [r for r in readout["variants"][1:] if r.get("lift") is not None]
    if not rows:
        return None
    pick = next((r for r in rows if r["variant"] == winner), None) or max(
        rows, key=lambda r: r["lift"]
    )
    return float(pick["lift"])


async def evaluate(conn: Connection, site_id: UUID, test_id: str, now: datetime) -> dict[str, Any]:
    """Sync exposures, read the results, and complete the test when it has a winner (or its
    end date passed) and completes automatically."""
    test = await get(conn, site_id, test_id)
    if test["status"] in ("active", "paused"):
        await sync_exposures(conn, site_id, test, now)
    out = await results(conn, site_id, test)
    if test["status"] == "active" and test["auto_complete"]:
        ended = test["end_date"] is not None and test["end_date"] <= now
        srm_ok = not out["srm"]["mismatch"]
        if (out["winner"] and srm_ok) or ended:
            winner = out["winner"] if srm_ok else None
            done = await move(conn, site_id, test_id, "completed", now, winner)
            out["status"], out["declared_winner"] = done["status"], done["winner_variant"]
            out["completed_proposals"] = await proposals.record_outcome(
                conn, site_id, test_id, measured_lift(out["primary"], winner), now
            )
    return out


async def complete(
    conn: Connection, site_id: UUID, test_id: str, now: datetime, winner: str | None
) -> dict[str, Any]:
    """Complete by hand (``winner`` chosen by a person, or None): the proposals it tested get
    the measured lift as their actual impact."""
    test = await get(conn, site_id, test_id)
    names = [v["name"] for v in test["variants"]]
    if winner is not None and winner not in names:
        raise BadRequest(
            f"winner must be one of {', '.join(names)}", code="invalid_request", field="winner"
        )
    lifecycle.check(test["status"], "completed")
    await sync_exposures(conn, site_id, test, now)
    readout = await results(conn, site_id, test)
    out = await move(conn, site_id, test_id, "completed", now, winner)
    await proposals.record_outcome(
        conn, site_id, test_id, measured_lift(readout["primary"], winner), now
    )
    return out


async def record_exposure(
    conn: Connection,
    site_id: UUID,
    test_id: str,
    session: Any,
    unit: str,
    variant: str,
    now: datetime,
) -> None:
    await conn.execute(
        Q.record_exposure,
        site_id,
        test_id,
        session["id"],
        session["created_month"],
        unit,
        variant,
        now,
        {"source": "server"},
    )


async def session_context(conn: Connection, site_id: UUID, session_id: UUID) -> Any:
    return await conn.fetchrow(Q.session_context, site_id, session_id)
