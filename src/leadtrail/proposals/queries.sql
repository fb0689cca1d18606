-- Optimisation proposals, their transitions, the friction rows the generator reads, and the
-- conversion_impact report.

-- name: insert_proposal
INSERT INTO optimization_history (site_id, proposal_id, friction_point, component_id, page_url,
                                  change_description, proposed_changes, ai_confidence,
                                  expected_impact, pr_url, pr_number, source, rule, explanation,
                                  metadata, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
ON CONFLICT (site_id, proposal_id) DO NOTHING
RETURNING *;

-- name: insert_transition
INSERT INTO proposal_transitions (site_id, proposal_id, from_status, to_status, actor, reason, at)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: get_proposal
SELECT * FROM optimization_history WHERE site_id = $1 AND proposal_id = $2;

-- name: get_proposal_for_update
SELECT * FROM optimization_history WHERE site_id = $1 AND proposal_id = $2 FOR UPDATE;

-- name: list_proposals
SELECT * FROM optimization_history
WHERE site_id = $1 AND ($2::text IS NULL OR status = $2)
ORDER BY created_at DESC, proposal_id
LIMIT 500;

-- name: transitions
SELECT from_status, to_status, actor, reason, at FROM proposal_transitions
WHERE site_id = $1 AND proposal_id = $2
ORDER BY at, id;

-- name: move
-- $4: the timestamp column to set is chosen by the caller among constant names (see service)
UPDATE optimization_history
SET status = $3,
    updated_at = $4,
    approved_at = CASE WHEN $3 = 'approved' THEN $4 ELSE approved_at END,
    implemented_at = CASE WHEN $3 = 'implemented' THEN $4 ELSE implemented_at END,
    tested_at = CASE WHEN $3 = 'testing' THEN $4 ELSE tested_at END,
    deployed_at = CASE WHEN $3 = 'deployed' THEN $4 ELSE deployed_at END,
    rollback_reason = CASE WHEN $3 = 'rolled_back' THEN $5 ELSE rollback_reason END,
    test_id = coalesce($6, test_id)
WHERE site_id = $1 AND proposal_id = $2
RETURNING *;

-- name: set_pr
UPDATE optimization_history
SET pr_url = coalesce($3, pr_url), pr_number = coalesce($4, pr_number), updated_at = $5
WHERE site_id = $1 AND proposal_id = $2
RETURNING *;

-- name: test_exists
SELECT status FROM a_b_tests WHERE site_id = $1 AND test_id = $2;

-- name: record_outcome
-- A completed experiment's measured relative lift becomes its proposals' actual impact.
UPDATE optimization_history
SET actual_impact = $3, updated_at = $4
WHERE site_id = $1 AND test_id = $2 AND status = 'testing'
RETURNING proposal_id;

-- name: impact_report
SELECT proposal_id, friction_point, component_id, page_url, status, expected_impact,
       actual_impact, impact_gap, test_id, test_status, winner_variant, pr_url, pr_number,
       optimization_date, deployed_at
FROM conversion_impact
WHERE site_id = $1
ORDER BY optimization_date DESC, proposal_id
LIMIT 1000;

-- name: friction
-- Friction rows for the generator over [$2, $3): see proposals/rules.py for their meaning.
WITH ev AS (
    SELECT e.session_id, e.event_category, e.event_action, e.event_label,
           split_part(split_part(e.url, '#', 1), '?', 1) AS page, e.metadata ->> 'field' AS field
    FROM events e
    WHERE e.site_id = $1 AND e.created_at >= $2 AND e.created_at < $3
),
page_sessions AS (
    SELECT page, count(DISTINCT session_id) AS n FROM ev GROUP BY page
),
converted AS (
    SELECT DISTINCT page, session_id FROM ev WHERE event_category = 'conversion'
    UNION
    SELECT DISTINCT split_part(split_part(s.entry_page, '#', 1), '?', 1), l.session_id
    FROM leads l JOIN sessions s ON s.site_id = l.site_id AND s.id = l.session_id
    WHERE l.site_id = $1 AND l.submitted_at >= $2 AND l.submitted_at < $3
),
rows AS (
    SELECT 'rage_click' AS kind, page, coalesce(event_label, '') AS element, NULL::text AS field,
           count(DISTINCT session_id) AS sessions, count(*) AS events, 0::bigint AS converted
    FROM ev WHERE event_action = 'rage_click' GROUP BY page, event_label
    UNION ALL
    SELECT 'form_abandon', page, coalesce(event_label, 'form'), field,
           count(DISTINCT session_id), count(*), 0
    FROM ev WHERE event_action = 'form_abandon' GROUP BY page, event_label, field
    UNION ALL
    SELECT 'hesitation', ev.page, coalesce(ev.event_label, ''), NULL,
           count(DISTINCT ev.session_id), count(*),
           count(DISTINCT c.session_id)
    FROM ev LEFT JOIN converted c ON c.session_id = ev.session_id
    WHERE ev.event_action IN ('hover_intent', 'hesitation')
    GROUP BY ev.page, ev.event_label
    UNION ALL
    SELECT 'js_error', ev.page, coalesce(ev.event_label, ''), NULL,
           count(DISTINCT ev.session_id), count(*),
           (SELECT count(DISTINCT c.session_id) FROM converted c WHERE c.page = ev.page)
    FROM ev WHERE ev.event_category = 'system' AND ev.event_action = 'js_error'
    GROUP BY ev.page, ev.event_label
)
SELECT r.kind, r.page, r.element, r.field, r.sessions, r.events, r.converted,
       coalesce(p.n, 0) AS page_sessions,
       sum(r.sessions) FILTER (WHERE r.kind = 'form_abandon')
           OVER (PARTITION BY r.kind, r.page, r.element) AS form_total
FROM rows r LEFT JOIN page_sessions p ON p.page = r.page
ORDER BY r.sessions DESC
LIMIT 5000;
