-- Analytics helpers that take column values instead of a whole sessions row.
--
-- On Citus a query on sessions runs on its shards, where a row of sessions has the shard's
-- row type (sessions_102224): leadtrail.visitor_hash(public.sessions) and
-- leadtrail.session_dims(public.sessions, boolean) have no match there, so the rollup job
-- failed. The queries now call these; the row versions stay (ad-hoc SQL may use them) and
-- call these, so each value has one definition. Values are those of 0006, unchanged.

-- Who a session belongs to, as a 64-bit hash: the person (canonical user) once identity
-- resolution has run, else the browser fingerprint, else the session itself.
CREATE FUNCTION leadtrail.visitor_hash_of(canonical_user_id uuid, fingerprint text, session_id uuid)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT hashtextextended(coalesce(canonical_user_id::text, 'fp:' || nullif(fingerprint, ''),
                                     's:' || session_id::text), 0)
$$;

-- The value of every report dimension for one session, from the sessions columns of the same
-- names: the single definition the rollup job and the raw drill-downs share (names match
-- leadtrail/analytics/dimensions.py). Values are cut to 400 characters to stay within index
-- limits. Call it with named arguments (twenty text columns are easy to misplace).
CREATE FUNCTION leadtrail.session_dims_of(
    entry_page text, exit_page text, referrer_domain text, referrer_type text,
    search_query text, utm_source text, utm_medium text, utm_campaign text,
    gclid text, gbraid text, wbraid text, msclkid text, fbclid text,
    attribution_source text, browser text, os text, device_type text,
    country_code text, region text, city text, is_returning boolean)
RETURNS TABLE (dim text, value text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    VALUES
        ('entry_page', left(leadtrail.url_path(entry_page), 400)),
        ('exit_page', left(leadtrail.url_path(exit_page), 400)),
        ('referrer', left(lower(coalesce(referrer_domain, '')), 400)),
        ('referrer_type', left(coalesce(referrer_type, ''), 400)),
        ('search_query', left(lower(btrim(coalesce(search_query, ''))), 400)),
        ('utm_source', left(coalesce(utm_source, ''), 400)),
        ('utm_medium', left(coalesce(utm_medium, ''), 400)),
        ('utm_campaign', left(coalesce(utm_campaign, ''), 400)),
        ('click_id', CASE WHEN nullif(gclid, '') IS NOT NULL THEN 'gclid'
                          WHEN nullif(gbraid, '') IS NOT NULL THEN 'gbraid'
                          WHEN nullif(wbraid, '') IS NOT NULL THEN 'wbraid'
                          WHEN nullif(msclkid, '') IS NOT NULL THEN 'msclkid'
                          WHEN nullif(fbclid, '') IS NOT NULL THEN 'fbclid'
                          ELSE 'none' END),
        ('attribution', left(coalesce(attribution_source, ''), 400)),
        ('browser', left(coalesce(browser, ''), 400)),
        ('os', left(coalesce(os, ''), 400)),
        ('device', left(coalesce(device_type, ''), 400)),
        ('country', left(upper(coalesce(country_code, '')), 8)),
        ('region', CASE WHEN coalesce(country_code, region, '') = '' THEN ''
                        ELSE left(upper(coalesce(country_code, '')), 8) || chr(31)
                             || left(coalesce(region, ''), 190) END),
        ('city', CASE WHEN coalesce(country_code, region, city, '') = '' THEN ''
                      ELSE left(upper(coalesce(country_code, '')), 8) || chr(31)
                           || left(coalesce(region, ''), 190) || chr(31)
                           || left(coalesce(city, ''), 190) END),
        ('visitor_type', CASE WHEN is_returning THEN 'returning' ELSE 'new' END)
$$;

GRANT EXECUTE ON FUNCTION leadtrail.visitor_hash_of(uuid, text, uuid),
      leadtrail.session_dims_of(text, text, text, text, text, text, text, text, text, text,
                                text, text, text, text, text, text, text, text, text, text,
                                boolean)
      TO PUBLIC;

-- The row versions, on plain PostgreSQL only (see above): the same values, now by the
-- column versions.
CREATE OR REPLACE FUNCTION leadtrail.visitor_hash(s public.sessions) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT leadtrail.visitor_hash_of(s.canonical_user_id, s.fingerprint, s.id)
$$;

CREATE OR REPLACE FUNCTION leadtrail.session_dims(s public.sessions, is_returning boolean)
RETURNS TABLE (dim text, value text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT d.dim, d.value
    FROM leadtrail.session_dims_of(
        entry_page => s.entry_page, exit_page => s.exit_page,
        referrer_domain => s.referrer_domain, referrer_type => s.referrer_type,
        search_query => s.search_query, utm_source => s.utm_source,
        utm_medium => s.utm_medium, utm_campaign => s.utm_campaign, gclid => s.gclid,
        gbraid => s.gbraid, wbraid => s.wbraid, msclkid => s.msclkid, fbclid => s.fbclid,
        attribution_source => s.attribution_source, browser => s.browser, os => s.os,
        device_type => s.device_type, country_code => s.country_code, region => s.region,
        city => s.city, is_returning => is_returning) AS d
$$;
