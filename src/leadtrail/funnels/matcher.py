"""How far one subject (a session or a person) got through a funnel. Pure.

``strict``: step k+1 happens after step k (later in time order). ``any``: steps 1..k all
happen, in any order. Either way all steps counted lie within the conversion window, which
starts at the earliest of them. Each touch counts for one step at most. Among all ways to
go through the funnel, the one reaching the most steps counts (ties: the earliest start).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadtrail.funnels.model import Funnel, Touch

#: candidate starts examined per subject (keeps a pathological subject cheap)
MAX_STARTS = 200


@dataclass(frozen=True)
class Progress:
    #: when each reached step was entered, in step order (len = steps reached)
    entered: tuple[datetime, ...]

    @property
    def reached(self) -> int:
        return len(self.entered)


NONE = Progress(())


def progress(funnel: Funnel, touches: Sequence[Touch]) -> Progress:
    """``touches`` in time order."""
    window = timedelta(seconds=funnel.window_seconds)
    steps = funnel.steps
    best = NONE
    starts = 0
    for i, first in enumerate(touches):
        if funnel.order == "strict":
            if not steps[0].matches(first):
                continue
            entered = [first.at]
            for touch in touches[i + 1 :]:
                if touch.at - first.at > window or len(entered) == len(steps):
                    break
                if steps[len(entered)].matches(touch):
                    entered.append(touch.at)
        else:
            if not any(s.matches(first) for s in steps):
                continue
            entered = _any_order(funnel, touches[i:], first.at + window)
        if len(entered) > best.reached:
            best = Progress(tuple(entered))
            if best.reached == len(steps):
                break
        starts += 1
        if starts >= MAX_STARTS:
            break
    return best


def _any_order(funnel: Funnel, touches: Sequence[Touch], until: datetime) -> list[datetime]:
    """Steps 1..k present among ``touches`` (first one included) up to ``until``; distinct
    touches per step (an assignment found by augmenting paths, since one touch may match
    several steps)."""
    steps = funnel.steps
    pool = [t for t in touches if t.at <= until]
    owner: dict[int, int] = {}  # touch index -> step
    chosen: dict[int, int] = {}  # step -> touch index

    def assign(step: int, seen: set[int]) -> bool:
        for ti, touch in enumerate(pool):
            if ti in seen or not steps[step].matches(touch):
                continue
            seen.add(ti)
            if ti not in owner or assign(owner[ti], seen):
                owner[ti] = step
                chosen[step] = ti
                return True
        return False

    reached = 0
    for step in range(len(steps)):
        if not assign(step, set()):
            break
        reached += 1
    # Any set found lies within [first, until], so within the window whoever starts it.
    return [pool[chosen[s]].at for s in range(reached)]
