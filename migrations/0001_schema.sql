-- The whole data model (ARCHITECTURE.md, "The database"). Constraints guard
-- the data even against a bug in the application: lower-case unique
-- addresses, non-negative sizes, aliases that point somewhere, foreign keys
-- everywhere.

-- A domain name as stored: lower-case A-label (IDNA), no trailing dot.
CREATE DOMAIN dns_name AS text
    CHECK (VALUE <> '' AND length(VALUE) <= 253
           AND VALUE = lower(VALUE)
           AND VALUE ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$');

-- A mail address as stored: local@domain, lower-case, no spaces or controls.
CREATE DOMAIN mail_address AS text
    CHECK (VALUE = lower(VALUE) AND length(VALUE) <= 320
           AND VALUE ~ '^[^@[:space:][:cntrl:]]{1,64}@[^@[:space:][:cntrl:]]+$');

CREATE TABLE domains (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            dns_name NOT NULL UNIQUE,
    description     text NOT NULL DEFAULT '',
    kind            text NOT NULL DEFAULT 'local' CHECK (kind IN ('local', 'relay')),
    -- Next hop of a relay domain: "[host]:port", "host:port", "host", or '' for MX lookup.
    relay_to        text NOT NULL DEFAULT ''
                    CHECK (relay_to = '' OR relay_to ~ '^(\[[^][[:space:]]+\]|[a-z0-9.-]+)(:[0-9]{1,5})?$'),
    -- Outbound transport override for mail to this domain (Postfix transport_maps).
    transport       text NOT NULL DEFAULT '',
    max_mailboxes   integer NOT NULL DEFAULT 0 CHECK (max_mailboxes >= 0),   -- 0 = unlimited
    max_aliases     integer NOT NULL DEFAULT 0 CHECK (max_aliases >= 0),     -- 0 = unlimited
    max_quota_bytes bigint  NOT NULL DEFAULT 0 CHECK (max_quota_bytes >= 0), -- per mailbox; 0 = unlimited
    quota_bytes     bigint  NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),     -- whole domain; 0 = unlimited
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- alias domain -> target domain: every address of the target also answers here.
CREATE TABLE alias_domains (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alias_domain     dns_name NOT NULL UNIQUE,
    target_domain_id bigint NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alias_domains_target ON alias_domains (target_domain_id);

CREATE TABLE mailboxes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id     bigint NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    local_part    text NOT NULL CHECK (local_part <> '' AND local_part = lower(local_part)),
    address       mail_address NOT NULL UNIQUE,
    name          text NOT NULL DEFAULT '',
    password      text NOT NULL CHECK (password <> ''),  -- crypt string, {SCHEME} prefix
    quota_bytes   bigint NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0), -- 0 = unlimited
    used_bytes    bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    used_messages bigint NOT NULL DEFAULT 0 CHECK (used_messages >= 0),
    maildir       text NOT NULL CHECK (maildir <> '' AND maildir !~ '(^/|(^|/)\.\.(/|$))'), -- relative to the Maildir root
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (domain_id, local_part),
    CHECK (address LIKE local_part || '@%')
);
CREATE INDEX mailboxes_domain_address ON mailboxes (domain_id, address);

-- address (or '@domain' catch-all) -> destinations.
CREATE TABLE aliases (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id    bigint NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
    address      text NOT NULL UNIQUE
                 CHECK (address = lower(address) AND address ~ '^[^@[:space:][:cntrl:]]{0,64}@[^@[:space:][:cntrl:]]+$'),
    destinations text[] NOT NULL
                 CHECK (cardinality(destinations) > 0
                        AND array_position(destinations, NULL) IS NULL
                        AND array_position(destinations, '') IS NULL
                        AND NOT (address = ANY (destinations))),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX aliases_domain_address ON aliases (domain_id, address);

-- Forwarding of a mailbox: the resolver treats it like an alias of the
-- mailbox's own address, plus the mailbox itself when keep_copy is set.
CREATE TABLE forwardings (
    mailbox_id   bigint PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    destinations text[] NOT NULL
                 CHECK (cardinality(destinations) > 0
                        AND array_position(destinations, NULL) IS NULL
                        AND array_position(destinations, '') IS NULL),
    keep_copy    boolean NOT NULL DEFAULT true,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- An address belongs to at most one mailbox or alias, and a domain name to
-- at most one domain or alias domain. The advisory lock serialises the two
-- tables' inserts for the same name, so concurrent inserts cannot both pass.
CREATE FUNCTION address_is_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mailhost.address:' || NEW.address));
    IF TG_TABLE_NAME = 'mailboxes' THEN
        IF EXISTS (SELECT 1 FROM aliases WHERE address = NEW.address) THEN
            RAISE EXCEPTION 'address % is already an alias', NEW.address
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'address_unique';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM mailboxes WHERE address = NEW.address) THEN
        RAISE EXCEPTION 'address % is already a mailbox', NEW.address
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'address_unique';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER mailboxes_address_free BEFORE INSERT OR UPDATE OF address ON mailboxes
    FOR EACH ROW EXECUTE FUNCTION address_is_free();
CREATE TRIGGER aliases_address_free BEFORE INSERT OR UPDATE OF address ON aliases
    FOR EACH ROW EXECUTE FUNCTION address_is_free();

CREATE FUNCTION domain_name_is_free() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n text := to_jsonb(NEW) ->> TG_ARGV[0];  -- the name column of this table
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('mailhost.domain:' || n));
    IF TG_TABLE_NAME = 'domains' THEN
        IF EXISTS (SELECT 1 FROM alias_domains WHERE alias_domain = n) THEN
            RAISE EXCEPTION 'domain % is already an alias domain', n
                USING ERRCODE = 'unique_violation', CONSTRAINT = 'domain_name_unique';
        END IF;
    ELSIF EXISTS (SELECT 1 FROM domains WHERE name = n) THEN
        RAISE EXCEPTION 'domain % is already a domain', n
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'domain_name_unique';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER domains_name_free BEFORE INSERT OR UPDATE OF name ON domains
    FOR EACH ROW EXECUTE FUNCTION domain_name_is_free('name');
