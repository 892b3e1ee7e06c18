-- Sieve filtering (issue 15): scripts, their run-time state, quota warnings.
--
-- sieve_scripts: a mailbox's scripts (several, at most one active, as
-- ManageSieve has them, RFC 5804) or a domain's. A domain script runs
-- 'before' or 'after' every owner's script of the domain (as Dovecot's
-- sieve_before/sieve_after), or is only 'global', reached by
-- include :global (RFC 6609); a domain script runs only while active.
-- version grows with every change of the content: the delivery agent
-- caches compiled scripts by (id, version).
CREATE TABLE sieve_scripts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id bigint REFERENCES mailboxes (id) ON DELETE CASCADE,
    domain_id  bigint REFERENCES domains (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name <> '' AND length(name) <= 128 AND name !~ '[/[:cntrl:]]'),
    position   text NOT NULL DEFAULT 'personal' CHECK (position IN ('personal', 'before', 'after', 'global')),
    active     boolean NOT NULL DEFAULT false,
    content    text NOT NULL,
    version    bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((mailbox_id IS NULL) <> (domain_id IS NULL)),
    CHECK ((mailbox_id IS NOT NULL) = (position = 'personal')),
    CONSTRAINT sieve_scripts_mailbox_name UNIQUE (mailbox_id, name),
    CONSTRAINT sieve_scripts_domain_name UNIQUE (domain_id, name)
);
CREATE UNIQUE INDEX sieve_scripts_one_active ON sieve_scripts (mailbox_id) WHERE active AND mailbox_id IS NOT NULL;
CREATE INDEX sieve_scripts_domain_position ON sieve_scripts (domain_id, position, name) WHERE domain_id IS NOT NULL;

-- A vacation action's answer to one sender under one handle (RFC 5230
-- 4.2): at most one per period.
CREATE TABLE sieve_vacation_replies (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    handle     text NOT NULL,
    sender     text NOT NULL CHECK (sender <> '' AND sender = lower(sender)),
    replied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, handle, sender)
);

-- Redirects a mailbox's scripts made per day (UTC), for the daily limit.
CREATE TABLE sieve_redirects (
    mailbox_id bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    day        date NOT NULL,
    count      integer NOT NULL CHECK (count >= 0),
    PRIMARY KEY (mailbox_id, day)
);

-- The last run-time failure of a mailbox's scripts, for its owner to see.
CREATE TABLE sieve_errors (
    mailbox_id  bigint PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    message     text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    failures    bigint NOT NULL DEFAULT 1
);

-- Quota warnings: the highest threshold (percent) a mailbox was warned at;
-- lowered when its usage falls below it, so a new crossing warns again.
CREATE TABLE quota_warnings (
    mailbox_id bigint PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    percent    integer NOT NULL CHECK (percent BETWEEN 0 AND 100),
    warned_at  timestamptz NOT NULL DEFAULT now()
);

-- The text of a domain's quota warnings; '' means the built-in text.
ALTER TABLE domains ADD COLUMN quota_warning_text text NOT NULL DEFAULT '';

-- Quota warnings travel through the queue as origin 'notice'.
ALTER TABLE queue DROP CONSTRAINT queue_origin_check;
ALTER TABLE queue ADD CONSTRAINT queue_origin_check
    CHECK (origin IN ('smtp', 'submission', 'sendmail', 'forward', 'relay', 'bounce', 'vacation', 'notice'));

-- A mailbox whose usage falls below the level it was warned at keeps
-- only the lower level, so the next crossing going up warns again; the
-- delivery agent then needs to look only when a delivery may cross.
CREATE FUNCTION quota_warning_lower() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE quota_warnings SET percent = CASE WHEN NEW.quota_bytes > 0
            THEN least(percent, (NEW.used_bytes * 100 / NEW.quota_bytes)::integer) ELSE 0 END
    WHERE mailbox_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER mailboxes_quota_warning_lower AFTER UPDATE OF used_bytes ON mailboxes
    FOR EACH ROW WHEN (NEW.used_bytes < OLD.used_bytes) EXECUTE FUNCTION quota_warning_lower();
