-- Postfix Admin 3.3's PostgreSQL schema (as its upgrade.php leaves it),
-- the tables the import reads and their neighbours.
CREATE TABLE config (id serial PRIMARY KEY, name varchar(20) NOT NULL UNIQUE, value varchar(20) NOT NULL);
INSERT INTO config (name, value) VALUES ('version', '1844');
CREATE TABLE domain (
    domain varchar(255) PRIMARY KEY,
    description varchar(255) NOT NULL DEFAULT '',
    aliases integer NOT NULL DEFAULT 0,
    mailboxes integer NOT NULL DEFAULT 0,
    maxquota bigint NOT NULL DEFAULT 0,
    quota bigint NOT NULL DEFAULT 0,
    transport varchar(255) DEFAULT NULL,
    backupmx boolean NOT NULL DEFAULT false,
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true,
    password_expiry integer DEFAULT 0
);
CREATE TABLE admin (
    username varchar(255) PRIMARY KEY,
    password varchar(255) NOT NULL DEFAULT '',
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true,
    superadmin boolean NOT NULL DEFAULT false,
    phone varchar(30) NOT NULL DEFAULT '',
    email_other varchar(255) NOT NULL DEFAULT '',
    token varchar(255) NOT NULL DEFAULT '',
    token_validity timestamp with time zone DEFAULT '2000-01-01 00:00:00+00',
    totp_secret varchar(255) DEFAULT NULL
);
CREATE TABLE alias (
    address varchar(255) PRIMARY KEY,
    goto text NOT NULL,
    domain varchar(255) NOT NULL REFERENCES domain,
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true
);
CREATE INDEX alias_address_active ON alias (address, active);
CREATE TABLE alias_domain (
    alias_domain varchar(255) PRIMARY KEY REFERENCES domain (domain) ON DELETE CASCADE,
    target_domain varchar(255) NOT NULL REFERENCES domain (domain) ON DELETE CASCADE,
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true
);
CREATE TABLE domain_admins (
    username varchar(255) NOT NULL,
    domain varchar(255) NOT NULL,
    created timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true
);
CREATE TABLE mailbox (
    username varchar(255) PRIMARY KEY,
    password varchar(255) NOT NULL DEFAULT '',
    name varchar(255) NOT NULL DEFAULT '',
    maildir varchar(255) NOT NULL DEFAULT '',
    quota bigint NOT NULL DEFAULT 0,
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true,
    domain varchar(255) REFERENCES domain,
    local_part varchar(255) NOT NULL,
    phone varchar(30) NOT NULL DEFAULT '',
    email_other varchar(255) NOT NULL DEFAULT '',
    token varchar(255) NOT NULL DEFAULT '',
    token_validity timestamp with time zone DEFAULT '2000-01-01 00:00:00+00',
    password_expiry timestamp with time zone DEFAULT '2000-01-01 00:00:00+00',
    totp_secret varchar(255) DEFAULT NULL
);
CREATE INDEX mailbox_username_active ON mailbox (username, active);
CREATE TABLE vacation (
    email varchar(255) PRIMARY KEY,
    subject varchar(255) NOT NULL,
    body text NOT NULL DEFAULT '',
    cache text NOT NULL DEFAULT '',
    domain varchar(255) NOT NULL REFERENCES domain,
    created timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true,
    modified timestamp with time zone DEFAULT now(),
    activefrom timestamp with time zone NOT NULL DEFAULT '2000-01-01 00:00:00+00',
    activeuntil timestamp with time zone NOT NULL DEFAULT '2038-01-18 00:00:00+00',
    interval_time integer NOT NULL DEFAULT 0
);
CREATE TABLE vacation_notification (
    on_vacation varchar(255) NOT NULL REFERENCES vacation (email) ON DELETE CASCADE,
    notified varchar(255) NOT NULL,
    notified_at timestamp with time zone NOT NULL DEFAULT now(),
    PRIMARY KEY (on_vacation, notified)
);
CREATE TABLE quota2 (
    username varchar(100) PRIMARY KEY,
    bytes bigint NOT NULL DEFAULT 0,
    messages integer NOT NULL DEFAULT 0
);
CREATE TABLE fetchmail (
    id serial PRIMARY KEY,
    domain varchar(255) DEFAULT '',
    mailbox varchar(255) NOT NULL REFERENCES mailbox (username) ON DELETE CASCADE,
    src_server varchar(255) NOT NULL,
    src_auth varchar(15) DEFAULT NULL,
    src_user varchar(255) NOT NULL,
    src_password varchar(255) NOT NULL,
    src_folder varchar(255) NOT NULL DEFAULT '',
    poll_time integer NOT NULL DEFAULT 10,
    fetchall boolean NOT NULL DEFAULT false,
    keep boolean NOT NULL DEFAULT false,
    protocol varchar(15) DEFAULT NULL,
    usessl boolean NOT NULL DEFAULT false,
    sslcertck boolean NOT NULL DEFAULT false,
    sslcertpath varchar(255) DEFAULT '',
    sslfingerprint varchar(255) DEFAULT '',
    extra_options text,
    returned_text text,
    mda varchar(255) NOT NULL DEFAULT '',
    date timestamp with time zone DEFAULT now(),
    created timestamp with time zone DEFAULT now(),
    modified timestamp with time zone DEFAULT now(),
    active boolean NOT NULL DEFAULT true
);
CREATE TABLE log (
    "timestamp" timestamp with time zone DEFAULT now(),
    username varchar(255) NOT NULL DEFAULT '',
    domain varchar(255) NOT NULL DEFAULT '',
    action varchar(255) NOT NULL DEFAULT '',
    data text NOT NULL DEFAULT '',
    id serial PRIMARY KEY
);
