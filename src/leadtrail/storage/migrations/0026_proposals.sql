-- Optimisation proposals (seed 001's optimization_history) as a state machine, every
-- transition kept, and the conversion_impact report (expected vs measured impact).

CREATE TABLE optimization_history (
    site_id            uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    proposal_id        text NOT NULL CHECK (proposal_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$'),
    -- 'deployed' is the issue's addition to the seed's list
    status             text NOT NULL DEFAULT 'proposed' CHECK (status IN (
                           'proposed', 'approved', 'rejected', 'implemented', 'testing',
                           'deployed', 'rolled_back', 'archived')),
    friction_point     text NOT NULL,
    component_id       text,
    page_url           text,
    change_description text NOT NULL,
    proposed_changes   jsonb NOT NULL DEFAULT '{}',
    ai_confidence      numeric(3, 2) CHECK (ai_confidence >= 0 AND ai_confidence <= 1),
    expected_impact    numeric(3, 2) CHECK (expected_impact >= 0 AND expected_impact <= 1),
    -- the measured relative lift: unlike the seed's 0..1 column it may be negative
    actual_impact      numeric(8, 4),
    pr_url             text,
    pr_number          integer CHECK (pr_number > 0),
    -- the experiment testing it (a_b_tests.test_id), set on the move to 'testing'
    test_id            text,
    -- 'generator' (rule-based, see proposals/rules.py) or 'api' (a person, an AI)
    source             text NOT NULL DEFAULT 'api',
    rule               text,
    explanation        text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    approved_at        timestamptz,
    implemented_at     timestamptz,
    tested_at          timestamptz,
    deployed_at        timestamptz,
    rollback_reason    text,
    metadata           jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, id),
    UNIQUE (site_id, proposal_id)
);
CREATE INDEX optimization_history_site_status_idx ON optimization_history (site_id, status);
CREATE INDEX optimization_history_site_created_idx ON optimization_history (site_id, created_at);
CREATE INDEX optimization_history_site_test_idx ON optimization_history (site_id, test_id)
    WHERE test_id IS NOT NULL;

CREATE TABLE proposal_transitions (
    site_id     uuid NOT NULL,
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    proposal_id text NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    reason      text,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id),
    FOREIGN KEY (site_id, proposal_id) REFERENCES optimization_history (site_id, proposal_id)
        ON DELETE CASCADE
);
CREATE INDEX proposal_transitions_proposal_idx ON proposal_transitions (site_id, proposal_id, at);

-- Expected vs measured impact per proposal. security_invoker: the caller's RLS applies.
CREATE VIEW conversion_impact WITH (security_invoker = true) AS
SELECT oh.site_id, oh.proposal_id, oh.friction_point, oh.component_id, oh.page_url,
       oh.status, oh.expected_impact, oh.actual_impact,
       oh.actual_impact - oh.expected_impact AS impact_gap,
       oh.test_id, t.status AS test_status, t.winner_variant,
       oh.pr_url, oh.pr_number, oh.created_at AS optimization_date, oh.deployed_at
FROM optimization_history oh
LEFT JOIN a_b_tests t ON t.site_id = oh.site_id AND t.test_id = oh.test_id;

ALTER TABLE optimization_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE optimization_history FORCE ROW LEVEL SECURITY;
ALTER TABLE proposal_transitions ENABLE ROW LEVEL SECURITY;
ALTER TABLE proposal_transitions FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY['optimization_history', 'proposal_transitions']::regclass[]) AS t;

GRANT SELECT ON optimization_history, proposal_transitions, conversion_impact TO leadtrail_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON optimization_history, proposal_transitions TO leadtrail_admin;
GRANT SELECT ON conversion_impact TO leadtrail_admin;
-- a completed experiment fills its proposal's actual_impact from the experiments job
GRANT SELECT, UPDATE ON optimization_history TO leadtrail_writer;
GRANT SELECT, INSERT ON proposal_transitions TO leadtrail_writer;
