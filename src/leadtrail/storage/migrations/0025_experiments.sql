-- Experiments (seed 001's a_b_tests and variant_assignments), generalised to two or more
-- variants, traffic allocation and targeting. Every key starts with site_id.

CREATE TABLE a_b_tests (
    site_id              uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    -- the key pages and the tracker use: leadtrail.variant('<test_id>')
    test_id              text NOT NULL CHECK (test_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    test_name            text NOT NULL,
    component_id         text,
    -- [{"name": "A", "weight": 1, "payload": {...}}, ...]; the first is the control
    variants             jsonb NOT NULL CHECK (jsonb_typeof(variants) = 'array' AND jsonb_array_length(variants) >= 2),
    -- share of eligible visitors taking part
    traffic              numeric NOT NULL DEFAULT 1 CHECK (traffic > 0 AND traffic <= 1),
    -- {"pages": ["/pricing*"], "devices": ["mobile"], "channels": [...], "visitors": "new"}
    targeting            jsonb NOT NULL DEFAULT '{}',
    -- {"type": "event" | "form_lead" | "call" | "qualified_call" | "lead_value", ...}
    goal                 jsonb NOT NULL,
    target_conversion    text NOT NULL,
    -- 'draft' before the first start (the seed has no such state: a test was live at once)
    status               text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'active', 'paused', 'completed', 'archived')),
    start_date           timestamptz,
    end_date             timestamptz,
    sample_size          integer NOT NULL DEFAULT 1000 CHECK (sample_size > 0),
    confidence_threshold numeric(3, 2) NOT NULL DEFAULT 0.95
                         CHECK (confidence_threshold >= 0.5 AND confidence_threshold < 1),
    auto_complete        boolean NOT NULL DEFAULT true,
    -- a variant's name, or 'none' when the test ended without one
    winner_variant       text,
    completed_at         timestamptz,
    -- exposures are copied from tracker events up to here (minus the tracker's replay window)
    exposures_synced_at  timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    metadata             jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, id),
    UNIQUE (site_id, test_id)
);
CREATE INDEX a_b_tests_site_status_idx ON a_b_tests (site_id, status);

-- The first exposure of each session to a test: one row per (test, session).
CREATE TABLE variant_assignments (
    site_id           uuid NOT NULL,
    test_id           text NOT NULL,
    session_id        uuid NOT NULL,
    session_month     date,
    -- who was assigned: the tracker's fingerprint, or 'person:<id>' when the person is known
    unit              text NOT NULL,
    variant           text NOT NULL,
    assigned_at       timestamptz NOT NULL,
    conversion_events jsonb NOT NULL DEFAULT '[]',
    metadata          jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (site_id, test_id, session_id),
    FOREIGN KEY (site_id, test_id) REFERENCES a_b_tests (site_id, test_id) ON DELETE CASCADE
);
CREATE INDEX variant_assignments_unit_idx ON variant_assignments (site_id, test_id, unit);

ALTER TABLE a_b_tests ENABLE ROW LEVEL SECURITY;
ALTER TABLE a_b_tests FORCE ROW LEVEL SECURITY;
ALTER TABLE variant_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE variant_assignments FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY['a_b_tests', 'variant_assignments']::regclass[]) AS t;

GRANT SELECT ON a_b_tests, variant_assignments TO leadtrail_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON a_b_tests, variant_assignments TO leadtrail_admin;
-- The experiments job (exposure copy, auto-completion) and server-side assignment run as the
-- writer, scoped to one site.
GRANT SELECT, UPDATE ON a_b_tests TO leadtrail_writer;
GRANT SELECT, INSERT ON variant_assignments TO leadtrail_writer;
