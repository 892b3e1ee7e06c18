-- MTA-STS policies of destination domains (RFC 8461), fetched by the
-- outbound client and cached here so every node uses the same policy and
-- fetches it once: a policy stays in force until expires_at (fetched_at
-- plus its max_age) even when its host cannot be reached (RFC 8461 5.1),
-- and is fetched again from refresh_at on (before it expires) or when
-- its TXT record's id changes; after a failed fetch, not again before
-- retry_at.
CREATE TABLE mta_sts_policies (
    domain     text PRIMARY KEY CHECK (domain = lower(domain) AND domain <> ''),
    policy_id  text NOT NULL CHECK (policy_id ~ '^[A-Za-z0-9]{1,32}$'),
    mode       text NOT NULL CHECK (mode IN ('enforce', 'testing', 'none')),
    max_age    integer NOT NULL CHECK (max_age BETWEEN 0 AND 31557600),
    mx         text[] NOT NULL DEFAULT '{}',
    policy     text NOT NULL,
    fetched_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    refresh_at timestamptz NOT NULL,
    retry_at   timestamptz
);
