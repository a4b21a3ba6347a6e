-- Foundation: the extensions every later migration relies on.
-- On the embedded server these were created by the superuser at bootstrap; elsewhere
-- a DBA creates them (README, "Database roles") and these statements find them present.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Nobody but the owner creates objects in the schema.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
