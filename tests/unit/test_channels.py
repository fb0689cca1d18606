"""The default channel grouping: one or more cases per rule, read from data, and a check
that every rule of the table has a case (a new rule without a test fails here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadtrail.attribution.channels import DIRECT, channel, rules, table

CASES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "data" / "channel_cases.json").read_text()
)


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['rule']}:{json.dumps(c['session'])}" for c in CASES]
)
def test_rule(case: dict[str, Any]) -> None:
    assert channel(case["session"]) == case["rule"], case.get("why")


def test_every_rule_and_the_fallback_have_a_case() -> None:
    named = {r.channel for r in rules()} | {table()["fallback"]}
    assert named == {c["rule"] for c in CASES}
    assert len(named) == 16  # the list of channels


def test_direct_is_what_last_non_direct_skips() -> None:
    from leadtrail.attribution.models import DIRECT as MODEL_DIRECT

    assert DIRECT in MODEL_DIRECT
