"""The replay log's blob: one site's changes of one feed batch, as raw pgoutput. Pure.

Records, in position order::

    'R' u32 length, a pgoutput Relation message   (before the first change of that table)
    'C' i64 position, u32 length, a pgoutput Insert/Update/Delete message

A position is microseconds since 2000-01-01 UTC. Writing costs a few byte copies per
change (no JSON); a ``since`` read decodes only the changes it delivers.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from leadtrail.realtime import pgoutput
from leadtrail.realtime.changes import RawChange, TableCodec
from leadtrail.realtime.values import PgType

_CHANGE = struct.Struct("!cqI")
_RELATION = struct.Struct("!cI")


class LogFormatError(ValueError):
    """A blob this version cannot read."""


@dataclass
class SiteBlob:
    """One site's part of a batch, built change by change."""

    site_id: str
    first: int = 0
    last: int = 0
    count: int = 0
    parts: list[bytes] = field(default_factory=list)
    #: relation id -> the Relation message last written for it (a table altered during
    #: the batch gets a new one, and the changes after it are read with it)
    _relations: dict[int, bytes] = field(default_factory=dict)

    def add(self, change: RawChange) -> None:
        codec = change.codec
        if self._relations.get(codec.relation_id) is not codec.raw:
            self._relations[codec.relation_id] = codec.raw
            self.parts.append(_RELATION.pack(b"R", len(codec.raw)))
            self.parts.append(codec.raw)
        if not self.count:
            self.first = change.position
        self.last = change.position
        self.count += 1
        self.parts.append(_CHANGE.pack(b"C", change.position, len(change.message)))
        self.parts.append(change.message)

    def data(self) -> bytes:
        return b"".join(self.parts)


def split_by_site(changes: Sequence[RawChange]) -> list[SiteBlob]:
    """A batch's changes grouped by site (changes without a site are never delivered)."""
    blobs: dict[str, SiteBlob] = {}
    for change in changes:
        site = change.site_id
        if site is None:
            continue
        blob = blobs.get(site)
        if blob is None:
            blob = blobs[site] = SiteBlob(site)
        blob.add(change)
    return list(blobs.values())


class Reader:
    """Decodes blobs; Relation messages seen before are parsed once per reader."""

    def __init__(self, types: Mapping[int, PgType]) -> None:
        self._types = dict(types)
        self._codecs: dict[bytes, TableCodec] = {}

    def changes(self, data: bytes, site_id: str, commit_lsn: int = 0) -> Iterator[RawChange]:
        """Every change of one blob, in position order."""
        view = memoryview(data)
        relations: dict[int, TableCodec] = {}
        pos = 0
        end = len(view)
        while pos < end:
            tag = view[pos]
            if tag == 0x43:  # 'C'
                if pos + _CHANGE.size > end:
                    raise LogFormatError("replay log record ends early")
                _, position, size = _CHANGE.unpack_from(view, pos)
                pos += _CHANGE.size
                message = bytes(view[pos : pos + size])
                pos += size
                codec = relations.get(int.from_bytes(message[1:5], "big"))
                kind = {0x49: "INSERT", 0x55: "UPDATE", 0x44: "DELETE"}.get(message[0])
                if codec is None or kind is None or len(message) != size:
                    raise LogFormatError("replay log change without its relation")
                yield RawChange(position, commit_lsn, codec, kind, site_id, message)
            elif tag == 0x52:  # 'R'
                if pos + _RELATION.size > end:
                    raise LogFormatError("replay log record ends early")
                _, size = _RELATION.unpack_from(view, pos)
                pos += _RELATION.size
                raw = bytes(view[pos : pos + size])
                pos += size
                codec = self._codecs.get(raw)
                if codec is None:
                    relation = pgoutput.decode(raw)
                    if not isinstance(relation, pgoutput.Relation):
                        raise LogFormatError("replay log relation record is not a Relation")
                    codec = self._codecs[raw] = TableCodec(raw, relation, self._types)
                relations[codec.relation_id] = codec
            else:
                raise LogFormatError(f"unknown replay log record {tag:#x}")
