"""The tracker's compressed payload (``s, u, sid, sm, ec, ea, el, ev, r, eid, ts, meta``):
decoding and validation with msgspec. Pure.

Every problem raises ``BadRequest`` with a code and the offending field (``batch[3].sid``).
Strings are checked for length and for NUL characters, which PostgreSQL's ``text`` and
``jsonb`` refuse: letting one through would turn bad input into a 500.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any

import msgspec

from leadtrail.errors import BadRequest

MAX_BODY_BYTES = 64 * 1024
MAX_BATCH = 100
MAX_META_BYTES = 8 * 1024
MAX_META_DEPTH = 4
MAX_META_KEYS = 64
CATEGORIES = frozenset({"acquisition", "interaction", "conversion", "system"})

_ACTION = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_MONTH = re.compile(r"^\d{4}-\d{2}-01$")

Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
Short = Annotated[str, msgspec.Meta(max_length=128)]
Label = Annotated[str, msgspec.Meta(max_length=1024)]


class RawEvent(msgspec.Struct, forbid_unknown_fields=False):
    s: Short
    u: Url
    sid: Short
    ec: Short
    ea: Short
    sm: Short | None = None
    el: Label | None = None
    ev: float | None = None
    r: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    eid: Short | None = None
    ts: float | None = None
    meta: dict[str, Any] | None = None


class RawBatch(msgspec.Struct, forbid_unknown_fields=False):
    batch: Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1)]


class TypedBatch(msgspec.Struct, forbid_unknown_fields=False):
    batch: Annotated[list[RawEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


# Valid bodies decode straight into structs in one C pass; anything that fails is decoded
# again the slow way, which finds the exact field to blame.
_event_decoder = msgspec.json.Decoder(RawEvent)
_batch_decoder = msgspec.json.Decoder(TypedBatch)


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One validated event, as the client sent it."""

    site_public_id: str
    url: str
    session_id: uuid.UUID
    category: str
    action: str
    label: str | None
    value: float | None
    referrer: str | None
    client_event_id: str | None
    client_ts: float | None
    meta: dict[str, Any]


#: which error code a failing field gets
_FIELD_CODES = {
    "s": "invalid_site",
    "u": "invalid_url",
    "sid": "invalid_session_id",
    "ec": "invalid_category",
    "ea": "invalid_action",
    "el": "invalid_label",
    "ev": "invalid_value",
    "r": "invalid_referrer",
    "eid": "invalid_event_id",
    "ts": "invalid_timestamp",
    "sm": "invalid_session_month",
    "meta": "invalid_meta",
}

_decoder = msgspec.json.Decoder()


