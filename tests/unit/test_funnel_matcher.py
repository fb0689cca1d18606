"""The funnel matcher on hand-made timelines (the integration tests compare it with a brute
force over generated data)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadtrail.errors import BadRequest
from leadtrail.funnels.matcher import progress
from leadtrail.funnels.model import Funnel, Touch

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STEPS = [
    {"kind": "page", "url": "/pricing*"},
    {"kind": "event", "action": "form_submit"},
    {"kind": "lead"},
]


def page(minute: int, path: str) -> Touch:
    return Touch(T0 + timedelta(minutes=minute), "event", path, "acquisition", "view", "")


def submit(minute: int) -> Touch:
    return Touch(
        T0 + timedelta(minutes=minute), "event", "/signup", "conversion", "form_submit", ""
    )


def lead(minute: int) -> Touch:
    return Touch(T0 + timedelta(minutes=minute), "lead")


def funnel(order: str = "strict", window: int = 3600) -> Funnel:
    return Funnel.parse({"name": "f", "steps": STEPS, "order": order, "window_seconds": window})


def test_strict_order_needs_each_step_after_the_previous() -> None:
    assert progress(funnel(), [page(0, "/pricing"), submit(5), lead(6)]).reached == 3
    assert progress(funnel(), [submit(0), page(1, "/pricing/team"), lead(6)]).reached == 1
    assert progress(funnel("any"), [submit(0), page(1, "/pricing/team"), lead(6)]).reached == 3


def test_the_window_starts_at_the_first_step_and_a_later_start_may_do_better() -> None:
    touches = [page(0, "/pricing"), submit(70), page(80, "/pricing"), submit(90), lead(100)]
    done = progress(funnel(window=3600), touches)
    assert done.reached == 3 and done.entered[0] == T0 + timedelta(minutes=80)
    assert progress(funnel(window=600), [page(0, "/pricing"), submit(11)]).reached == 1


def test_one_touch_counts_for_one_step() -> None:
    f = Funnel.parse({"name": "twice", "steps": [{"kind": "page", "url": "/a"}, {"kind": "page", "url": "/a"}],
                      "order": "any"})  # fmt: skip
    assert progress(f, [page(0, "/a")]).reached == 1
    assert progress(f, [page(0, "/a"), page(1, "/a")]).reached == 2


def test_experiment_and_label_steps() -> None:
    f = Funnel.parse({"name": "x", "steps": [{"kind": "experiment", "experiment": "exp1"},
                                             {"kind": "event", "category": "interaction", "label": "Buy*"}]})  # fmt: skip
    exposure = Touch(T0, "event", "/", "interaction", "experiment_exposure", "exp1")
    click = Touch(T0 + timedelta(seconds=5), "event", "/", "interaction", "cta", "Buy now")
    assert progress(f, [exposure, click]).reached == 2


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"name": "x", "steps": [{"kind": "event"}]}, "steps[0].action"),
        ({"name": "x", "steps": [{"kind": "experiment"}]}, "steps[0].experiment"),
        ({"name": "x", "steps": [{"kind": "lead"}], "window_seconds": 0}, "window_seconds"),
        ({"name": "x", "steps": [{"kind": "lead"}], "count_by": "device"}, "count_by"),
    ],
)
def test_definitions_are_checked(raw: dict[str, object], field: str) -> None:
    with pytest.raises(BadRequest) as info:
        Funnel.parse(raw)
    assert info.value.field == field
