"""Seed 002's nine DynamoDB tables as synthetic items with the seed's counts and duplicate
ratios (13,804 visitor items over 2,247 sessions, 1,915 job states over 1,165 jobs, ...),
written as DynamoDB export files. Shared by bench/import.py and the sync tests."""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from boto3.dynamodb.types import TypeSerializer

#: source table -> (items in DynamoDB, unique mirror keys), from seed 002's tables
SEED_COUNTS: dict[str, tuple[int, int]] = {
    "firespring-backdoor-actions-dev": (28_936, 28_936),
    "firespring-backdoor-visitors-dev": (13_804, 2_247),
    "firespring-backdoor-extraction-jobs-dev": (1_915, 1_165),
    "firespring-backdoor-traffic-sources-dev": (1_734, 1_734),
    "firespring-backdoor-segments-dev": (1_728, 1_728),
    "firespring-backdoor-searches-dev": (0, 0),
    "firespring-backdoor-network-state-dev": (0, 0),
    "Lead-sqiqbtbugvfabolqwdt4rz3dla-NONE": (5, 5),
    "toledo-consulting-dashboard-data": (2, 2),
}
#: DynamoDB key schema (hash, range) of each table
KEYS: dict[str, tuple[str, str | None]] = {
    "firespring-backdoor-actions-dev": ("action_id", None),
    "firespring-backdoor-visitors-dev": ("session_id", "timestamp"),
    "firespring-backdoor-extraction-jobs-dev": ("job_id", "updated_at"),
    "firespring-backdoor-traffic-sources-dev": ("source_id", None),
    "firespring-backdoor-segments-dev": ("segment_id", None),
    "firespring-backdoor-searches-dev": ("search_id", None),
    "firespring-backdoor-network-state-dev": ("key", None),
    "Lead-sqiqbtbugvfabolqwdt4rz3dla-NONE": ("id", None),
    "toledo-consulting-dashboard-data": ("id", None),
}
PLACES = ["Toledo, Ohio, USA", "Perrysburg, Ohio, USA", "Detroit, Michigan, USA",
          "Bangkok, Thailand", "London, England, United Kingdom", "USA"]  # fmt: skip
