"""Referrer classification, UTM and click ids, from a data file of cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadtrail.ingest.referrer import classify, click_ids_from, is_google, query_params, utm_from

CASES = json.loads((Path(__file__).parent / "data" / "referrers.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[f"{c['expect']}:{c['referrer']}" for c in CASES])
def test_classify(case: dict[str, Any]) -> None:
    source = classify(
        case["referrer"],
        site_domain="shop.example",
        page_host="www.shop.example",
        utm=case.get("utm"),
        click_ids=case.get("click_ids"),
    )
    assert source.referrer_type == case["expect"]
    if "query" in case:
        assert source.search_query == case["query"]
    if "domain" in case:
        assert source.referrer_domain == case["domain"]
    if "google" in case:  # the +5 "Google referrer" of lead scoring
        assert is_google(case["referrer"]) is case["google"]


def test_utm_and_click_ids_from_the_page_url() -> None:
    params = query_params(
        "https://shop.example/?utm_source=google&UTM_MEDIUM=cpc&utm_campaign=spring%20sale&gclid=G1&fbclid=&x=1"
    )
    assert utm_from(params) == {"source": "google", "medium": "cpc", "campaign": "spring sale"}
    assert click_ids_from(params) == {"gclid": "G1"}
    assert query_params("https://[bad") == {}


@pytest.mark.parametrize(
    ("referrer", "google"),
    [
        ("https://www.google.com/", True),
        ("https://google.de/search?q=x", True),
        ("https://mail.google.com/", False),
        ("https://www.bing.com/", False),
        (None, False),
        ("https://notgoogle.com/", False),
    ],
)
def test_is_google(referrer: str | None, google: bool) -> None:
    assert is_google(referrer) is google
