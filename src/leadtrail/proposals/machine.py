"""The proposal lifecycle as data (seed 001's optimization_history statuses plus 'deployed').

    proposed ──▶ approved ──▶ implemented ──▶ testing ──▶ deployed
        │                                       └──────▶ rolled_back
        └──────▶ rejected
    rejected, deployed, rolled_back (final) ──▶ archived

Every move is checked here; anything else answers 409 ``invalid_transition``.
"""

from __future__ import annotations

from leadtrail.errors import Conflict

TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"approved", "rejected"}),
    "approved": frozenset({"implemented"}),
    "implemented": frozenset({"testing"}),
    "testing": frozenset({"deployed", "rolled_back"}),
    "rejected": frozenset({"archived"}),
    "deployed": frozenset({"archived"}),
    "rolled_back": frozenset({"archived"}),
    "archived": frozenset(),
}
STATUSES = tuple(TRANSITIONS)
FINAL = frozenset({"rejected", "deployed", "rolled_back"})
#: the timestamp column each move sets
STAMPS = {
    "approved": "approved_at",
    "implemented": "implemented_at",
    "testing": "tested_at",
    "deployed": "deployed_at",
}


def allowed(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check(current: str, target: str) -> None:
    if target not in TRANSITIONS:
        raise Conflict(f"unknown status {target!r}", code="invalid_transition")
    if not allowed(current, target):
        raise Conflict(
            f"a proposal cannot go from {current} to {target}", code="invalid_transition"
        )