BROWSERS = [("Chrome", "Windows"), ("Safari", "iOS"), ("Firefox", "Linux"), ("Edge", "Windows")]
START = datetime(2025, 12, 1, tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _split(rng: random.Random, items: int, keys: int) -> list[int]:
    """How many items each of ``keys`` keys has (each at least one)."""
    counts = [1] * keys
    for _ in range(items - keys):
        counts[rng.randrange(keys)] += 1
    return counts


def visitors(rng: random.Random) -> Iterator[dict[str, Any]]:
    items, keys = SEED_COUNTS["firespring-backdoor-visitors-dev"]
    for n, count in enumerate(_split(rng, items, keys)):
        start = START + timedelta(minutes=37 * n)
        browser, os_name = BROWSERS[n % len(BROWSERS)]
        for update in range(count):
            yield {
                "session_id": str(990_000_000 + n),
                "timestamp": _iso(start + timedelta(seconds=30 * update)),
                "visit_time": _iso(start),
                "pages_viewed": update + 1,
                "actions_count": update,
                "session_duration_seconds": 30 * update,
                "ip_address": f"72.241.{n % 250}.{n % 7}",
                "organization": "Buckeye Broadband",
                "browser": browser,
                "os": os_name,
                "location": PLACES[n % len(PLACES)],
                "referrer_type": "search" if n % 3 == 0 else "direct",
                "referrer_domain": "google.com" if n % 3 == 0 else None,
                "landing_page": "https://www.mmptoledo.com/",
                "latitude": Decimal("41.6528"),
                "longitude": Decimal("-83.5379"),
                "created_at": _iso(start),
            }


def actions(rng: random.Random) -> Iterator[dict[str, Any]]:
    items, _ = SEED_COUNTS["firespring-backdoor-actions-dev"]
    visitors_n = SEED_COUNTS["firespring-backdoor-visitors-dev"][1]
    for n in range(items):
        yield {
            "action_id": f"act-{n:06d}",
            "type" if n % 2 else "action_type": rng.choice(["click", "page_view", "submit"]),
            "session_id": str(990_000_000 + n % visitors_n),
            "timestamp": _iso(START + timedelta(seconds=11 * n)),
            "data": {"url": f"https://www.mmptoledo.com/page/{n % 40}", "x": n % 1280},
        }


def jobs(rng: random.Random) -> Iterator[dict[str, Any]]:
    items, keys = SEED_COUNTS["firespring-backdoor-extraction-jobs-dev"]
    for n, count in enumerate(_split(rng, items, keys)):
        for update in range(count):
            last = update == count - 1
            yield {
                "job_id": f"job-{n:05d}",
                "updated_at": _iso(START + timedelta(hours=n, minutes=update)),
                "started_at": _iso(START + timedelta(hours=n)),
                "status": "complete" if last else "running",
                "records_extracted": 10 * (update + 1),
                "job_type": "visitors",
            }


def simple(table: str, prefix: str, make: Any) -> Iterator[dict[str, Any]]:
    items, _ = SEED_COUNTS[table]
    key = KEYS[table][0]
    for n in range(items):
        yield {key: f"{prefix}-{n:05d}", **make(n)}


def tables(seed: int = 2026) -> dict[str, list[dict[str, Any]]]:
    """Plain items per source table."""
    rng = random.Random(seed)
    return {
        "firespring-backdoor-actions-dev": list(actions(rng)),
        "firespring-backdoor-visitors-dev": list(visitors(rng)),
        "firespring-backdoor-extraction-jobs-dev": list(jobs(rng)),
        "firespring-backdoor-traffic-sources-dev": list(
            simple(
                "firespring-backdoor-traffic-sources-dev",
                "src",
                lambda n: {"type": "referral", "domain": f"site{n}.example", "visits": n % 90},
            )
        ),
        "firespring-backdoor-segments-dev": list(
            simple(
                "firespring-backdoor-segments-dev",
                "seg",
                lambda n: {"name": f"Segment {n}", "value": n % 500, "raw": {"rule": n}},
            )
        ),
        "firespring-backdoor-searches-dev": [],
        "firespring-backdoor-network-state-dev": [],
        "Lead-sqiqbtbugvfabolqwdt4rz3dla-NONE": list(
            simple(
                "Lead-sqiqbtbugvfabolqwdt4rz3dla-NONE",
                "lead",
                lambda n: {
                    "name": f"Lead {n}",
                    "email": f"lead{n}@example.com",
                    "phone": f"+1419555{n:04d}",
                    "company": "Test Corp",
                    "createdAt": _iso(START + timedelta(days=n)),
                    "updatedAt": _iso(START + timedelta(days=n)),
                    "__typename": "Lead",
                },
            )
        ),
        "toledo-consulting-dashboard-data": list(
            simple(
                "toledo-consulting-dashboard-data",
                "dash",
                lambda n: {"metric": "visits", "data": {"count": n}, "updated_at": _iso(START)},
            )
        ),
    }


_SERIALIZER = TypeSerializer()


def dynamo_json(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in item.items() if v is not None}


def write_export(directory: Path, table: str, items: list[dict[str, Any]], files: int = 4) -> Path:
    """A DynamoDB export as S3 holds it: manifest-summary.json and data/*.json.gz."""
    root = directory / table
    data = root / "data"
    data.mkdir(parents=True, exist_ok=True)
    arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}"
    (root / "manifest-summary.json").write_bytes(
        orjson.dumps({"tableArn": arn, "itemCount": len(items), "outputFormat": "DYNAMODB_JSON"})
    )
    for part in range(files):
        chunk = items[part::files]
        with gzip.open(data / f"part-{part:04d}.json.gz", "wb", compresslevel=1) as handle:
            for item in chunk:
                handle.write(orjson.dumps({"Item": dynamo_json(item)}) + b"\n")
    return root
