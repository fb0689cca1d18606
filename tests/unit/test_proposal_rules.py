"""The proposal state machine refuses every move it does not list; the generator's rules."""

from __future__ import annotations

import itertools

import pytest

from leadtrail.errors import Conflict
from leadtrail.experiments import lifecycle
from leadtrail.proposals import machine
from leadtrail.proposals.rules import Friction, evaluate

ALLOWED = {
    ("proposed", "approved"),
    ("proposed", "rejected"),
    ("approved", "implemented"),
    ("implemented", "testing"),
    ("testing", "deployed"),
    ("testing", "rolled_back"),
    ("rejected", "archived"),
    ("deployed", "archived"),
    ("rolled_back", "archived"),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(machine.STATUSES, repeat=2)))
def test_every_pair_of_statuses(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        machine.check(current, target)
    else:
        with pytest.raises(Conflict) as err:
            machine.check(current, target)
        assert err.value.code == "invalid_transition" and err.value.status == 409


def test_unknown_target_is_refused() -> None:
    with pytest.raises(Conflict):
        machine.check("proposed", "shipped")


@pytest.mark.parametrize(
    ("current", "target"), list(itertools.product(lifecycle.STATUSES, repeat=2))
)
def test_experiment_statuses(current: str, target: str) -> None:
    ok = {
        ("draft", "active"),
        ("draft", "archived"),
        ("active", "paused"),
        ("active", "completed"),
        ("paused", "active"),
        ("paused", "completed"),
        ("paused", "archived"),
        ("completed", "archived"),
    }
    if (current, target) in ok:
        lifecycle.check(current, target)
    else:
        with pytest.raises(Conflict):
            lifecycle.check(current, target)


def test_rules_turn_friction_into_explained_proposals() -> None:
    rows = [
        Friction(
            "rage_click", "https://x/pricing", "IMG", sessions=40, page_sessions=200, events=90
        ),
        Friction("rage_click", "https://x/pricing", "Buy now", sessions=40, page_sessions=200),
        Friction("rage_click", "https://x/pricing", "DIV", sessions=2, page_sessions=200),
        Friction(
            "form_abandon",
            "https://x/contact",
            "quote",
            field="phone",
            sessions=30,
            page_sessions=100,
            form_total=40,
        ),
        Friction(
            "form_abandon",
            "https://x/contact",
            "quote",
            field="email",
            sessions=10,
            page_sessions=100,
            form_total=40,
        ),
        Friction(
            "hesitation", "https://x/", "Get a quote", sessions=50, page_sessions=400, converted=2
        ),
        Friction(
            "js_error",
            "https://x/checkout",
            "TypeError: x",
            sessions=5,
            page_sessions=20,
            converted=3,
        ),
        Friction(
            "js_error", "https://x/blog", "TypeError: y", sessions=5, page_sessions=20, converted=0
        ),
    ]
    got = {c.rule: c for c in evaluate(rows)}
    assert set(got) == {
        "rage_click_not_interactive",
        "form_field_abandon",
        "cta_hesitation",
        "js_error_on_conversion_page",
    }
    rage = got["rage_click_not_interactive"]
    assert rage.component_id == "IMG" and rage.expected_impact == 0.06  # 20 % x 30 %
    assert 0 < rage.confidence <= 0.95 and "40 of 200 sessions" in rage.explanation
    form = got["form_field_abandon"]
    assert form.proposed_changes == {"action": "simplify_field", "form": "quote", "field": "phone"}
    assert "75%" in form.explanation  # the share of abandons at that field
    assert got["js_error_on_conversion_page"].page_url == "https://x/checkout"
    # the same friction gives the same id: generating twice does not duplicate
    assert [c.proposal_id for c in evaluate(rows)] == [c.proposal_id for c in evaluate(rows)]
