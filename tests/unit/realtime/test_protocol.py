"""Phoenix frames for vsn 1.0.0 and 2.0.0, including realtime-js's binary broadcasts."""

from __future__ import annotations

import struct

import orjson
import pytest

from leadtrail.realtime import protocol


def push_frame(
    join_ref: str, ref: str, topic: str, event: str, meta: str, encoding: int, body: bytes
) -> bytes:
    """A kind 3 frame laid out as realtime-js's serializer writes it."""
    header = struct.pack(
        "!7B", 3, len(join_ref), len(ref), len(topic), len(event), len(meta), encoding
    )
    return header + (join_ref + ref + topic + event + meta).encode() + body


def test_v1_and_v2_text_frames_round_trip() -> None:
    frame = protocol.Frame("realtime:a", "phx_join", {"config": {}}, "3", "3")
    for vsn in protocol.VERSIONS:
        assert protocol.decode_text(vsn, protocol.encode(vsn, frame)) == frame
    assert orjson.loads(protocol.encode(protocol.VSN_2, frame)) == [
        "3",
        "3",
        "realtime:a",
        "phx_join",
        {"config": {}},
    ]


def test_integer_refs_and_missing_payload_are_accepted() -> None:
    frame = protocol.decode_text(protocol.VSN_1, '{"topic":"phoenix","event":"heartbeat","ref":7}')
    assert frame.ref == "7" and frame.payload == {}


@pytest.mark.parametrize(
    ("vsn", "text"),
    [
        (protocol.VSN_1, "not json"),
        (protocol.VSN_1, "[1,2,3]"),
        (protocol.VSN_2, '{"topic": "x"}'),
        (protocol.VSN_2, '[null, null, 5, "e", {}]'),
        (protocol.VSN_1, '{"topic":"t","event":"e","ref":{"a":1}}'),
    ],
)
def test_unreadable_frames_raise(vsn: str, text: str) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_text(vsn, text)


def test_binary_json_broadcast_push() -> None:
    data = push_frame("1", "2", "realtime:room", "cursor", "", 1, b'{"x":1}')
    frame = protocol.decode_binary(data)
    assert (frame.topic, frame.event, frame.ref, frame.join_ref) == (
        "realtime:room",
        "broadcast",
        "2",
        "1",
    )
    assert frame.payload == {"type": "broadcast", "event": "cursor", "payload": {"x": 1}}


def test_binary_raw_broadcast_push_with_meta() -> None:
    data = push_frame("", "", "realtime:room", "blob", '{"id":"m1"}', 0, b"\x00\xff")
    frame = protocol.decode_binary(data)
    assert frame.ref is None and frame.payload["payload"] == b"\x00\xff"
    assert frame.payload["meta"] == {"id": "m1"}


@pytest.mark.parametrize(
    "data",
    [
        b"\x03\x00",
        b"\x04" + b"\x00" * 10,
        push_frame("", "", "t", "e", "", 7, b""),
        push_frame("", "", "t", "e", "", 1, b"{"),
    ],
)
def test_bad_binary_frames_raise(data: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_binary(data)


def test_user_broadcast_frame_layout() -> None:
    out = protocol.encode_user_broadcast("realtime:r", "ev", b"\x01\x02")
    assert out[:5] == bytes([4, 10, 2, 0, 0]) and out[5:] == b"realtime:rev\x01\x02"
    json_out = protocol.encode_user_broadcast("realtime:r", "ev", {"a": 1}, {"id": "x"})
    meta = orjson.dumps({"id": "x"})
    assert json_out[:5] == bytes([4, 10, 2, len(meta), 1])
    assert json_out.endswith(meta + b'{"a":1}')


def test_change_frames_are_valid_json_in_both_versions() -> None:
    data = '{"type":"INSERT","record":{"a":1}}'
    v1 = orjson.loads(protocol.encode_change(protocol.VSN_1, '"realtime:x"', "[5]", data))
    assert v1 == {
        "topic": "realtime:x",
        "event": "postgres_changes",
        "payload": {"ids": [5], "data": {"type": "INSERT", "record": {"a": 1}}},
        "ref": None,
    }
    v2 = orjson.loads(protocol.encode_change(protocol.VSN_2, '"realtime:x"', "[5]", data))
    assert v2 == [None, None, "realtime:x", "postgres_changes", v1["payload"]]
