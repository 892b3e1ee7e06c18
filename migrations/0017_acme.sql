-- Certificates from an ACME certificate authority (RFC 8555), shared by
-- every node: the account key per directory, one certificate per name,
-- and the HTTP-01 challenge responses that whichever node the authority
-- reaches must serve. Domains opt in for their mail., autoconfig. and
-- mta-sts. names.
CREATE TABLE acme_accounts (
	directory  text PRIMARY KEY,
	key_pem    bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE acme_certificates (
	name       text PRIMARY KEY,
	chain_pem  bytea NOT NULL,
	key_pem    bytea NOT NULL,
	not_after  timestamptz NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE acme_challenges (
	token      text PRIMARY KEY,
	response   text NOT NULL,
	expires_at timestamptz NOT NULL
);

ALTER TABLE domains ADD COLUMN acme boolean NOT NULL DEFAULT false;
