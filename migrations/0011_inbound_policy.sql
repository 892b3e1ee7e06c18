-- What the MX does with the sender authentication results (SPF, DKIM,
-- DMARC) of mail for a hosted domain, set by its admins (issue 13,
-- "Inbound"). A domain without a row has the defaults below; the row goes
-- with its domain.
--
--   dmarc          enforce: honour the sender domain's published policy
--                  (p=reject: 550 5.7.1 at the end of DATA; p=quarantine:
--                  into the recipient's Junk folder); mark: only the
--                  Authentication-Results field.
--   spf_fail       an SPF "fail" of MAIL FROM (e.g. -all): reject (550
--                  5.7.23 at RCPT) or mark. Default mark: RFC 7489 10.1
--                  warns that rejecting on SPF alone, before DKIM and
--                  DMARC are known, refuses forwarded mail DMARC would pass.
--   reject_spoofed mail whose From or MAIL FROM is this domain, from a
--                  client that neither logged in nor is in mynetworks,
--                  without an aligned valid DKIM signature or SPF pass:
--                  refused (550 5.7.1).
CREATE TABLE inbound_policies (
    domain_id      bigint PRIMARY KEY REFERENCES domains (id) ON DELETE CASCADE,
    dmarc          text NOT NULL DEFAULT 'enforce' CHECK (dmarc IN ('enforce', 'mark')),
    spf_fail       text NOT NULL DEFAULT 'mark' CHECK (spf_fail IN ('reject', 'mark')),
    reject_spoofed boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
