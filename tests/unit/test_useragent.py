"""User agent parsing and bot detection, from a data file of cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadtrail.ingest.useragent import parse_user_agent

CASES = json.loads((Path(__file__).parent / "data" / "user_agents.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["ua"][:60] or "empty" for c in CASES])
def test_user_agents(case: dict[str, Any]) -> None:
    info = parse_user_agent(case["ua"])
    if "bot" in case:
        assert info.bot_reason == case["bot"] and info.is_bot and info.device_type == "bot"
        return
    assert not info.is_bot
    assert (info.browser, info.os, info.device_type) == (
        case["browser"],
        case["os"],
        case["device"],
    )
