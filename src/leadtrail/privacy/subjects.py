"""Who a privacy request is about: from one identifier to every identifier of the person.

A request names a person id, an e-mail, a phone, a fingerprint or a session id. The person is
found through the identity graph; then everything that identifies them is gathered: every
person merged into them, their sessions (and sessions sharing their fingerprints), their
fingerprints, e-mails, phones and external ids. Erasure and export then work from that set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from leadtrail.errors import BadRequest, NotFound
from leadtrail.identity import normalize
from leadtrail.storage import Connection
from leadtrail.storage.queries import load

Q = load("leadtrail.privacy")
#: how a request may name its subject
SUBJECT_KINDS = ("person", "email", "phone", "fingerprint", "session")


@dataclass
class Identifiers:
    """Everything that identifies one person on one site."""

    people: set[UUID] = field(default_factory=set)
    sessions: set[UUID] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    external_ids: set[str] = field(default_factory=set)

    def texts(self) -> set[str]:
        """Every identifier as text (what a search of stored text looks for)."""
        return {
            *map(str, self.people),
            *map(str, self.sessions),
            *self.fingerprints,
            *self.emails,
            *self.phones,
            *self.external_ids,
        }


def _uuid(value: str, kind: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise BadRequest(f"{value!r} is not a {kind} id", code="invalid_subject") from None


async def resolve(
    conn: Connection, site_id: UUID, kind: str, value: str, *, region: str | None = None
) -> Identifiers:
    """Every identifier of the person ``kind``/``value`` names; NotFound if none is stored."""
    if kind not in SUBJECT_KINDS:
        raise BadRequest(
            f"subject kind must be one of {', '.join(SUBJECT_KINDS)}", code="invalid_subject"
        )
    found = Identifiers()
    person: UUID | None = None
    if kind == "person":
        person = _uuid(value, kind)
    elif kind == "session":
        session = _uuid(value, kind)
        found.sessions.add(session)
        person = await conn.fetchval(Q.person_of_session, site_id, session)
    else:
        if kind == "email":
            value = normalize.email(value, field="value")
            found.emails.add(value)
        elif kind == "phone":
            value = normalize.phone(value, region, field="value")
            found.phones.add(value)
        else:
            value = value.strip()
            found.fingerprints.add(value)
        person = await conn.fetchval(Q.person_of_link, site_id, kind, value)
    if person is not None:
        found.people.update(r["id"] for r in await conn.fetch(Q.person_family, site_id, person))
    for row in await conn.fetch(Q.links_of_people, site_id, list(found.people)):
        bucket = {
            "email": found.emails,
            "phone": found.phones,
            "fingerprint": found.fingerprints,
            "external_id": found.external_ids,
        }.get(row["kind"])
        if bucket is not None:
            bucket.add(row["value"])
    sessions = await conn.fetch(
        Q.sessions_of, site_id, list(found.people), list(found.sessions), list(found.fingerprints)
    )
    found.sessions.update(r["id"] for r in sessions)
    found.fingerprints.update(r["fingerprint"] for r in sessions if r["fingerprint"])
    for row in await conn.fetch(Q.contacts_of, site_id, list(found.people), list(found.sessions)):
        if row["email"]:
            found.emails.add(row["email"])
        if row["phone"]:
            found.phones.add(row["phone"])
    if not (found.people or sessions or await _mentioned(conn, site_id, found)):
        raise NotFound(f"nothing is stored about that {kind}", code="subject_not_found")
    return found


async def _mentioned(conn: Connection, site_id: UUID, found: Identifiers) -> bool:
    return bool(
        await conn.fetchval(Q.subject_mentioned, site_id, list(found.emails), list(found.phones))
    )
