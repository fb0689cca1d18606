"""Identity rules (pure): which sessions are one person, and when two people merge.

Precision comes first; ``docs/identity.md`` explains each rule in prose.

* Strong identifiers (``external_id``, ``email``, ``phone``) given together in one identify
  call, lead or call are one person: their owners merge (union-find). The one exception:
  two people with *different* external ids are two accounts and never merge; the tying
  identifier is marked shared instead.
* A weak signal (the session the call came from, its fingerprint) only joins a person when
  it does not contradict them: a fingerprint never merges two people who gave different
  emails, phones or external ids.
* A fingerprint links new sessions to its owner until it proves to be shared: seen from two
  networks at once, from more than ``MAX_NETWORKS`` networks, or by two people who
  contradict each other. From then on it only links sessions within one network
  (``fingerprint_net``), and the owner's sessions from other networks are split off.
* The IP address alone never links anything (offices, households, mobile carriers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

STRONG_KINDS = ("external_id", "email", "phone")
#: A fingerprint seen from more networks than this (within ``NETWORK_LOOKBACK_DAYS``) is
#: taken to be shared by identical devices.
MAX_NETWORKS = 6
NETWORK_LOOKBACK_DAYS = 30
#: Sessions of one fingerprint count as simultaneous when they overlap within this margin.
CONCURRENCY_SLACK_SECONDS = 60

SessionKey = tuple[UUID, date]
#: An existing person (UUID) or the n-th person to create (int).
UserRef = UUID | int
IdKey = tuple[str, str]


@dataclass
class Link:
    """One identifier's row in the identity graph."""

    user: UserRef | None
    state: str = "active"  # active | shared
    first_network: str | None = None
    reason: str | None = None

    @property
    def owner(self) -> UserRef | None:
        return self.user if self.state == "active" else None


def net_key(fingerprint: str, network: str) -> IdKey:
    return ("fingerprint_net", f"{fingerprint}@{network}")


# -- the background resolver: sessions -> people by fingerprint ---------------------------


@dataclass(frozen=True)
class Visit:
    """A session waiting for a person."""

    key: SessionKey
    fingerprint: str | None
    network: str
    #: another session with this fingerprint was active at the same time from another network
    concurrent_elsewhere: bool = False


#: how a session was tied to its person by what it typed (identify, lead) or a call
STRONG_VIAS = frozenset({"identify", "lead", "call"})


@dataclass(frozen=True)
class OwnedSession:
    """A stored session of a fingerprint's owner: joined through the fingerprint (a
    candidate for a split) or identified (anchoring its network to the owner)."""

    key: SessionKey
    user: UUID
    fingerprint: str
    network: str
    via: str = "fingerprint"


@dataclass
class Resolution:
    assignments: dict[SessionKey, tuple[UserRef, str]] = field(default_factory=dict)
    new_users: int = 0
    #: final state of every link the batch created or changed
    links: dict[IdKey, Link] = field(default_factory=dict)
    #: fingerprints that turned shared in this batch -> reason
    newly_shared: dict[str, str] = field(default_factory=dict)
    #: stored sessions moved off a shared fingerprint's owner
    moved: dict[SessionKey, tuple[UserRef, str]] = field(default_factory=dict)


class _Graph:
    """Links as they evolve while a batch is decided."""

    def __init__(self, links: Mapping[IdKey, Link], result: Resolution) -> None:
        self._links = dict(links)
        self.result = result

    def get(self, key: IdKey) -> Link | None:
        return self._links.get(key)

    def put(self, key: IdKey, link: Link) -> None:
        self._links[key] = link
        self.result.links[key] = link

    def new_user(self) -> int:
        self.result.new_users += 1
        return self.result.new_users - 1

    def by_network(self, fingerprint: str, network: str) -> tuple[UserRef, str]:
        """The person of a shared fingerprint within one network, created on first sight."""
        if not network:
            return self.new_user(), "solo"
        key = net_key(fingerprint, network)
        link = self.get(key)
        if link is None:
            user = self.new_user()
            self.put(key, Link(user, "active", network))
            return user, "network"
        if link.owner is not None:
            return link.owner, "network"
        return self.new_user(), "solo"


def _share(
    graph: _Graph,
    fp: str,
    link: Link,
    reason: str,
    owned: Iterable[OwnedSession],
    visits: Mapping[SessionKey, Visit],
    identified: bool,
) -> None:
    """Turn a fingerprint shared. Its owner keeps the networks where it identified itself on
    this fingerprint; an anonymous owner keeps the network the fingerprint was first seen
    in. The sessions it got through the fingerprint from other networks go to that
    network's person: an identified owner keeps nothing it got by fingerprint alone."""
    result = graph.result
    owner = link.owner
    graph.put(("fingerprint", fp), Link(owner, "shared", link.first_network, reason))
    result.newly_shared[fp] = reason
    if owner is None:
        return
    owned = list(owned)
    keep = {o.network for o in owned if o.user == owner and o.via in STRONG_VIAS and o.network}
    if not keep and not identified and link.first_network:
        keep = {link.first_network}
    for network in sorted(keep):
        if graph.get(net_key(fp, network)) is None:
            graph.put(net_key(fp, network), Link(owner, "active", network))
    for stored in owned:
        if stored.user == owner and stored.via == "fingerprint" and stored.network not in keep:
            result.moved[stored.key] = graph.by_network(fp, stored.network)
    for key, (user, via) in list(result.assignments.items()):
        visit = visits[key]
        if via == "fingerprint" and user == owner and visit.fingerprint == fp:
            if visit.network not in keep:
                result.assignments[key] = graph.by_network(fp, visit.network)


