-- The outbox is written only for facts some enabled endpoint subscribes to: whoever writes a
-- fact may read which event types a site's endpoints want (never their URL or secret).
GRANT SELECT (site_id, events, enabled) ON webhook_endpoints TO leadtrail_ingest, leadtrail_writer;
