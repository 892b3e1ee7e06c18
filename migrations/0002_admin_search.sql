-- Search in the admin lists (q filter): substring match on mailbox and alias
-- addresses and names that stays fast at tens of thousands of rows per
-- domain. pg_trgm is a trusted extension (PostgreSQL 13+), so the database
-- owner may create it; it ships in Debian's postgresql package (contrib).
-- Without it the lists still work, by a scan of the domain's rows.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%), admin search falls back to scans', SQLERRM;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX mailboxes_search ON mailboxes USING gin ((address || ' ' || lower(name)) gin_trgm_ops);
        CREATE INDEX aliases_search ON aliases USING gin (address gin_trgm_ops);
    END IF;
END $$;

-- Token lookups on every API request go by token_hash (already unique);
-- the audit log is filtered by actor and by action besides domain and object.
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);

-- Expired retained Maildirs are purged in order of purge_after.
CREATE INDEX retained_maildirs_purge ON retained_maildirs (purge_after);
