"""Identity rules on plain data: fingerprint resolution and identifier ties."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from leadtrail.identity.rules import (
    MAX_NETWORKS,
    Link,
    OwnedSession,
    Profile,
    Visit,
    WeakCandidate,
    decide_tie,
    net_key,
    resolve_visits,
)

MONTH = date(2026, 1, 1)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def visit(fp: str | None, net: str = "192.0.2.0/24", concurrent: bool = False) -> Visit:
    return Visit((uuid.uuid4(), MONTH), fp, net, concurrent)


def person(created_minutes: int = 0, **ids: str) -> Profile:
    return Profile(
        uuid.uuid4(),
        T0 + timedelta(minutes=created_minutes),
        {k: frozenset([v]) for k, v in ids.items()},
    )


def test_new_fingerprint_makes_one_person_for_all_its_visits() -> None:
    a, b, c = visit("fp1"), visit("fp1", "198.51.100.0/24"), visit(None)
    result = resolve_visits([a, b, c], {}, {})
    assert result.assignments[a.key] == result.assignments[b.key] == (0, "fingerprint")
    assert result.assignments[c.key] == (1, "solo")
    assert result.new_users == 2
    assert result.links[("fingerprint", "fp1")].first_network == "192.0.2.0/24"


def test_known_fingerprint_joins_its_owner() -> None:
    owner = uuid.uuid4()
    v = visit("fp1")
    result = resolve_visits(
        [v], {("fingerprint", "fp1"): Link(owner, "active", "192.0.2.0/24")}, {}
    )
    assert result.assignments[v.key] == (owner, "fingerprint") and result.new_users == 0


def test_concurrent_use_from_another_network_shares_the_fingerprint_and_splits_the_owner() -> None:
    owner = uuid.uuid4()
    home, away = "192.0.2.0/24", "198.51.100.0/24"
    stored_home = OwnedSession((uuid.uuid4(), MONTH), owner, "fp1", home)
    stored_away = OwnedSession((uuid.uuid4(), MONTH), owner, "fp1", away)
    v = visit("fp1", away, concurrent=True)
    links = {("fingerprint", "fp1"): Link(owner, "active", home)}
    result = resolve_visits([v], links, {}, [stored_home, stored_away])
    assert result.newly_shared == {"fp1": "concurrent_networks"}
    assert result.links[("fingerprint", "fp1")].state == "shared"
    assert result.links[net_key("fp1", home)].user == owner
    # The owner keeps home; the visit and the earlier away session become the away person.
    assert stored_home.key not in result.moved
    assert result.moved[stored_away.key] == result.assignments[v.key] == (0, "network")


def test_too_many_networks_shares_the_fingerprint() -> None:
    owner = uuid.uuid4()
    nets = {f"10.0.{i}.0/24" for i in range(MAX_NETWORKS)}
    v = visit("fp1", "10.99.0.0/24")
    result = resolve_visits(
        [v], {("fingerprint", "fp1"): Link(owner, "active", "10.0.0.0/24")}, {"fp1": nets}
    )
    assert result.newly_shared == {"fp1": "many_networks"}


def test_shared_fingerprint_without_network_gives_a_person_per_visit() -> None:
    v1, v2 = visit("fp1", ""), visit("fp1", "")
    result = resolve_visits([v1, v2], {("fingerprint", "fp1"): Link(None, "shared")}, {})
    assert result.assignments[v1.key] != result.assignments[v2.key]


def test_strong_identifiers_given_together_merge_their_owners_into_the_oldest() -> None:
    older, newer = person(0, email="a@x.com"), person(5, phone="+14195550134")
    links = {("email", "a@x.com"): Link(older.id), ("phone", "+14195550134"): Link(newer.id)}
    tie = decide_tie(
        [("email", "a@x.com"), ("phone", "+14195550134")], links, {older.id: older, newer.id: newer}
    )
    assert tie.person == older.id and tie.merged == [(newer.id, ("phone", "+14195550134"))]


def test_different_external_ids_never_merge() -> None:
    a, b = (
        person(0, external_id="crm-1", email="a@x.com"),
        person(1, external_id="crm-2", phone="+14195550134"),
    )
    links = {("email", "a@x.com"): Link(a.id), ("phone", "+14195550134"): Link(b.id)}
    tie = decide_tie([("email", "a@x.com"), ("phone", "+14195550134")], links, {a.id: a, b.id: b})
    assert tie.person == a.id and tie.merged == [] and tie.shared == [("phone", "+14195550134")]


def test_a_fingerprint_never_merges_people_with_different_emails() -> None:
    alice = person(0, email="alice@x.com")
    tie = decide_tie(
        [("email", "bob@x.com")],
        {},
        {alice.id: alice},
        [WeakCandidate(alice.id, ("fingerprint", "fp"))],
    )
    assert tie.person is None and tie.rejected and tie.link == [("email", "bob@x.com")]


def test_an_anonymous_visitor_joins_the_person_who_identifies() -> None:
    anon, known = person(0), person(9, email="a@x.com")
    tie = decide_tie(
        [("email", "a@x.com")],
        {("email", "a@x.com"): Link(known.id)},
        {anon.id: anon, known.id: known},
        [WeakCandidate(anon.id, ("session", "s"))],
    )
    assert tie.person == anon.id and tie.merged == [(known.id, ("email", "a@x.com"))]


def test_email_only_and_phone_only_do_not_contradict() -> None:
    a = person(0, email="a@x.com")
    tie = decide_tie(
        [("phone", "+14195550134")], {}, {a.id: a}, [WeakCandidate(a.id, ("session", "s"))]
    )
    assert tie.person == a.id and tie.link == [("phone", "+14195550134")]


def test_an_identified_owner_keeps_only_networks_it_identified_on() -> None:
    owner = uuid.uuid4()
    first, identified_net, other = "100.64.1.0/24", "192.0.2.0/24", "198.51.100.0/24"
    by_someone_else = OwnedSession((uuid.uuid4(), MONTH), owner, "fp1", first)
    anchor = OwnedSession((uuid.uuid4(), MONTH), owner, "fp1", identified_net, "identify")
    weak_same_net = OwnedSession((uuid.uuid4(), MONTH), owner, "fp1", identified_net)
    v = visit("fp1", other, concurrent=True)
    links = {("fingerprint", "fp1"): Link(owner, "active", first)}
    result = resolve_visits(
        [v], links, {}, [by_someone_else, anchor, weak_same_net], frozenset({owner})
    )
    # The first visitor's session leaves the identified owner; its identified network stays.
    assert result.moved[by_someone_else.key][1] == "network"
    assert anchor.key not in result.moved and weak_same_net.key not in result.moved
    assert result.links[net_key("fp1", identified_net)].user == owner
    assert (
        net_key("fp1", first) in result.links and result.links[net_key("fp1", first)].user != owner
    )