def decode_body(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """JSON body → (raw event objects, whether it was a batch)."""
    try:
        data = _decoder.decode(body)
    except msgspec.DecodeError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    except RecursionError:
        raise too_deep() from None
    if isinstance(data, dict) and "batch" in data:
        try:
            batch = msgspec.convert(data, RawBatch).batch
        except msgspec.ValidationError as exc:
            raise BadRequest(f"batch: {exc}", code="invalid_batch", field="batch") from None
        if len(batch) > MAX_BATCH:
            raise BadRequest(
                f"a batch holds at most {MAX_BATCH} events, got {len(batch)}",
                code="batch_too_large",
                field="batch",
            )
        return batch, True
    if isinstance(data, dict):
        return [data], False
    raise BadRequest('expected an event object or {"batch": [...]}', code="invalid_payload")


def too_deep() -> BadRequest:
    """Arrays or objects nested past what the decoder follows (``[[[[…]]]]`` x 30,000)."""
    return BadRequest("the body nests arrays or objects too deeply", code="json_too_deep")


def _field_error(exc: msgspec.ValidationError, prefix: str) -> BadRequest:
    text = str(exc)
    match = re.search(r"at `\$\.([A-Za-z_]+)", text)
    name = match[1] if match else None
    if name is None:
        missing = re.search(r"missing required field `([A-Za-z_]+)`", text)
        name = missing[1] if missing else None
    code = _FIELD_CODES.get(name or "", "invalid_event")
    field = f"{prefix}{name}" if name else prefix.rstrip(".") or None
    return BadRequest(f"{field or 'event'}: {text.split(' - at ')[0]}", code=code, field=field)


def _has_nul(value: str) -> bool:
    return "\x00" in value


_SUSPICIOUS_NUMBER = re.compile(rb"\d{19}")


@dataclass(frozen=True, slots=True)
class BodyFacts:
    """Cheap facts about the raw body that let per-event checks skip work.

    A NUL can only reach a decoded string through the escape ``\u0000`` (raw control
    characters are invalid JSON), and an integer beyond 64 bits needs 19+ digits (a float
    with a huge exponent becomes infinity, which is stored as null); when the body has
    neither, no value needs those checks.
    """

    size: int
    may_have_nul: bool
    may_have_huge_numbers: bool

    @classmethod
    def of(cls, body: bytes) -> BodyFacts:
        return cls(len(body), b"\\u0000" in body, _SUSPICIOUS_NUMBER.search(body) is not None)


_ANY_BODY = BodyFacts(MAX_BODY_BYTES, True, True)


@lru_cache(maxsize=4096)
def _session_uuid(text: str) -> uuid.UUID:
    """A batch repeats its session id; a visitor's next requests too."""
    return uuid.UUID(text)


def _meta_error(field: str, why: str) -> BadRequest:
    return BadRequest(f"{field} {why}", code="invalid_meta", field=field)


def _check_meta(meta: Any, field: str, facts: BodyFacts) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise _meta_error(field, "must be an object")
    # A body smaller than the limit cannot hold a meta over it: skip the re-encoding.
    size = len(msgspec.json.encode(meta)) if facts.size > MAX_META_BYTES else 0
    if size > MAX_META_BYTES:
        raise BadRequest(
            f"{field} is {size} bytes; the limit is {MAX_META_BYTES}",
            code="meta_too_large",
            field=field,
        )
    check_values = facts.may_have_nul or facts.may_have_huge_numbers
    stack: list[tuple[Any, int]] = [(meta, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_META_DEPTH:
                raise _meta_error(field, f"nests deeper than {MAX_META_DEPTH} levels")
            if len(node) > MAX_META_KEYS:
                raise _meta_error(field, "has too many keys")
            for key, child in node.items():
                if facts.may_have_nul and _has_nul(key):
                    raise _meta_error(field, "contains a NUL character")
                if check_values or isinstance(child, dict | list):
                    stack.append((child, depth + 1))
        elif isinstance(node, list):
            if depth > MAX_META_DEPTH:
                raise _meta_error(field, f"nests deeper than {MAX_META_DEPTH} levels")
            stack.extend((child, depth + 1) for child in node)
        elif depth > MAX_META_DEPTH + 1:
            raise _meta_error(field, f"nests deeper than {MAX_META_DEPTH} levels")
        elif isinstance(node, str):
            if _has_nul(node):
                raise _meta_error(field, "contains a NUL character")
        elif isinstance(node, float) and not math.isfinite(node):
            raise _meta_error(field, "holds a non-finite number")
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > 2**63:
            raise _meta_error(field, "holds an out-of-range integer")
    return meta


def validate_event(
    raw: dict[str, Any] | RawEvent, index: int | None = None, facts: BodyFacts = _ANY_BODY
) -> ClientEvent:
    """Check one raw event; ``index`` names its place in a batch for error messages."""
    prefix = f"batch[{index}]." if index is not None else ""
    if isinstance(raw, RawEvent):
        event = raw
    elif not isinstance(raw, dict):
        raise BadRequest(
            f"{prefix or 'event'} must be an object",
            code="invalid_event",
            field=prefix.rstrip(".") or None,
        )
    else:
        try:
            event = msgspec.convert(raw, RawEvent)
        except msgspec.ValidationError as exc:
            raise _field_error(exc, prefix) from None

    for name in ("s", "u", "sid", "ec", "ea", "el", "r", "eid", "sm") if facts.may_have_nul else ():
        value = getattr(event, name)
        if value is not None and _has_nul(value):
            raise BadRequest(
                f"{prefix}{name} contains a NUL character",
                code=_FIELD_CODES[name],
                field=prefix + name,
            )
    if not event.u.startswith(("http://", "https://")):
        raise BadRequest(
            f"{prefix}u must be an http(s) URL", code="invalid_url", field=prefix + "u"
        )
    try:
        session_id = _session_uuid(event.sid)
    except ValueError:
        raise BadRequest(
            f"{prefix}sid must be a UUID", code="invalid_session_id", field=prefix + "sid"
        ) from None
    if event.ec not in CATEGORIES:
        raise BadRequest(
            f"{prefix}ec must be one of {', '.join(sorted(CATEGORIES))}",
            code="invalid_category",
            field=prefix + "ec",
        )
    if not _ACTION.match(event.ea):
        raise BadRequest(
            f"{prefix}ea must be 1-64 letters, digits or _.:-",
            code="invalid_action",
            field=prefix + "ea",
        )
    if event.ev is not None and (not math.isfinite(event.ev) or abs(event.ev) > 1e12):
        raise BadRequest(
            f"{prefix}ev must be a finite number", code="invalid_value", field=prefix + "ev"
        )
    if event.eid is not None and not _EVENT_ID.match(event.eid):
        raise BadRequest(
            f"{prefix}eid must be 8-64 letters, digits, '_' or '-'",
            code="invalid_event_id",
            field=prefix + "eid",
        )
    if event.sm is not None and not _MONTH.match(event.sm):
        raise BadRequest(
            f"{prefix}sm must look like 2026-01-01",
            code="invalid_session_month",
            field=prefix + "sm",
        )
    if event.ts is not None and not (math.isfinite(event.ts) and 0 < event.ts < 1e14):
        raise BadRequest(
            f"{prefix}ts must be milliseconds since 1970",
            code="invalid_timestamp",
            field=prefix + "ts",
        )
    meta = _check_meta(event.meta, prefix + "meta", facts)
    return ClientEvent(
        site_public_id=event.s,
        url=event.u,
        session_id=session_id,
        category=event.ec,
        action=event.ea,
        label=event.el,
        value=event.ev,
        referrer=event.r or None,
        client_event_id=event.eid,
        client_ts=event.ts,
        meta=meta,
    )


def _fast_decode(body: bytes) -> tuple[list[RawEvent], bool] | None:
    head = body[:32].lstrip()
    try:
        if head.startswith(b"{") and b'"batch"' in head:
            return _batch_decoder.decode(body).batch, True
        return [_event_decoder.decode(body)], False
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None  # the slow path names the problem


def parse(body: bytes) -> list[ClientEvent]:
    """Body → validated events; the first problem found is raised."""
    fast = _fast_decode(body)
    decoded: tuple[Sequence[RawEvent | dict[str, Any]], bool] = (
        fast if fast is not None else decode_body(body)
    )
    raws, is_batch = decoded
    facts = BodyFacts.of(body)
    events: list[ClientEvent] = []
    for i, raw in enumerate(raws):
        events.append(validate_event(raw, i if is_batch else None, facts))
    return events
