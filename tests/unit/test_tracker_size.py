"""The tracker's size budget: under 5 KB minified and gzipped, as visitors download it."""

from __future__ import annotations

import gzip

import rjsmin

from leadtrail.web.assets import TRACKER_SOURCE, tracker_bundle

BUDGET = 5 * 1024


def test_tracker_is_under_5_kb_minified_and_gzipped() -> None:
    minified = rjsmin.jsmin(TRACKER_SOURCE.read_text(encoding="utf-8"))
    size = len(gzip.compress(minified.encode(), compresslevel=9))
    assert size < BUDGET, f"core.js is {size} bytes minified+gzipped; the budget is {BUDGET}"


def test_served_bundle_is_that_minified_file() -> None:
    bundle = tracker_bundle()
    minified = rjsmin.jsmin(TRACKER_SOURCE.read_text(encoding="utf-8")).encode()
    assert bundle.body == minified
    assert gzip.decompress(bundle.gzipped) == minified
    assert len(bundle.gzipped) < BUDGET
    assert len(minified) < len(TRACKER_SOURCE.read_bytes())
