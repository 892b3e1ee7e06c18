-- Second factors of the panel and app passwords of the mail protocols.
--
-- totp_secrets: one TOTP (RFC 6238) secret per admin or mailbox owner.
-- A row with confirmed_at NULL is an enrolment in progress: it takes
-- effect only once a code computed from it has been entered. The secret
-- is kept as the server must compute codes from it; the panel shows it
-- only while the enrolment is in progress, never after. last_step is the
-- last 30-second step whose code was accepted: a code of that step or an
-- earlier one is refused (RFC 6238 5.2: a code is good once).
CREATE TABLE totp_secrets (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    admin_id     bigint UNIQUE REFERENCES admins (id) ON DELETE CASCADE,
    mailbox_id   bigint UNIQUE REFERENCES mailboxes (id) ON DELETE CASCADE,
    secret       text NOT NULL CHECK (secret ~ '^[A-Z2-7]{16,128}$'), -- base32, no padding
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((admin_id IS NULL) <> (mailbox_id IS NULL))
);

-- Ten single-use recovery codes per confirmed secret, by their SHA-256.
CREATE TABLE recovery_codes (
    totp_id   bigint NOT NULL REFERENCES totp_secrets (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at   timestamptz,
    PRIMARY KEY (totp_id, code_hash)
);

-- A password check passed, the second factor not yet: the panel's login
-- between its two steps. Like web_sessions, only the SHA-256 of the
-- cookie's random id is stored.
CREATE TABLE login_challenges (
    id_hash     bytea PRIMARY KEY CHECK (length(id_hash) = 32),
    admin_id    bigint REFERENCES admins (id) ON DELETE CASCADE,
    mailbox_id  bigint REFERENCES mailboxes (id) ON DELETE CASCADE,
    next        text NOT NULL DEFAULT '/',
    remote_addr text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK ((admin_id IS NULL) <> (mailbox_id IS NULL))
);
CREATE INDEX login_challenges_expires ON login_challenges (expires_at);

-- Settings the super-admins change at run time (not configuration: every
-- node reads the same row). require_admin_totp: admins without a second
-- factor are sent to enrol one after their password.
CREATE TABLE security_policy (
    id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
    require_admin_totp boolean NOT NULL DEFAULT false,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
INSERT INTO security_policy DEFAULT VALUES;

-- App passwords: random secrets a mailbox's owner gives a mail client
-- instead of the mailbox password, each for some protocols. They are 120
-- random bits, so a SHA-256 is enough to store them (as API tokens);
-- a login finds one by its hash without a slow hash per row.
CREATE TABLE app_passwords (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id     bigint NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
    name           text NOT NULL CHECK (name <> '' AND length(name) <= 100 AND name !~ '[[:cntrl:]]'),
    password_hash  bytea NOT NULL UNIQUE CHECK (length(password_hash) = 32),
    protocols      text[] NOT NULL
                   CHECK (cardinality(protocols) > 0
                          AND protocols <@ ARRAY['smtp', 'imap', 'pop3', 'managesieve']),
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_used_at   timestamptz,
    last_used_from text,
    UNIQUE (mailbox_id, name)
);