CREATE TRIGGER alias_domains_name_free BEFORE INSERT OR UPDATE OF alias_domain ON alias_domains
    FOR EACH ROW EXECUTE FUNCTION domain_name_is_free('alias_domain');

-- Maildirs of deleted mailboxes wait here until purged.
CREATE TABLE retained_maildirs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address      mail_address NOT NULL,
    path         text NOT NULL UNIQUE CHECK (path <> ''),   -- relative to the retention root
    used_bytes   bigint NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    deleted_at   timestamptz NOT NULL DEFAULT now(),
    purge_after  timestamptz NOT NULL,
    CHECK (purge_after >= deleted_at)
);

CREATE TABLE admins (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username   text NOT NULL UNIQUE
               CHECK (username <> '' AND username = lower(username) AND length(username) <= 320
                      AND username !~ '[[:space:][:cntrl:]]'),
    password   text NOT NULL CHECK (password <> ''),
    superadmin boolean NOT NULL DEFAULT false,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE domain_admins (
    admin_id  bigint NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    domain_id bigint NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    PRIMARY KEY (admin_id, domain_id)
);
CREATE INDEX domain_admins_domain ON domain_admins (domain_id);

CREATE TABLE api_tokens (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admin_id       bigint NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (name <> ''),
    token_hash     bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32), -- SHA-256 of the token
    prefix         text NOT NULL DEFAULT '',   -- first characters, to recognise a token in lists
    scope          text NOT NULL DEFAULT 'admin',
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    last_used_at   timestamptz,
    last_used_from text,
    revoked_at     timestamptz
);
CREATE INDEX api_tokens_admin ON api_tokens (admin_id);

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,               -- admin username, "token:<id>", "cli", "system", mailbox address
    actor_kind  text NOT NULL CHECK (actor_kind IN ('admin', 'token', 'user', 'cli', 'system')),
    admin_id    bigint REFERENCES admins (id) ON DELETE SET NULL,
    token_id    bigint REFERENCES api_tokens (id) ON DELETE SET NULL,
    remote_addr text NOT NULL DEFAULT '',
    action      text NOT NULL CHECK (action <> ''),  -- create, update, delete, ...
    object_type text NOT NULL CHECK (object_type <> ''),
    object      text NOT NULL,
    domain      text NOT NULL DEFAULT '',    -- the domain concerned, for domain admins' views
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_domain ON audit_log (domain, at DESC) WHERE domain <> '';
CREATE INDEX audit_log_object ON audit_log (object_type, object);

-- The IMAP/POP3 index of each Maildir folder.
CREATE TABLE folders (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id    bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (name <> ''),   -- IMAP name with '/' as separator; 'INBOX' is the root
    uidvalidity   bigint NOT NULL DEFAULT extract(epoch FROM clock_timestamp())::bigint
                  CHECK (uidvalidity > 0 AND uidvalidity < 4294967296),
    uidnext       bigint NOT NULL DEFAULT 1 CHECK (uidnext > 0 AND uidnext <= 4294967296),
    highestmodseq bigint NOT NULL DEFAULT 1 CHECK (highestmodseq > 0),
    special_use   text CHECK (special_use IN ('\All', '\Archive', '\Drafts', '\Flagged', '\Junk', '\Sent', '\Trash')),
    subscribed    boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mailbox_id, name)
);

