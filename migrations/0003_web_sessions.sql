-- Sessions of the web panel. The cookie holds a random id; only its
-- SHA-256 is stored, so a read of this table cannot be replayed as a
-- login. A session belongs to an admin or to a mailbox owner and goes with
-- them when they are deleted. It ends at expires_at (absolute limit) or
-- when last_seen_at is older than the idle limit, whichever comes first.
CREATE TABLE web_sessions (
    id_hash      bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    kind         text NOT NULL CHECK (kind IN ('admin', 'user')),
    admin_id     bigint REFERENCES admins (id) ON DELETE CASCADE,
    mailbox_id   bigint REFERENCES mailboxes (id) ON DELETE CASCADE,
    remote_addr  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'admin') = (admin_id IS NOT NULL)),
    CHECK ((kind = 'user') = (mailbox_id IS NOT NULL)),
    CHECK (expires_at > created_at)
);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);
CREATE INDEX web_sessions_admin ON web_sessions (admin_id) WHERE admin_id IS NOT NULL;
CREATE INDEX web_sessions_mailbox ON web_sessions (mailbox_id) WHERE mailbox_id IS NOT NULL;
