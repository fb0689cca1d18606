"""Phoenix channel frames as Supabase Realtime clients speak them. Pure.

- ``vsn=1.0.0``: JSON objects ``{"topic", "event", "payload", "ref", "join_ref"}``.
- ``vsn=2.0.0``: JSON arrays ``[join_ref, ref, topic, event, payload]``, plus binary frames
  for user broadcasts: clients push kind 3 (``userBroadcastPush``), servers send kind 4
  (``userBroadcast``); the user payload is raw bytes or JSON text.

``encode_change`` builds a ``postgres_changes`` frame around change data serialised once
per change, so fanning one change out to many subscribers costs a byte concatenation each.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import orjson

VSN_1 = "1.0.0"
VSN_2 = "2.0.0"
VERSIONS = (VSN_1, VSN_2)

KIND_USER_BROADCAST_PUSH = 3
KIND_USER_BROADCAST = 4
ENCODING_BINARY = 0
ENCODING_JSON = 1


class ProtocolError(ValueError):
    """A frame that cannot be read."""


@dataclass(frozen=True, slots=True)
class Frame:
    topic: str
    event: str
    payload: Any
    ref: str | None = None
    join_ref: str | None = None


def _ref(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int):
        return str(value)
    raise ProtocolError("ref must be a string")


def decode_text(vsn: str, text: str | bytes) -> Frame:
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not JSON: {exc}") from None
    if vsn == VSN_2:
        if not isinstance(raw, list) or len(raw) != 5:
            raise ProtocolError("vsn 2.0.0 frames are [join_ref, ref, topic, event, payload]")
        join_ref, ref, topic, event, payload = raw
    else:
        if not isinstance(raw, dict):
            raise ProtocolError("vsn 1.0.0 frames are JSON objects")
        topic, event, payload = raw.get("topic"), raw.get("event"), raw.get("payload")
        ref, join_ref = raw.get("ref"), raw.get("join_ref")
    if not isinstance(topic, str) or not isinstance(event, str):
        raise ProtocolError("topic and event must be strings")
    if payload is None:
        payload = {}
    return Frame(topic, event, payload, _ref(ref), _ref(join_ref))


def decode_binary(data: bytes) -> Frame:
    """A kind 3 user broadcast push; the payload becomes
    ``{"type": "broadcast", "event", "payload": <bytes or JSON value>, ["meta"]}``."""
    if len(data) < 7:
        raise ProtocolError("binary frame too short")
    kind = data[0]
    if kind != KIND_USER_BROADCAST_PUSH:
        raise ProtocolError(f"unsupported binary frame kind {kind}")
    join_ref_len, ref_len, topic_len, event_len, meta_len, encoding = struct.unpack_from(
        "!6B", data, 1
    )
    pos = 7
    parts = []
    for size in (join_ref_len, ref_len, topic_len, event_len, meta_len):
        if pos + size > len(data):
            raise ProtocolError("binary frame ends early")
        parts.append(data[pos : pos + size].decode("utf-8", errors="replace"))
        pos += size
    join_ref, ref, topic, user_event, meta = parts
    body = data[pos:]
    user_payload: Any
    if encoding == ENCODING_JSON:
        try:
            user_payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ProtocolError(f"broadcast payload is not JSON: {exc}") from None
    elif encoding == ENCODING_BINARY:
        user_payload = bytes(body)
    else:
        raise ProtocolError(f"unknown payload encoding {encoding}")
    payload: dict[str, Any] = {"type": "broadcast", "event": user_event, "payload": user_payload}
    if meta:
        try:
            payload["meta"] = orjson.loads(meta)
        except orjson.JSONDecodeError:
            raise ProtocolError("broadcast metadata is not JSON") from None
    return Frame(topic, "broadcast", payload, ref or None, join_ref or None)


def encode(vsn: str, frame: Frame) -> str:
    if vsn == VSN_2:
        return orjson.dumps(
            [frame.join_ref, frame.ref, frame.topic, frame.event, frame.payload]
        ).decode()
    return orjson.dumps(
        {
            "topic": frame.topic,
            "event": frame.event,
            "payload": frame.payload,
            "ref": frame.ref,
            "join_ref": frame.join_ref,
        }
    ).decode()


def encode_user_broadcast(
    topic: str, user_event: str, payload: bytes | Any, meta: dict[str, Any] | None = None
) -> bytes:
    """A kind 4 frame (server -> vsn 2.0.0 client): raw bytes stay binary, anything else
    is sent as JSON."""
    if isinstance(payload, bytes | bytearray | memoryview):
        encoding, body = ENCODING_BINARY, bytes(payload)
    else:
        encoding, body = ENCODING_JSON, orjson.dumps(payload)
    topic_b = topic.encode()
    event_b = user_event.encode()
    meta_b = orjson.dumps(meta) if meta else b""
    if max(len(topic_b), len(event_b), len(meta_b)) > 255:
        raise ProtocolError("topic, event and metadata must each fit in 255 bytes")
    header = struct.pack(
        "!5B", KIND_USER_BROADCAST, len(topic_b), len(event_b), len(meta_b), encoding
    )
    return header + topic_b + event_b + meta_b + body


def encode_change(vsn: str, topic_json: str, ids: str, data: str) -> str:
    """A ``postgres_changes`` push. ``topic_json`` is the topic as a JSON string, ``ids`` the
    matching binding ids as a JSON array, ``data`` the change serialised once."""
    if vsn == VSN_2:
        return f'[null,null,{topic_json},"postgres_changes",{{"ids":{ids},"data":{data}}}]'
    return (
        f'{{"topic":{topic_json},"event":"postgres_changes",'
        f'"payload":{{"ids":{ids},"data":{data}}},"ref":null}}'
    )


def reply(topic: str, ref: str | None, join_ref: str | None, status: str, response: Any) -> Frame:
    return Frame(topic, "phx_reply", {"status": status, "response": response}, ref, join_ref)


def error_reply(topic: str, ref: str | None, join_ref: str | None, reason: str) -> Frame:
    """A refused push, in Supabase's shape: ``{"reason": "<Code>: <text>"}``."""
    return reply(topic, ref, join_ref, "error", {"reason": reason})