CREATE TABLE messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    folder_id     bigint NOT NULL REFERENCES folders (id) ON DELETE CASCADE,
    uid           bigint NOT NULL CHECK (uid > 0 AND uid < 4294967296),
    modseq        bigint NOT NULL CHECK (modseq > 0),
    key           text NOT NULL CHECK (key <> '' AND key !~ '[/:]'), -- Maildir base name before ":2,"
    subdir        text NOT NULL DEFAULT 'new' CHECK (subdir IN ('new', 'cur')),
    filename      text NOT NULL CHECK (filename <> '' AND filename !~ '/'),
    flags         text[] NOT NULL DEFAULT '{}'
                  CHECK (flags <@ ARRAY['\Seen', '\Answered', '\Flagged', '\Deleted', '\Draft']::text[]),
    keywords      text[] NOT NULL DEFAULT '{}',
    size          bigint NOT NULL CHECK (size >= 0),
    internal_date timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (folder_id, uid),
    UNIQUE (folder_id, key),
    CHECK (filename LIKE key || '%')
);
CREATE INDEX messages_folder_modseq ON messages (folder_id, modseq);

-- The outbound queue: one row per message, one per recipient with its state.
CREATE TABLE queue (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender      text NOT NULL DEFAULT '',     -- '' is the null sender <>
    origin      text NOT NULL CHECK (origin IN ('smtp', 'submission', 'sendmail', 'forward', 'relay', 'bounce', 'vacation')),
    client_addr text NOT NULL DEFAULT '',
    helo        text NOT NULL DEFAULT '',
    auth_user   text NOT NULL DEFAULT '',
    dsn_envid   text NOT NULL DEFAULT '',
    dsn_ret     text NOT NULL DEFAULT '' CHECK (dsn_ret IN ('', 'FULL', 'HDRS')),
    size        bigint NOT NULL CHECK (size >= 0),
    body        bytea NOT NULL,
    hold        boolean NOT NULL DEFAULT false,
    arrival_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    warned_at   timestamptz,
    CHECK (size = length(body)),
    CHECK (expires_at > arrival_at)
);

CREATE TABLE queue_recipients (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id        bigint NOT NULL REFERENCES queue (id) ON DELETE CASCADE,
    recipient       text NOT NULL CHECK (recipient LIKE '%_@_%'),
    orig_recipient  text NOT NULL DEFAULT '',
    dsn_notify      text NOT NULL DEFAULT '',
    domain          text NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
    next_hop        text NOT NULL DEFAULT '',   -- resolved transport when queued; '' = MX of domain
    state           text NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'deferred', 'delivered', 'bounced')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    last_error      text NOT NULL DEFAULT '',
    lease_owner     text NOT NULL DEFAULT '',
    lease_until     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (queue_id, recipient)
);
CREATE INDEX queue_recipients_due ON queue_recipients (next_attempt_at)
    WHERE state IN ('queued', 'deferred');
CREATE INDEX queue_recipients_queue ON queue_recipients (queue_id);

-- Access rules (Postfix access(5)) for client address/network, HELO name, sender and recipient.
CREATE TABLE access_rules (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('client', 'helo', 'sender', 'recipient')),
    pattern    text NOT NULL CHECK (pattern <> '' AND pattern = lower(pattern)),
    action     text NOT NULL CHECK (action IN ('OK', 'REJECT', 'DISCARD') OR action ~ '^[45][0-9][0-9]( .*)?$'),
    comment    text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (kind, pattern)
);

-- Postfix relocated(5): the user has moved to new_address.
CREATE TABLE relocated (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address     text NOT NULL UNIQUE CHECK (address = lower(address) AND address LIKE '%@%'),
    new_address text NOT NULL CHECK (new_address <> ''),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Vacation auto-reply (RFC 3834) of a mailbox.
CREATE TABLE vacations (
    mailbox_id       bigint PRIMARY KEY REFERENCES mailboxes (id) ON DELETE CASCADE,
    subject          text NOT NULL CHECK (subject <> ''),
    body             text NOT NULL,
    active_from      timestamptz,
    active_until     timestamptz,
    interval_seconds integer NOT NULL DEFAULT 604800 CHECK (interval_seconds >= 0),
    active           boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (active_from IS NULL OR active_until IS NULL OR active_until > active_from)
);

-- Who got a vacation reply when, so each sender gets at most one per interval.
CREATE TABLE vacation_notifications (
    mailbox_id  bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    sender      text NOT NULL CHECK (sender <> '' AND sender = lower(sender)),
    notified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (mailbox_id, sender)
);
