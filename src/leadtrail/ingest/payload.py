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
from dataclasses import dataclass
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


def _check_meta(meta: Any, field: str, body_size: int) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise BadRequest(f"{field} must be an object", code="invalid_meta", field=field)
    # A body smaller than the limit cannot hold a meta over it: skip the re-encoding.
    size = len(msgspec.json.encode(meta)) if body_size > MAX_META_BYTES else 0
    if size > MAX_META_BYTES:
        raise BadRequest(
            f"{field} is {size} bytes; the limit is {MAX_META_BYTES}",
            code="meta_too_large",
            field=field,
        )

    def walk(node: Any, depth: int) -> None:
        if depth > MAX_META_DEPTH:
            raise BadRequest(
                f"{field} nests deeper than {MAX_META_DEPTH} levels",
                code="invalid_meta",
                field=field,
            )
        if isinstance(node, dict):
            if len(node) > MAX_META_KEYS:
                raise BadRequest(f"{field} has too many keys", code="invalid_meta", field=field)
            for key, child in node.items():
                if _has_nul(key):
                    raise BadRequest(
                        f"{field} contains a NUL character", code="invalid_meta", field=field
                    )
                walk(child, depth + 1)
        elif isinstance(node, list):
            for child in node:
                walk(child, depth + 1)
        elif isinstance(node, str):
            if _has_nul(node):
                raise BadRequest(
                    f"{field} contains a NUL character", code="invalid_meta", field=field
                )
        elif isinstance(node, float) and not math.isfinite(node):
            raise BadRequest(f"{field} holds a non-finite number", code="invalid_meta", field=field)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > 2**63:
            raise BadRequest(
                f"{field} holds an out-of-range integer", code="invalid_meta", field=field
            )

    walk(meta, 1)
    return meta


def validate_event(
    raw: dict[str, Any], index: int | None = None, body_size: int = MAX_BODY_BYTES
) -> ClientEvent:
    """Check one raw event; ``index`` names its place in a batch for error messages."""
    prefix = f"batch[{index}]." if index is not None else ""
    if not isinstance(raw, dict):
        raise BadRequest(
            f"{prefix or 'event'} must be an object",
            code="invalid_event",
            field=prefix.rstrip(".") or None,
        )
    try:
        event = msgspec.convert(raw, RawEvent)
    except msgspec.ValidationError as exc:
        raise _field_error(exc, prefix) from None

    for name in ("s", "u", "sid", "ec", "ea", "el", "r", "eid", "sm"):
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
        session_id = uuid.UUID(event.sid)
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
    meta = _check_meta(event.meta, prefix + "meta", body_size)
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


def parse(body: bytes) -> list[ClientEvent]:
    """Body → validated events; the first problem found is raised."""
    raws, is_batch = decode_body(body)
    return [validate_event(raw, i if is_batch else None, len(body)) for i, raw in enumerate(raws)]
