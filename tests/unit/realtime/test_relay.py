"""Two hubs joined by relays that hand messages straight to each other (what NOTIFY does
between nodes): broadcasts cross with their site scope, presence tracked on one is in the
other's state, binary payloads survive, and a node that says bye or goes silent leaves."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import orjson

from leadtrail.realtime.access import Viewer
from leadtrail.realtime.hub import Hub, Member
from leadtrail.realtime.relay import Relay
from leadtrail.storage import Claims, DbRole

SITE, OTHER = str(uuid4()), str(uuid4())


class Conn:
    vsn = "1.0.0"

    def __init__(self, ident: int) -> None:
        self.id = ident
        self.texts: list[Any] = []
        self.binary: list[bytes] = []

    def push_text(self, text: str) -> None:
        self.texts.append(orjson.loads(text))

    def push_bytes(self, data: bytes) -> None:
        self.binary.append(data)


def member(hub: Hub, ident: int, site: str, topic: str = "realtime:room") -> Member:
    viewer = Viewer(Claims(role=DbRole.ANALYST, sub="t", site_ids=(UUID(site),)), name="t")
    m = Member(conn=Conn(ident), topic=topic, viewer=viewer, join_ref="1", presence_key=f"k{ident}")
    hub.join(m)
    return m


def linked() -> tuple[Hub, Hub, Relay, Relay]:
    """Two hubs whose relays deliver to each other synchronously."""
    a, b = Hub(), Hub()
    ra, rb = Relay(None, a), Relay(None, b)  # type: ignore[arg-type]
    for src, dst in ((ra, rb), (rb, ra)):

        def put(text: str, dst: Relay = dst) -> None:
            dst._on_notify(None, 0, "c", text)

        src._queue.put_nowait = put  # type: ignore[method-assign]
    a.relay, b.relay = ra, rb
    return a, b, ra, rb


def test_broadcast_crosses_nodes_within_its_sites() -> None:
    a, b, _, _ = linked()
    sender = member(a, 1, SITE)
    same_site, other_site = member(b, 2, SITE), member(b, 3, OTHER)
    payload = {"type": "broadcast", "event": "hello", "payload": {"n": 1}}
    a.broadcast(sender, "realtime:room", sender.sites, payload)
    [frame] = same_site.conn.texts  # type: ignore[attr-defined]
    assert frame["event"] == "broadcast" and frame["payload"] == payload
    assert other_site.conn.texts == []  # type: ignore[attr-defined]
    assert sender.conn.texts == []  # type: ignore[attr-defined]  # no echo back from B


def test_binary_broadcast_survives_the_relay() -> None:
    a, b, _, _ = linked()
    sender = member(a, 1, SITE)
    receiver = member(b, 2, SITE)
    receiver.conn.vsn = "2.0.0"  # type: ignore[misc]
    a.broadcast(sender, "realtime:room", sender.sites, {"event": "bin", "payload": b"\x00\x01"})
    [data] = receiver.conn.binary  # type: ignore[attr-defined]
    assert data.endswith(b"\x00\x01")


def test_presence_crosses_and_leaves_with_its_node() -> None:
    a, b, ra, rb = linked()
    tracker = member(a, 1, SITE, "realtime:lobby")
    watcher = member(b, 2, SITE, "realtime:lobby")
    stranger = member(b, 3, OTHER, "realtime:lobby")
    a.track(tracker, {"status": "online"})
    state = b.presence_state(watcher)
    assert state["k1"]["metas"][0]["status"] == "online"
    assert b.presence_state(stranger) == {}
    # B's view carries A's phx_ref, so diffs on both nodes name the same entry
    assert (
        state["k1"]["metas"][0]["phx_ref"] == a.presence_state(tracker)["k1"]["metas"][0]["phx_ref"]
    )
    # a new node asks; A announces its entries again
    c = Hub()
    rc = Relay(None, c)  # type: ignore[arg-type]
    rc._on_notify(None, 0, "c", orjson.dumps({"k": "t", "n": ra.node, **_entry(a)}).decode())
    assert "k1" in c.presence_state(member(c, 4, SITE, "realtime:lobby"))
    # A goes away: B drops its entries and tells its subscribers
    rb._on_notify(None, 0, "c", orjson.dumps({"k": "bye", "n": ra.node}).decode())
    assert b.presence_state(watcher) == {}
    last = watcher.conn.texts[-1]  # type: ignore[attr-defined]
    assert last["event"] == "presence_diff" and "k1" in last["payload"]["leaves"]


def _entry(hub: Hub) -> dict[str, Any]:
    [(topic, entry)] = hub.local_presence()
    return {
        "t": topic,
        "o": str(entry.owner),
        "key": entry.key,
        "ref": entry.ref,
        "m": entry.meta,
        "s": sorted(entry.sites),
    }


def test_untrack_crosses_and_own_messages_are_ignored() -> None:
    a, b, ra, _ = linked()
    tracker = member(a, 1, SITE, "realtime:lobby")
    watcher = member(b, 2, SITE, "realtime:lobby")
    a.track(tracker, {"status": "online"})
    a.untrack(tracker)
    assert b.presence_state(watcher) == {}
    before = len(tracker.conn.texts)  # type: ignore[attr-defined]
    ra._on_notify(
        None, 0, "c", ra._message({"k": "b", "t": "realtime:lobby", "s": [SITE], "p": {}})
    )
    assert len(tracker.conn.texts) == before  # type: ignore[attr-defined]
