-- DKIM signing keys of the hosted domains (RFC 6376, RFC 8463).
--
-- Each local domain has a pair of keys in use at a time, one RSA-2048 and
-- one Ed25519, so that mail carries two signatures: receivers that know
-- Ed25519 check that one, the others the RSA one. A key's selector is
-- named by the date it was made (r20261203, e20261203).
--
-- state:
--   pending   made by a rotation; published on the DNS page, not yet used
--             to sign: waits until its TXT record is seen in DNS;
--   active    signs outgoing mail (one per algorithm and domain);
--   retiring  replaced; its TXT record stays published until retire_at, so
--             that mail signed with it in flight still verifies, then the
--             row is deleted.
--
-- The private keys are PKCS #8 DER, in clear: like the TLS key on disk,
-- the database and its backups are the boundary. No API, panel page or
-- command line prints them; only the signer reads them.
-- SQL cannot make keys: the service makes them when a domain is created,
-- and `mailhost migrate` and `mailhost serve` make them at start-up for
-- the local domains that have none (store.DomainsWithoutDKIM).
CREATE TABLE dkim_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id    bigint NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    selector     text NOT NULL CHECK (selector ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    algorithm    text NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
    private_key  bytea NOT NULL,
    public_key   text NOT NULL, -- the p= value of the TXT record, base64
    state        text NOT NULL CHECK (state IN ('pending', 'active', 'retiring')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retire_at    timestamptz,
    UNIQUE (domain_id, selector),
    CHECK ((state = 'retiring') = (retire_at IS NOT NULL))
);

-- At most one key per algorithm signs for a domain.
CREATE UNIQUE INDEX dkim_keys_one_active ON dkim_keys (domain_id, algorithm) WHERE state = 'active';
-- At most one rotation waits per domain and algorithm.
CREATE UNIQUE INDEX dkim_keys_one_pending ON dkim_keys (domain_id, algorithm) WHERE state = 'pending';
