"""The DynamoDB sync's pure parts: configuration validation, transforms, keep-latest,
shard lineage."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadtrail.errors import ConfigError
from leadtrail.sync import config as sync_config
from leadtrail.sync.changes import Change, change_from_record, latest, table_of
from leadtrail.sync.shards import Checkpoint, Shard, iterator_request, readable
from leadtrail.sync.transform import (
    TransformError,
    parse_location,
    transform,
    unmarshal,
)

SPEC = sync_config.load().table("firespring-backdoor-visitors-dev")


def test_shipped_configuration_covers_the_seed_tables() -> None:
    config = sync_config.load()
    assert sorted(s.target for s in config.tables.values()) == [
        "firespring_actions", "firespring_extraction_jobs", "firespring_network_state",
        "firespring_searches", "firespring_segments", "firespring_traffic_sources",
        "firespring_visitors", "mmp_toledo_leads", "toledo_dashboard",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope = [", "test: not valid TOML"),
        ("[other]\nx = 1", 'test: no [tables."<name>"] sections'),
        ('[tables.t]\ntarget = "Bad-Name"\nkey = { id = "id" }', "tables.t.target: 'Bad-Name' is not a valid"),
        ('[tables.t]\ntarget = "x"', 'tables.t.key: expected { column = "path" }'),
        ('[tables.t]\ntarget = "x"\nkey = { id = "id" }\ndelete = "maybe"', 'tables.t.delete: expected "hard" or "soft"'),
        ('[tables.t]\ntarget = "x"\nkey = { id = "id" }\nfields = { a = { path = "a", type = "uuid" } }',
         "tables.t.fields.a.type: 'uuid' is not one of"),
        ('[tables.t]\ntarget = "x"\nkey = { id = "id" }\nfields = { a = { path = "a[x]" } }',
         "tables.t.fields.a.path: bad path 'a[x]'"),
        ('[tables.t]\ntarget = "x"\nkey = { id = "id" }\nfields = { l = { path = "l", type = "location" } }',
         "tables.t.fields.l.columns: a location needs [city, region, country]"),
        ('[tables.t]\ntarget = "x"\nkey = { id = "id" }\nfields = { id = { path = "b" } }',
         "tables.t: column 'id' is filled twice"),
        ('[tables.t]\ntarget = "x"\nkey = { id = "id" }\ncolour = 1', "tables.t: unknown key 'colour'"),
    ],
)  # fmt: skip
def test_configuration_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        sync_config.parse(text, "test")
    assert message in caught.value.detail


def test_missing_config_file_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^sync config /nope.toml: No such file"):
        sync_config.load("/nope.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Toledo, Ohio, USA", ("Toledo", "Ohio", "USA")),
        ("Bangkok, Thailand", ("Bangkok", None, "Thailand")),
        ("USA", (None, None, "USA")),
        ("Toledo, Lucas County, Ohio, USA", ("Toledo", "Ohio", "USA")),
        (" , ", (None, None, None)),
    ],
)
def test_location_strings(text: str, expected: tuple[str | None, ...]) -> None:
    assert parse_location(text) == expected


def test_transform_unmarshals_and_maps_fields() -> None:
    item = unmarshal(
        {
            "session_id": {"N": "992126199"},
            "timestamp": {"S": "2025-12-30T15:18:09Z"},
            "pages_viewed": {"N": "4"},
            "location": {"S": "Toledo, Ohio, USA"},
            "device": {"M": {"browser": {"S": "Chrome"}, "os": {"S": "Windows"}}},
            "pages": {"L": [{"M": {"url": {"S": "https://x.example/"}}}]},
            "latitude": {"N": "41.65"},
            "tags": {"SS": ["b", "a"]},
        }
    )
    assert item["session_id"] == 992126199 and item["tags"] == ["a", "b"]
    row = transform(SPEC, item)
    values = dict(zip(SPEC.value_columns, row.values, strict=True))
    assert row.key == ("992126199",)
    assert values["page_views"] == 4 and values["browser"] == "Chrome" and values["os"] == "Windows"
    assert values["landing_page"] == "https://x.example/"  # a JSON path into a list
    assert (values["city"], values["region"], values["country"]) == ("Toledo", "Ohio", "USA")
    assert values["last_visit_at"] == datetime(2025, 12, 30, 15, 18, 9, tzinfo=UTC)
    assert values["latitude"] == 41.65 and "session_data" not in values
    assert row.version == int(values["last_visit_at"].timestamp() * 1000)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({"timestamp": "2025-12-30T15:18:09Z"}, "key visitor_id: missing"),
        ({"session_id": "1"}, "last_visit_at: required and missing"),
        ({"session_id": "1", "timestamp": "yesterday"}, "last_visit_at: 'yesterday' is not an ISO 8601 time"),
        ({"session_id": "1", "timestamp": 1767225600, "pages_viewed": "many"},
         "page_views: 'many' is not a number"),
        ({"session_id": "1", "timestamp": 1767225600, "pages_viewed": 2.5},
         "page_views: 2.5 is not a whole number"),
        ({"session_id": "1", "timestamp": 1767225600, "pages_viewed": 2**40},
         "out of range for integer"),
    ],
)  # fmt: skip
def test_transform_errors_name_the_field(item: dict[str, object], reason: str) -> None:
    with pytest.raises(TransformError) as caught:
        transform(SPEC, item)
    assert reason in str(caught.value)


def test_stream_record_orders_and_tables() -> None:
    record = {
        "eventName": "REMOVE",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:1:table/firespring-backdoor-visitors-dev/stream/2026",
        "dynamodb": {
            "ApproximateCreationDateTime": 1767225600.5,
            "SequenceNumber": "1100000000017454423009",
            "Keys": {"session_id": {"S": "7"}, "timestamp": {"S": "2026-01-01T00:00:00Z"}},
            "OldImage": {"session_id": {"S": "7"}, "timestamp": {"S": "2026-01-01T00:00:00Z"}},
        },
    }
    assert table_of(record) == "firespring-backdoor-visitors-dev"
    change = change_from_record(SPEC, record)
    assert change.is_remove and change.key == ("7",)
    assert change.order == (1767225600000, 1767225600500, 1100000000017454423009)
    no_old = {**record, "dynamodb": {**record["dynamodb"], "OldImage": None}}  # type: ignore[dict-item]
    with pytest.raises(TransformError, match="NEW_AND_OLD_IMAGES"):
        change_from_record(SPEC, no_old)


@given(
    st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 5), st.integers(0, 5)), max_size=30),
    st.randoms(),
)
def test_latest_ignores_delivery_order(events: list[tuple[str, int, int]], rng: object) -> None:
    changes = [Change((k,), (0, t, s), None, {"v": Decimal(s)}) for k, t, s in events]
    shuffled = list(changes)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    expected = {c.key: c.order for c in latest(changes)}
    assert {c.key: c.order for c in latest(shuffled + shuffled[:3])} == expected


def test_children_wait_for_their_parent() -> None:
    parent = Shard("p", None, closed=True)
    left, right = Shard("l", "p", False), Shard("r", "p", False)
    orphan = Shard("o", "trimmed-away", False)
    shards = [parent, left, right, orphan]
    assert [s.shard_id for s in readable(shards, {})] == ["p", "o"]
    done = {"p": Checkpoint("42", True)}
    assert [s.shard_id for s in readable(shards, done)] == ["l", "r", "o"]
    assert iterator_request(left, None) == {"ShardId": "l", "ShardIteratorType": "TRIM_HORIZON"}
    assert (
        iterator_request(left, Checkpoint("9", False))["ShardIteratorType"]
        == "AFTER_SEQUENCE_NUMBER"
    )
