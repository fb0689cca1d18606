"""What the writer remembers of a session between batches, in a bounded LRU."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from uuid import UUID

#: (site id, session id)
SessionKey = tuple[UUID, UUID]


@dataclass(slots=True)
class SessionState:
    created_month: date
    #: the visit came from Google search (+5 on every event)
    google_referrer: bool
    #: this fingerprint had an ad click id in an earlier session (+25 on every event)
    returning_ad_user: bool
    #: first-touch label of the session
    attribution: str
    lead_score: int
    #: already longer than 300 s with more than 5 actions (``session.high_value`` was sent)
    high_value: bool = False


class SessionCache:
    """Recently written sessions, so their next batches skip the lookup."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._items: OrderedDict[SessionKey, SessionState] = OrderedDict()

    def get(self, key: SessionKey) -> SessionState | None:
        state = self._items.get(key)
        if state is not None:
            self._items.move_to_end(key)
        return state

    def put(self, key: SessionKey, state: SessionState) -> None:
        self._items[key] = state
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    def forget(self, keys: list[SessionKey]) -> None:
        for key in keys:
            self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)
