"""An experiment's statuses and the moves between them, as data.

    draft ──start──▶ active ◀──resume── paused
                      │  └───pause────▶  │
                      └──complete──▶ completed ◀──complete──┘
    draft, paused, completed ──archive──▶ archived

'draft' is ours (the seed's tests went live when created); the rest are the seed's.
"""

from __future__ import annotations

from leadtrail.errors import Conflict

TEST_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"active", "archived"}),
    "active": frozenset({"paused", "completed"}),
    "paused": frozenset({"active", "completed", "archived"}),
    "completed": frozenset({"archived"}),
    "archived": frozenset(),
}
STATUSES = tuple(TEST_TRANSITIONS)


def check(current: str, target: str) -> None:
    """Raise 409 ``invalid_transition`` unless ``current`` may move to ``target``."""
    if target not in TEST_TRANSITIONS.get(current, frozenset()):
        raise Conflict(
            f"an experiment cannot go from {current} to {target}", code="invalid_transition"
        )
