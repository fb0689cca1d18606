"""The hub: which channel wants which change, broadcast and presence fan-out.

Subscriptions are indexed by site and table, so a change is matched only against the
channels allowed to see its site (no query per subscriber per change): ``TableAccess``
answers the rest. ``dispatch`` runs synchronously in the event loop, so "everything up to
``dispatched`` is delivered or queued" holds between any two awaits; a join with ``since``
relies on that to serve the replay log up to ``dispatched`` and live changes after it with
no gap and no duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import orjson

from leadtrail.realtime import presence, protocol
from leadtrail.realtime.access import TableAccess, Viewer
from leadtrail.realtime.bindings import Binding
from leadtrail.realtime.changes import Change
from leadtrail.realtime.values import PgType

logger = logging.getLogger(__name__)


class Outbox(Protocol):
    """One client connection's bounded send queue."""

    id: int
    vsn: str

    def push_text(self, text: str) -> None: ...

    def push_bytes(self, data: bytes) -> None: ...


@dataclass(eq=False)
class Member:
    """One joined channel of one connection."""

    conn: Outbox
    topic: str
    viewer: Viewer
    join_ref: str | None
    bindings: tuple[Binding, ...] = ()
    broadcast_self: bool = False
    broadcast_ack: bool = False
    presence_key: str = ""
    #: the channel's own ``access_token`` (its ``viewer`` came from it); None: the
    #: connection's credential
    token: str | None = None
    #: changes held back while a ``since`` replay is being served, and their size
    pending: list[tuple[Change, tuple[int, ...]]] | None = None
    pending_bytes: int = 0
    topic_json: str = field(init=False)
    _ids_json: dict[tuple[int, ...], str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.topic_json = orjson.dumps(self.topic).decode()

    @property
    def owner(self) -> int:
        """Presence owner key: unique per connection and topic."""
        return hash((self.conn.id, self.topic))

    @property
    def sites(self) -> frozenset[str]:
        return self.viewer.site_ids

    @property
    def all_tables(self) -> bool:
        return any(b.table is None for b in self.bindings)

    def matching_ids(self, change: Change) -> tuple[int, ...]:
        return tuple(b.id for b in self.bindings if b.matches(change))

    def send_change(
        self, change: Change, ids: tuple[int, ...], frames: dict[Any, str] | None = None
    ) -> None:
        """``frames``: texts already built for this change (channels with the same topic
        and bindings get the same frame)."""
        ids_json = self._ids_json.get(ids)
        if ids_json is None:
            ids_json = self._ids_json[ids] = orjson.dumps(list(ids)).decode()
        vsn = self.conn.vsn
        if frames is None:
            text = protocol.encode_change(vsn, self.topic_json, ids_json, change.data_json)
        else:
            key = (vsn, self.topic_json, ids_json)
            found = frames.get(key)
            if found is None:
                found = frames[key] = protocol.encode_change(
                    vsn, self.topic_json, ids_json, change.data_json
                )
            text = found
        self.conn.push_text(text)

    def send(self, frame: protocol.Frame) -> None:
        self.conn.push_text(protocol.encode(self.conn.vsn, frame))


class RelaySink(Protocol):
    """Where the hub sends what other realtime nodes must see (relay.Relay)."""

    def broadcast(self, topic: str, sites: frozenset[str], payload: dict[str, Any]) -> None: ...

    def track(self, topic: str, entry: presence.Entry) -> None: ...

    def untrack(self, topic: str, entry: presence.Entry) -> None: ...


class Hub:
    def __init__(
        self, *, max_pending: int = 10_000, max_pending_bytes: int = 16 * 1024 * 1024
    ) -> None:
        self.access = TableAccess()
        #: published table -> column name -> type (for filters)
        self.tables: dict[str, dict[str, PgType]] = {}
        #: None while the feed runs; else why postgres_changes are unavailable
        self.feed_problem: str | None = "the change feed has not started"
        #: every change at or before this position is delivered or queued
        self.dispatched: datetime | None = None
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        # site id -> table (None: any table) -> channels
        self._index: dict[str, dict[str | None, set[Member]]] = {}
        self._topics: dict[str, set[Member]] = {}
        self._presence: dict[str, presence.Topic] = {}
        self.changes_dispatched = 0
        self.deliveries = 0
        #: the link to other realtime nodes (relay.Relay), when running
        self.relay: RelaySink | None = None

    # -- membership ------------------------------------------------------------------

    def join(self, member: Member) -> None:
        self._topics.setdefault(member.topic, set()).add(member)
        self._index_add(member)

    def leave(self, member: Member) -> None:
        members = self._topics.get(member.topic)
        if members is not None:
            members.discard(member)
            if not members:
                del self._topics[member.topic]
        self._index_remove(member)
        self.untrack(member)

    def reindex(self, member: Member, viewer: Viewer) -> None:
        """The member's credential was checked again and now gives ``viewer``: changes
        follow the new sites and role from the next dispatch on."""
        self._index_remove(member)
        member.viewer = viewer
        self._index_add(member)

    def _index_add(self, member: Member) -> None:
        if member.bindings:
            tables: Iterable[str | None] = (
                (None,) if member.all_tables else {b.table for b in member.bindings}
            )
            for site in member.sites:
                by_table = self._index.setdefault(site, {})
                for table in tables:
                    by_table.setdefault(table, set()).add(member)

    def _index_remove(self, member: Member) -> None:
        for site in member.sites:
            by_table = self._index.get(site)
            if by_table is None:
                continue
            for table in list(by_table):
                by_table[table].discard(member)
                if not by_table[table]:
                    del by_table[table]
            if not by_table:
                del self._index[site]

    def subscriber_count(self) -> int:
        return sum(len(m) for m in self._topics.values())

    # -- changes ---------------------------------------------------------------------

    def wants(self, site_id: str, table: str) -> bool:
        """Is any channel of this site subscribed to this table (or to every table)?
        The feed decodes a change only then."""
        by_table = self._index.get(site_id)
        if not by_table:
            return False
        return table in by_table or None in by_table

    def dispatch(self, changes: Iterable[Change], through: datetime | None = None) -> None:
        """Deliver (or hold, for channels still replaying) each change; never awaits.
        ``through``: every change up to this position has now been handed over (the feed
        passes its batch's end, which may lie past the last change anyone wanted)."""
        for change in changes:
            self.changes_dispatched += 1
            self.dispatched = change.position
            if change.site_id is None:
                continue
            by_table = self._index.get(change.site_id)
            if not by_table:
                continue
            frames: dict[Any, str] = {}
            for key in (change.table, None):
                members = by_table.get(key)
                if not members:
                    continue
                for member in tuple(members):
                    if not self.access.may_read(member.viewer.role, change.table):
                        continue
                    ids = member.matching_ids(change)
                    if not ids:
                        continue
                    if member.pending is not None:
                        member.pending.append((change, ids))
                        member.pending_bytes += len(change.data_json)
                        if (
                            len(member.pending) > self.max_pending
                            or member.pending_bytes > self.max_pending_bytes
                        ):
                            member.pending = None
                            self._overflow(member)
                        continue
                    self.deliveries += 1
                    member.send_change(change, ids, frames)
        if through is not None and (self.dispatched is None or through > self.dispatched):
            self.dispatched = through

    def allowed(self, member: Member, change: Change) -> tuple[int, ...]:
        """Binding ids of ``member`` that ``change`` matches, if the member may see it."""
        if not self.access.allows(member.viewer, change.table, change.site_id):
            return ()
        return member.matching_ids(change)

    def _overflow(self, member: Member) -> None:
        close = getattr(member.conn, "overflow", None)
        if close is not None:
            close()

    # -- broadcast -------------------------------------------------------------------

    def broadcast(
        self,
        sender: Member | None,
        topic: str,
        sites: frozenset[str],
        payload: dict[str, Any],
        *,
        relay: bool = True,
    ) -> int:
        """Send a user broadcast to the topic's channels that share a site with the sender
        (and to the other nodes, unless it came from one)."""
        if relay and self.relay is not None:
            self.relay.broadcast(topic, sites, payload)
        members = self._topics.get(topic)
        if not members:
            return 0
        user_payload = payload.get("payload")
        is_binary = isinstance(user_payload, bytes)
        json_text: dict[str, str] = {}
        sent = 0
        for member in tuple(members):
            if member is sender and not member.broadcast_self:
                continue
            if not (member.sites & sites):
                continue
            vsn = member.conn.vsn
            if vsn == protocol.VSN_2 and is_binary:
                member.conn.push_bytes(
                    protocol.encode_user_broadcast(
                        topic, str(payload.get("event", "")), user_payload, payload.get("meta")
                    )
                )
            elif is_binary:
                continue  # vsn 1.0.0 has no binary frames
            else:
                text = json_text.get(vsn)
                if text is None:
                    frame = protocol.Frame(topic, "broadcast", payload)
                    text = json_text[vsn] = protocol.encode(vsn, frame)
                member.conn.push_text(text)
            sent += 1
        return sent

    # -- presence --------------------------------------------------------------------

    def presence_state(self, member: Member) -> dict[str, Any]:
        topic = self._presence.get(member.topic)
        return topic.state_for(member.sites) if topic else {}

    def track(self, member: Member, meta: dict[str, Any]) -> None:
        topic = self._presence.setdefault(member.topic, presence.Topic())
        entry, replaced = topic.track(member.owner, member.presence_key, meta, member.sites)
        if self.relay is not None:
            self.relay.track(member.topic, entry)
        self._presence_diff(member.topic, entry.sites, [entry], [replaced] if replaced else [])

    def untrack(self, member: Member) -> None:
        topic = self._presence.get(member.topic)
        if topic is None:
            return
        entry = topic.untrack(member.owner)
        if not topic:
            del self._presence[member.topic]
        if entry is not None:
            if self.relay is not None:
                self.relay.untrack(member.topic, entry)
            self._presence_diff(member.topic, entry.sites, [], [entry])

    # -- presence of other nodes (relay.py) --------------------------------------------

    def remote_track(self, topic_name: str, entry: presence.Entry) -> None:
        topic = self._presence.setdefault(topic_name, presence.Topic())
        replaced = topic.put(entry)
        self._presence_diff(topic_name, entry.sites, [entry], [replaced] if replaced else [])

    def remote_untrack(self, topic_name: str, owner: str) -> None:
        topic = self._presence.get(topic_name)
        if topic is None:
            return
        entry = topic.untrack(owner)
        if not topic:
            del self._presence[topic_name]
        if entry is not None:
            self._presence_diff(topic_name, entry.sites, [], [entry])

    def forget_node(self, node: str) -> None:
        """A node stopped or went silent: its entries leave."""
        prefix = f"{node}:"
        for name, topic in list(self._presence.items()):
            for entry in topic.entries():
                if isinstance(entry.owner, str) and entry.owner.startswith(prefix):
                    self.remote_untrack(name, entry.owner)

    def local_presence(self) -> list[tuple[str, presence.Entry]]:
        """Entries tracked by this node's own clients (re-announced to a new node)."""
        return [
            (name, entry)
            for name, topic in self._presence.items()
            for entry in topic.entries()
            if isinstance(entry.owner, int)
        ]

    def _presence_diff(
        self,
        topic: str,
        sites: frozenset[str],
        joins: list[presence.Entry],
        leaves: list[presence.Entry],
    ) -> None:
        frame = protocol.Frame(topic, "presence_diff", presence.diff(joins, leaves))
        for member in tuple(self._topics.get(topic, ())):
            if member.sites & sites:
                member.send(frame)
