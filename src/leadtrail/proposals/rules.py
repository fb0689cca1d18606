"""The proposal generator: documented rules, as data, over friction rows the SQL aggregates.

A friction row describes one place where visitors struggled in the period:

- ``rage_click``: rage clicks on ``element`` of ``page`` (the tracker reports a bare tag name,
  e.g. ``IMG``, when the clicked element is not interactive);
- ``form_abandon``: forms left unsent, ``element`` the form, ``field`` the last field touched;
- ``hesitation``: long hovers (``hover_intent``/``hesitation``) on a call-to-action
  ``element``; ``converted`` says how many of those sessions converted;
- ``js_error``: JavaScript errors ``element`` on ``page``; ``converted`` counts sessions that
  converted on that page (a conversion page has some).

Each rule turns qualifying rows into a proposal with a confidence (how sure the data is: more
affected sessions and a stronger signal give more) and an expected impact (the share of the
page's sessions affected times the share the rule expects a fix to recover), both explained in
words. Rules are plain values in ``RULES``; adding one is adding an entry.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Friction:
    kind: str
    page: str
    element: str
    sessions: int
    page_sessions: int
    events: int = 0
    field: str | None = None
    #: sessions among the affected ones that converted (hesitation, js_error)
    converted: int = 0
    #: form_abandon: all abandons of this form (over every field)
    form_total: int = 0


@dataclass(frozen=True)
class Candidate:
    proposal_id: str
    rule: str
    friction_point: str
    component_id: str
    page_url: str
    change_description: str
    proposed_changes: dict[str, Any]
    confidence: float
    expected_impact: float
    explanation: str


_TAG = re.compile(r"^[A-Z][A-Z0-9-]*$")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    #: rows below this many affected sessions are noise
    min_sessions: int
    #: share of the affected sessions a fix is expected to recover
    recovery: float
    #: extra condition on a row, and how strong the signal is (0..1)
    applies: Callable[[Friction], bool]
    strength: Callable[[Friction], float]
    friction_point: str
    change: str
    changes: Callable[[Friction], dict[str, Any]] = field(default=lambda f: {})


RULES: tuple[Rule, ...] = (
    Rule(
        name="rage_click_not_interactive",
        kind="rage_click",
        min_sessions=5,
        recovery=0.3,
        applies=lambda f: bool(_TAG.match(f.element)),
        strength=lambda f: 1.0,
        friction_point="Visitors rage-click {element} on {page}, which does nothing",
        change="Make {element} on {page} do what visitors expect (link it or turn it into a button), or stop it looking clickable",
        changes=lambda f: {"action": "make_interactive_or_restyle", "element": f.element},
    ),
    Rule(
        name="form_field_abandon",
        kind="form_abandon",
        min_sessions=5,
        recovery=0.25,
        applies=lambda f: (
            f.field is not None and f.form_total > 0 and f.sessions / f.form_total >= 0.4
        ),
        strength=lambda f: f.sessions / f.form_total if f.form_total else 0.0,
        friction_point="Most abandons of form {element} on {page} happen at field {field}",
        change="Simplify, make optional or explain field {field} of form {element} on {page}",
        changes=lambda f: {"action": "simplify_field", "form": f.element, "field": f.field},
    ),
    Rule(
        name="cta_hesitation",
        kind="hesitation",
        min_sessions=10,
        recovery=0.15,
        applies=lambda f: f.sessions > 0 and f.converted / f.sessions < 0.2,
        strength=lambda f: 1 - f.converted / f.sessions if f.sessions else 0.0,
        friction_point="Visitors hesitate over {element} on {page} and rarely go on",
        change="Make the call to action {element} on {page} clearer (wording, price or next step shown next to it)",
        changes=lambda f: {"action": "clarify_cta", "element": f.element},
    ),
    Rule(
        name="js_error_on_conversion_page",
        kind="js_error",
        min_sessions=3,
        recovery=0.5,
        applies=lambda f: f.converted > 0,
        strength=lambda f: 1.0,
        friction_point="JavaScript error {element!r} on conversion page {page}",
        change="Fix the JavaScript error {element!r} on {page}",
        changes=lambda f: {"action": "fix_js_error", "message": f.element},
    ),
)


def _confidence(sessions: int, strength: float) -> float:
    # more affected sessions, more certainty; never above 0.95 from counts alone
    return round(min(0.95, (1 - math.exp(-sessions / 50)) * max(0.0, min(strength, 1.0))), 2)


def _fmt(template: str, f: Friction) -> str:
    return template.format(element=f.element, page=f.page, field=f.field)


def _id(rule: Rule, f: Friction) -> str:
    digest = hashlib.sha256(f"{f.page}\x00{f.element}\x00{f.field}".encode()).hexdigest()[:16]
    return f"gen:{rule.name}:{digest}"


def evaluate(rows: Iterable[Friction], rules: tuple[Rule, ...] = RULES) -> list[Candidate]:
    """Every proposal the rules make from ``rows``, most expected impact first."""
    out = []
    for f in rows:
        for rule in rules:
            if f.kind != rule.kind or f.sessions < rule.min_sessions or not rule.applies(f):
                continue
            share = f.sessions / f.page_sessions if f.page_sessions else 0.0
            share = min(share, 1.0)
            impact = round(min(1.0, share * rule.recovery), 2)
            confidence = _confidence(f.sessions, rule.strength(f))
            explanation = (
                f"{f.sessions} of {f.page_sessions} sessions on {f.page} ({share:.0%}) met this "
                f"({f.events or f.sessions} events). If a fix recovers {rule.recovery:.0%} of them, "
                f"conversions on the page could rise by about {impact:.0%}. Confidence {confidence:.2f} "
                f"grows with the number of affected sessions"
                + (
                    f" and the strength of the signal ({rule.strength(f):.0%})."
                    if rule.strength(f) < 1
                    else "."
                )
            )
            out.append(
                Candidate(
                    proposal_id=_id(rule, f),
                    rule=rule.name,
                    friction_point=_fmt(rule.friction_point, f)[:500],
                    component_id=f.element[:200],
                    page_url=f.page,
                    change_description=_fmt(rule.change, f)[:1000],
                    proposed_changes=rule.changes(f),
                    confidence=confidence,
                    expected_impact=impact,
                    explanation=explanation,
                )
            )
    return sorted(out, key=lambda c: (-c.expected_impact, -c.confidence, c.proposal_id))