def split_fingerprint(
    fp: str,
    link: Link,
    reason: str,
    owned: Iterable[OwnedSession],
    links: Mapping[IdKey, Link],
    identified: bool,
) -> Resolution:
    """The same split when an identify call shows two people behind one fingerprint."""
    result = Resolution()
    _share(_Graph(links, result), fp, link, reason, owned, {}, identified)
    return result


def resolve_visits(
    visits: Iterable[Visit],
    links: Mapping[IdKey, Link],
    networks: Mapping[str, set[str]],
    owned: Iterable[OwnedSession] = (),
    identified: frozenset[UUID] = frozenset(),
) -> Resolution:
    """Decide a person for each visit, in order.

    ``links`` holds the current rows for the visits' fingerprints (and their
    ``fingerprint_net`` keys), ``networks`` the networks each fingerprint was seen from
    recently, ``owned`` the stored sessions of the fingerprints' owners (to split when a
    fingerprint turns out to be shared), ``identified`` the owners with strong identifiers.
    """
    result = Resolution()
    graph = _Graph(links, result)
    seen = {fp: set(nets) for fp, nets in networks.items()}
    by_fp: dict[str, list[OwnedSession]] = {}
    _visits: dict[SessionKey, Visit] = {}
    for session in owned:
        by_fp.setdefault(session.fingerprint, []).append(session)

    def mark_shared(fp: str, link: Link, reason: str) -> None:
        _share(graph, fp, link, reason, by_fp.get(fp, []), _visits, link.owner in identified)

    for visit in visits:
        _visits[visit.key] = visit
        fp = visit.fingerprint
        if not fp:
            result.assignments[visit.key] = (graph.new_user(), "solo")
            continue
        nets = seen.setdefault(fp, set())
        if visit.network:
            nets.add(visit.network)
        link = graph.get(("fingerprint", fp))
        if link is None:
            user = graph.new_user()
            graph.put(("fingerprint", fp), Link(user, "active", visit.network or None))
            result.assignments[visit.key] = (user, "fingerprint")
            continue
        if link.state == "active":
            if visit.concurrent_elsewhere:
                mark_shared(fp, link, "concurrent_networks")
            elif len(nets) > MAX_NETWORKS:
                mark_shared(fp, link, "many_networks")
            elif link.owner is not None:
                result.assignments[visit.key] = (link.owner, "fingerprint")
                continue
        result.assignments[visit.key] = graph.by_network(fp, visit.network)
    return result


# -- ties: identify calls, leads, calls ----------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What the rules need to know about an existing person."""

    id: UUID
    created_at: datetime
    identifiers: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class WeakCandidate:
    """A person reached through the session or the fingerprint, not through what was typed."""

    user: UUID
    evidence: IdKey  # ("session", id) or ("fingerprint", value) ...


@dataclass
class Tie:
    #: the person everything ends up with; None means "create one"
    person: UUID | None
    #: people merged into ``person``, each with the identifier that tied it
    merged: list[tuple[UUID, IdKey]] = field(default_factory=list)
    #: identifiers to point at the person (new or moved from nobody)
    link: list[IdKey] = field(default_factory=list)
    #: identifiers that turned out to belong to two people
    shared: list[IdKey] = field(default_factory=list)
    #: weak candidates that contradict the person: kept apart
    rejected: list[WeakCandidate] = field(default_factory=list)


def _ids(profile: Profile) -> dict[str, set[str]]:
    return {k: set(v) for k, v in profile.identifiers.items() if v}


def contradicts(
    a: Mapping[str, set[str] | frozenset[str]],
    b: Mapping[str, set[str] | frozenset[str]],
    kinds: Iterable[str],
) -> bool:
    """Both have values of one kind and share none of them."""
    return any(a.get(k) and b.get(k) and not (set(a[k]) & set(b[k])) for k in kinds)


def decide_tie(
    given: list[IdKey],
    links: Mapping[IdKey, Link],
    profiles: Mapping[UUID, Profile],
    weak: Iterable[WeakCandidate] = (),
) -> Tie:
    """Who the identifiers in ``given`` (strong, normalised) belong to, and who merges.

    ``links`` has the rows of ``given``; ``profiles`` every person they or the weak
    candidates point at.
    """
    ordered = sorted(set(given), key=lambda k: (STRONG_KINDS.index(k[0]), k[1]))
    ids: dict[str, set[str]] = {}
    for kind, value in ordered:
        ids.setdefault(kind, set()).add(value)
    members: list[UUID] = []
    evidence: dict[UUID, IdKey] = {}
    tie = Tie(person=None)
    for key in ordered:
        link = links.get(key)
        if link is None:
            tie.link.append(key)
            continue
        owner = link.owner
        if not isinstance(owner, UUID) or owner in members:
            continue
        other = _ids(profiles[owner])
        if contradicts(ids, other, ("external_id",)):
            tie.shared.append(key)
            continue
        members.append(owner)
        evidence[owner] = key
        for kind, values in other.items():
            ids.setdefault(kind, set()).update(values)
    for candidate in weak:
        if candidate.user in members:
            continue
        other = _ids(profiles[candidate.user])
        if contradicts(ids, other, STRONG_KINDS):
            tie.rejected.append(candidate)
            continue
        members.append(candidate.user)
        evidence[candidate.user] = candidate.evidence
        for kind, values in other.items():
            ids.setdefault(kind, set()).update(values)
    if members:
        survivor = min(members, key=lambda u: (profiles[u].created_at, str(u)))
        tie.person = survivor
        tie.merged = [(u, evidence[u]) for u in members if u != survivor]
    return tie
