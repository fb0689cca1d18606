-- Traffic a site's tracker sent that leadtrail did not store, counted per reason, so the
-- dashboard can say why ("headless browsers are treated as bots", "this origin is not the
-- site's domain") instead of leaving the owner with a bare 403 or an empty report.

CREATE TABLE ingest_rejections (
    site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    -- headless | crawler | empty | dnt | origin_not_allowed
    reason        text NOT NULL,
    -- the refused origin, or the user agent's product (never a full address or identifier)
    detail        text NOT NULL DEFAULT '',
    count         bigint NOT NULL DEFAULT 0,
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    PRIMARY KEY (site_id, reason, detail)
);
ALTER TABLE ingest_rejections ENABLE ROW LEVEL SECURITY;
ALTER TABLE ingest_rejections FORCE ROW LEVEL SECURITY;
SELECT leadtrail.apply_tenant_policy('ingest_rejections');
GRANT SELECT ON ingest_rejections TO leadtrail_analyst;
GRANT SELECT, DELETE ON ingest_rejections TO leadtrail_admin;
GRANT SELECT, INSERT, UPDATE ON ingest_rejections TO leadtrail_writer;
