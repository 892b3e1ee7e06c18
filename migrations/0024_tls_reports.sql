-- RFC 8460 TLS reporting. tls_report_counts: per day (UTC), destination
-- domain, policy type, MX host, receiving address and result, the number
-- of sessions (or policy fetches); every node adds to it (additive
-- upserts, so nodes never overwrite each other).
CREATE TABLE tls_report_counts (
    day          date NOT NULL,
    domain       text NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
    policy       text NOT NULL CHECK (policy IN ('sts', 'tlsa', 'no-policy-found')),
    mx_host      text NOT NULL DEFAULT '',
    receiving_ip text NOT NULL DEFAULT '',
    result       text NOT NULL CHECK (result <> ''),
    sessions     bigint NOT NULL CHECK (sessions > 0),
    PRIMARY KEY (day, domain, policy, mx_host, receiving_ip, result)
);

-- tls_reports: a day's report for a domain, claimed by the one node that
-- sends it (the insert is the claim: a report goes out at most once),
-- with what became of it.
CREATE TABLE tls_reports (
    day        date NOT NULL,
    domain     text NOT NULL,
    claimed_at timestamptz NOT NULL DEFAULT now(),
    outcome    text NOT NULL DEFAULT '',
    PRIMARY KEY (day, domain)
);
