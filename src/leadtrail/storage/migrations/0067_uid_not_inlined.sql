-- leadtrail.uid() as PL/pgSQL, so the uuid cast only runs when the claim is a uuid.
--
-- The SQL version was inlined into the policies; Citus evaluates the functions of a query on
-- the coordinator before sending it to the shards, cast included, whatever the CASE around
-- it says, so a component's claim ("sub": "auth") failed with "invalid input syntax for type
-- uuid" on a write to app_users. Same result everywhere else.
CREATE OR REPLACE FUNCTION leadtrail.uid() RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    sub text := leadtrail.claims() ->> 'sub';
BEGIN
    IF sub ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
        RETURN sub::uuid;
    END IF;
    RETURN NULL;
END
$$;
