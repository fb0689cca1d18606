-- The owner may act as leadtrail_app.
--
-- With a single database URL, leadtrail logs in as the owner and runs `SET ROLE leadtrail_app`
-- for the request pool; an owner that is not a superuser (a managed or Citus cluster's admin
-- role) got "permission denied to set role". The owner created the role in 0001, so it may
-- grant itself membership; if it cannot, the warning says what to run (docs/database.md).
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'leadtrail_app', 'MEMBER') THEN
        EXECUTE format('GRANT leadtrail_app TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'run as a superuser: GRANT leadtrail_app TO % (docs/database.md)', current_user;
END
$$;
