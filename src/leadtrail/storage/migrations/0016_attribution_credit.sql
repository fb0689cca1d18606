-- Credit follows the person (issue 11): every lead and call stores the click ids and the
-- campaign/source/medium of the touch the site's attribution model credits, chosen over the
-- person's whole identity graph; calls from call-tracking providers carry their own id
-- (idempotency), the call time, the dialled number and how the call was matched.

-- TikTok and LinkedIn click ids, kept like the others (landing URL → session).
ALTER TABLE sessions ADD COLUMN ttclid text, ADD COLUMN li_fat_id text;

ALTER TABLE leads
    ADD COLUMN credited_session_id    uuid,
    ADD COLUMN credited_session_month date,
    ADD COLUMN credited_at            timestamptz,
    ADD COLUMN attribution_model      text,
    ADD COLUMN channel                text,
    ADD COLUMN utm_medium             text,
    ADD COLUMN gbraid                 text,
    ADD COLUMN wbraid                 text,
    ADD COLUMN msclkid                text,
    ADD COLUMN fbclid                 text,
    ADD COLUMN ttclid                 text,
    ADD COLUMN li_fat_id              text;

ALTER TABLE calls
    ADD COLUMN credited_session_id    uuid,
    ADD COLUMN credited_session_month date,
    ADD COLUMN credited_at            timestamptz,
    ADD COLUMN attribution_model      text,
    ADD COLUMN channel                text,
    ADD COLUMN utm_medium             text,
    ADD COLUMN gbraid                 text,
    ADD COLUMN wbraid                 text,
    ADD COLUMN msclkid                text,
    ADD COLUMN fbclid                 text,
    ADD COLUMN ttclid                 text,
    ADD COLUMN li_fat_id              text,
    -- the provider's id of the call: a retried post returns the first call
    ADD COLUMN external_call_id       text,
    -- when the call started (matching uses it, not the time the post arrived)
    ADD COLUMN started_at             timestamptz,
    ADD COLUMN tracking_number        text,
    ADD COLUMN duration_s             integer CHECK (duration_s >= 0),
    ADD COLUMN recording_url          text,
    ADD COLUMN provider               text,
    -- session | dni | fingerprint | tel_click | manual (null: unmatched)
    ADD COLUMN match_method           text
        CHECK (match_method IN ('session', 'dni', 'fingerprint', 'tel_click', 'manual'));

CREATE UNIQUE INDEX calls_site_external_idx ON calls (site_id, external_call_id);
CREATE INDEX leads_site_gclid_idx ON leads (site_id, submitted_at) WHERE gclid IS NOT NULL;
-- tel:-link clicks (the tracker's conversion/phone_call event), the last resort of call matching
CREATE INDEX events_site_phone_call_idx ON events (site_id, created_at)
    WHERE event_action = 'phone_call';
