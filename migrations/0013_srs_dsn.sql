-- SRS (Sender Rewriting Scheme): the installation's secrets, in the
-- database so that every node signs and checks alike. The highest
-- generation signs new addresses; every row verifies, so an older secret
-- kept after a rotation still reverses the addresses it signed until
-- they are older than srs.max_age_days. The first node that needs one
-- generates generation 1 (INSERT ... ON CONFLICT DO NOTHING: concurrent
-- nodes agree on the row that won).
CREATE TABLE srs_secrets (
    generation integer PRIMARY KEY CHECK (generation > 0),
    secret     bytea NOT NULL CHECK (length(secret) >= 16),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- DSN (RFC 3461): the address type of ORCPT (rfc822, or utf-8 of RFC
-- 6533), kept with the address so that it is passed on and reported as
-- given. The other DSN parameters (ENVID, RET, NOTIFY, the ORCPT address)
-- have had their columns since 0001.
ALTER TABLE queue_recipients
    ADD COLUMN orig_recipient_type text NOT NULL DEFAULT 'rfc822'
        CHECK (orig_recipient_type IN ('rfc822', 'utf-8'));
