"""The pgoutput decoder and the change assembler, on messages captured from PostgreSQL 16
(tests/unit/data/pgoutput_v1.json, made by scripts/capture_pgoutput_fixture.py)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from leadtrail.realtime import pgoutput
from leadtrail.realtime.changes import (
    Assembler,
    RawChange,
    TableCodec,
    column_converter,
    format_micros,
    format_position,
    from_micros,
    parse_position,
    place,
    to_micros,
)
from leadtrail.realtime.logformat import LogFormatError, Reader, split_by_site
from leadtrail.realtime.values import BUILTIN, to_json

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "pgoutput_v1.json"
SITE = "11111111-1111-1111-1111-111111111111"


def rows() -> list[tuple[int, bytes]]:
    return [
        (pgoutput.parse_lsn(r["lsn"]), bytes.fromhex(r["data"]))
        for r in json.loads(FIXTURE.read_text())
    ]


def messages() -> list[pgoutput.Message]:
    return [pgoutput.decode(data) for _, data in rows()]


def test_every_captured_message_decodes() -> None:
    kinds = [type(m).__name__ for m in messages()]
    assert kinds[:4] == ["Begin", "Relation", "Insert", "Commit"]
    assert {"Update", "Delete", "Truncate"} <= set(kinds)


def test_relation_describes_columns_and_key() -> None:
    relation = next(m for m in messages() if isinstance(m, pgoutput.Relation))
    assert (relation.namespace, relation.name, relation.replica_identity) == ("public", "t", "d")
    assert [c.name for c in relation.columns][:3] == ["site_id", "id", "name"]
    assert [c.name for c in relation.columns if c.is_key] == ["id"]
    assert relation.columns[0].type_oid == 2950  # uuid


def test_insert_values_are_text_and_null() -> None:
    insert = next(m for m in messages() if isinstance(m, pgoutput.Insert))
    assert insert.new[:4] == (SITE, "1", "it's", "12.50")
    assert insert.new[4] == '{a,"b c",NULL}'


def test_update_of_other_column_marks_toasted_value_unchanged() -> None:
    update = next(m for m in messages() if isinstance(m, pgoutput.Update))
    assert update.old is None  # key unchanged, default identity
    assert update.new[2] == "new" and update.new[7] is pgoutput.UNCHANGED


def test_commit_and_begin_agree() -> None:
    msgs = messages()
    begin, commit = msgs[0], msgs[3]
    assert isinstance(begin, pgoutput.Begin) and isinstance(commit, pgoutput.Commit)
    assert begin.final_lsn == commit.commit_lsn and commit.end_lsn > commit.commit_lsn
    assert begin.commit_time == commit.commit_time and begin.commit_time.tzinfo is UTC


def test_truncated_and_unknown_messages_are_errors() -> None:
    _, data = rows()[2]
    with pytest.raises(pgoutput.DecodeError):
        pgoutput.decode(data[:-3])
    with pytest.raises(pgoutput.DecodeError):
        pgoutput.decode(b"Z\x00")
    with pytest.raises(pgoutput.DecodeError):
        pgoutput.decode(b"")


def test_lsn_text_round_trip() -> None:
    assert pgoutput.lsn_text(pgoutput.parse_lsn("16/B374D848")) == "16/B374D848"


def test_assembler_builds_supabase_payloads() -> None:
    done = Assembler().feed(rows())
    changes = [c for _, cs in done for c in cs]
    assert [(c.table, c.type) for c in changes] == [
        ("t", "INSERT"),
        ("t", "UPDATE"),
        ("t", "UPDATE"),
        ("t", "DELETE"),
        ("f", "INSERT"),
        ("f", "UPDATE"),
    ]  # TRUNCATE is not delivered
    insert = changes[0]
    assert insert.site_id == SITE
    assert insert.record is not None
    assert insert.record["id"] == 1 and insert.record["score"] == 12.5
    assert insert.record["tags"] == ["a", "b c", None] and insert.record["meta"] == {"k": [1, 2]}
    assert insert.record["at"] == "2026-11-03T10:00:00.5+00:00" and insert.record["ok"] is True
    data = orjson.loads(insert.data_json)
    assert data["commit_timestamp"] == format_position(insert.position)
    assert {"name": "tags", "type": "_text"} in data["columns"] and "old_record" not in data
    # an unchanged TOASTed value is left out rather than guessed
    assert changes[1].record is not None and "big" not in changes[1].record
    assert changes[1].old_record == {"id": 1}
    assert changes[2].old_record == {"id": 1} and changes[2].record is not None
    assert changes[3].old_record == {"id": 2} and changes[3].row == {"id": 2}
    full = changes[5]
    assert full.old_record == {"site_id": SITE, "id": 7, "status": None}  # REPLICA IDENTITY FULL
    assert full.record == {"site_id": SITE, "id": 7, "status": "qualified"}


def test_positions_are_unique_increasing_and_survive_a_restart() -> None:
    first = Assembler()
    done = first.feed(rows())
    positions = [c.position for _, cs in done for c in cs]
    assert positions == sorted(set(positions))
    # A restarted feed that already logged the first two transactions skips them and gives
    # the rest the positions they had.
    second_commit = done[1][0]
    again = Assembler(
        last_position=done[1][1][-1].position, skip_through_lsn=second_commit.commit_lsn
    )
    redone = [c.position for _, cs in again.feed(rows()) for c in cs]
    assert redone == positions[2:]


def test_clock_going_backwards_still_gives_increasing_positions() -> None:
    late = datetime(2030, 1, 1, tzinfo=UTC)
    changes = [c for _, cs in Assembler(last_position=late).feed(rows()) for c in cs]
    assert changes[0].position > late
    assert all(a.position < b.position for a, b in itertools.pairwise(changes))


def test_since_parses_what_commit_timestamp_prints() -> None:
    moment = datetime(2026, 11, 3, 10, 0, 0, 5, tzinfo=UTC)
    assert parse_position(format_position(moment)) == moment
    with pytest.raises(ValueError):
        parse_position("2026-11-03T10:00:00")  # no zone
    with pytest.raises(ValueError):
        parse_position("yesterday")


def test_site_is_read_from_the_raw_message_as_a_full_decode_would() -> None:
    for transaction in Assembler().take(rows()):
        for raw in transaction.changes:
            change = raw.decode()
            row = change.row or {}
            assert raw.site_id == row.get("site_id"), (change.type, change.table)
            assert raw.table == change.table and raw.kind == change.type


def test_the_replay_log_blob_gives_back_the_same_changes_per_site() -> None:
    changes = [c for t in Assembler().take(rows()) for c in t.changes]
    blobs = split_by_site(changes)
    with_site = [c for c in changes if c.site_id is not None]
    assert {b.site_id for b in blobs} == {SITE}
    assert sum(b.count for b in blobs) == len(with_site)
    (blob,) = blobs
    assert (blob.first, blob.last) == (with_site[0].position, with_site[-1].position)
    reader = Reader({})
    again = list(reader.changes(blob.data(), SITE))
    assert [c.position for c in again] == [c.position for c in with_site]
    assert [c.decode().data_json for c in again] == [c.decode().data_json for c in with_site]
    # each relation travels once per blob, before its first change
    headers = [p for p in blob.parts if len(p) == 5 and p[:1] == b"R"]
    assert len(headers) == len({c.codec.relation_id for c in with_site})
    with pytest.raises(LogFormatError):
        list(reader.changes(blob.data()[:-2], SITE))
    with pytest.raises(LogFormatError):
        list(reader.changes(b"Zxx", SITE))


@pytest.mark.parametrize(
    ("oid", "text"),
    [
        (23, "-42"),
        (20, "9007199254740993"),
        (16, "t"),
        (16, "f"),
        (3802, '{"a": [1, 2.5, null], "b": {"c": "d"}}'),
        (3802, "123456789012345678901234567890"),
        (1184, "2026-11-03 10:00:00.5+00"),
        (1184, "2026-11-03 10:00:00+05:30"),
        (1184, "infinity"),
        (1114, "2026-11-03 10:00:00"),
        (1700, "12.50"),
        (1700, "NaN"),
        (2950, "11111111-1111-1111-1111-111111111111"),
        (1009, '{a,"b c",NULL}'),
        (1082, "2026-11-01"),
    ],
)
def test_column_converters_answer_like_to_json(oid: int, text: str) -> None:
    pg_type = BUILTIN[oid]
    try:
        expected = to_json(BUILTIN, pg_type, text)
    except ValueError:
        expected = text
    assert column_converter(BUILTIN, pg_type)(text) == expected


def test_commit_timestamp_text_is_computed_like_format_position() -> None:
    moment = datetime(2026, 11, 3, 10, 0, 59, 999_999, tzinfo=UTC)
    for delta in (0, 1, 2):
        micros = to_micros(moment) + delta
        assert format_micros(micros) == format_position(from_micros(micros))


def test_a_table_altered_within_a_batch_is_read_back_with_each_definition() -> None:
    first = next(c for t in Assembler().take(rows()) for c in t.changes if c.table == "t")
    relation = pgoutput.decode(first.codec.raw)
    assert isinstance(relation, pgoutput.Relation)
    renamed_raw = first.codec.raw.replace(b"name\x00", b"nome\x00")
    renamed = pgoutput.decode(renamed_raw)
    assert isinstance(renamed, pgoutput.Relation)
    later = RawChange(
        first.position + 1,
        first.commit_lsn,
        TableCodec(renamed_raw, renamed, {}),
        first.kind,
        first.site_id,
        first.message,
    )
    (blob,) = split_by_site([first, later])
    back = list(Reader({}).changes(blob.data(), SITE))
    assert [c.codec.columns[2] for c in back] == ["name", "nome"]
    assert "nome" in (back[1].decode().record or {})


def test_streams_merged_by_commit_time_get_unique_increasing_positions() -> None:
    """Two nodes' streams (Citus): each assembled unplaced, merged by commit time, placed."""
    one = Assembler(placed=False).take(rows())
    other = Assembler(placed=False).take(rows())
    assert all(c.position == t.commit_time for t in one for c in t.changes)
    merged = sorted(one + other, key=lambda t: t.commit_time)  # equal times: both streams
    last = place(merged, -(2**62))
    positions = [c.position for t in merged for c in t.changes]
    assert positions == sorted(set(positions)) and positions[-1] == last
    # each change keeps its commit time unless an earlier one took it
    assert all(c.position >= t.commit_time for t in merged for c in t.changes)
    # placing again after a restart continues past what was handed out
    again = Assembler(placed=False).take(rows())
    assert place(again, last) > last
    assert min(c.position for t in again for c in t.changes) > last
