-- The content filter's per-domain settings (issue 14). A domain without a
-- domain_filters row has the defaults below: the built-in list of banned
-- attachments (ZIP archives looked into), spam to the Junk folder at a
-- score of 6, viruses refused. The global rules live in the configuration
-- ([filter]); only a domain's own rules are here.
CREATE TABLE domain_filters (
    domain_id         bigint PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    -- NULL: the built-in list; an empty array bans nothing.
    banned_extensions text[] CHECK (banned_extensions IS NULL OR
                                    array_to_string(banned_extensions, ',') ~ '^([a-z0-9_-]{1,20}(,|$))*$'),
    banned_types      text[] CHECK (banned_types IS NULL OR
                                    array_to_string(banned_types, ',') ~ '^([a-z0-9.+-]+/[a-z0-9.+-]+(,|$))*$'),
    scan_zip          boolean NOT NULL DEFAULT true,
    -- off: spam is delivered as any mail; junk: filed to the Junk folder
    -- from junk_score (or when the scanner says X-Spam: yes); reject: as
    -- junk, and refused from reject_score.
    spam_policy       text NOT NULL DEFAULT 'junk' CHECK (spam_policy IN ('off', 'junk', 'reject')),
    junk_score        real NOT NULL DEFAULT 6 CHECK (junk_score BETWEEN -1000 AND 1000),
    reject_score      real NOT NULL DEFAULT 15 CHECK (reject_score BETWEEN -1000 AND 1000),
    -- reject: refused at DATA; hold: into the queue's hold state; off:
    -- delivered (a scanner's own refusal still stands).
    virus_policy      text NOT NULL DEFAULT 'reject' CHECK (virus_policy IN ('reject', 'hold', 'off')),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- A domain's own header, MIME header and body rules, in order: one line
-- of Postfix's regexp_table(5) syntax each ("/pattern/flags ACTION text"),
-- with RE2 expressions. The admin service admits REJECT, DISCARD, HOLD
-- and WARN only: the other actions would change mail of other domains'
-- recipients of the same message.
CREATE TABLE filter_rules (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    domain_id  bigint NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
    kind       text NOT NULL CHECK (kind IN ('header', 'mime_header', 'body')),
    rule       text NOT NULL CHECK (rule <> '' AND rule !~ '[\r\n]' AND length(rule) <= 1000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filter_rules_domain ON filter_rules (domain_id, id);
