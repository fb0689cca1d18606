-- Outbound webhooks: endpoints per site, a transactional outbox, deliveries and attempts.
--
-- The outbox row is written in the same transaction as the fact (a lead, a call, a session
-- crossing a threshold), so a rolled-back fact sends nothing and a committed one is never
-- lost. The sender (on the scheduler's leader) moves outbox rows into one delivery per
-- subscribed endpoint and sends them; a delivery's id is its `webhook-id`, the same on every
-- retry, so a receiver dedupes anything sent twice.

CREATE TABLE webhook_endpoints (
    site_id            uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    url                text NOT NULL,
    description        text,
    events             text[] NOT NULL,
    -- 'standard' (Standard Webhooks JSON) or 'slack' (a Slack incoming-webhook message)
    format             text NOT NULL DEFAULT 'standard' CHECK (format IN ('standard', 'slack')),
    -- the whsec_ signing secret, encrypted with a key derived from the server's secret key
    secret_ciphertext  bytea NOT NULL,
    max_concurrency    integer NOT NULL DEFAULT 4 CHECK (max_concurrency BETWEEN 1 AND 64),
    enabled            boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);

CREATE TABLE webhook_outbox (
    site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    -- deterministic for threshold events (one per session), random otherwise
    id          uuid NOT NULL DEFAULT gen_random_uuid(),
    event_type  text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (site_id, id)
);
CREATE INDEX webhook_outbox_created_idx ON webhook_outbox (created_at);

CREATE TABLE webhook_deliveries (
    site_id          uuid NOT NULL,
    -- the webhook-id header: derived from (endpoint, event), stable across retries
    id               uuid NOT NULL,
    endpoint_id      uuid NOT NULL,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    payload          jsonb NOT NULL,
    -- 'pending', 'delivered', 'dead' (gave up after the retry window)
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    -- when the fact was committed: commit-to-receiver latency and the retry window start here
    event_at         timestamptz NOT NULL,
    -- retries stop 24 h (LEADTRAIL_WEBHOOK_RETRY_WINDOW) after this; a replay resets it
    window_start     timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    last_status      integer,
    last_error       text,
    PRIMARY KEY (site_id, id),
    FOREIGN KEY (site_id, endpoint_id) REFERENCES webhook_endpoints (site_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx
    ON webhook_deliveries (site_id, endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    site_id       uuid NOT NULL,
    id            uuid NOT NULL DEFAULT gen_random_uuid(),
    delivery_id   uuid NOT NULL,
    endpoint_id   uuid NOT NULL,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    duration_ms   double precision NOT NULL,
    status_code   integer,
    error         text,
    PRIMARY KEY (site_id, id),
    FOREIGN KEY (site_id, delivery_id) REFERENCES webhook_deliveries (site_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (site_id, delivery_id);

SELECT leadtrail.apply_tenant_policy(t)
FROM unnest(ARRAY['webhook_endpoints', 'webhook_outbox', 'webhook_deliveries',
                  'webhook_attempts']::regclass[]) AS t;
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_outbox FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;

-- Whoever writes a fact writes its outbox row; only admins manage endpoints and replay.
GRANT INSERT ON webhook_outbox TO leadtrail_ingest, leadtrail_admin, leadtrail_writer;
GRANT SELECT ON webhook_endpoints, webhook_deliveries, webhook_attempts TO leadtrail_analyst;
GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints TO leadtrail_admin;
GRANT SELECT, UPDATE ON webhook_deliveries TO leadtrail_admin;
GRANT SELECT ON webhook_attempts TO leadtrail_admin;
