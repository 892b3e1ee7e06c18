-- Postfix Admin 3.3's MySQL/MariaDB schema (as its upgrade.php leaves it),
-- the tables the import reads and their neighbours.
CREATE TABLE config (id int(11) NOT NULL AUTO_INCREMENT, name varchar(20) NOT NULL DEFAULT '', value varchar(20) NOT NULL DEFAULT '',
    PRIMARY KEY (id), UNIQUE KEY name (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='PostfixAdmin settings';
INSERT INTO config (name, value) VALUES ('version', '1844');
CREATE TABLE domain (
    domain varchar(255) NOT NULL,
    description varchar(255) CHARACTER SET utf8mb4 NOT NULL,
    aliases int(10) NOT NULL DEFAULT 0,
    mailboxes int(10) NOT NULL DEFAULT 0,
    maxquota bigint(20) NOT NULL DEFAULT 0,
    quota bigint(20) NOT NULL DEFAULT 0,
    transport varchar(255) NOT NULL,
    backupmx tinyint(1) NOT NULL DEFAULT 0,
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    active tinyint(1) NOT NULL DEFAULT 1,
    password_expiry int(11) DEFAULT 0,
    PRIMARY KEY (domain)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Virtual Domains';
CREATE TABLE admin (
    username varchar(255) NOT NULL,
    password varchar(255) NOT NULL,
    superadmin tinyint(1) NOT NULL DEFAULT 0,
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    active tinyint(1) NOT NULL DEFAULT 1,
    phone varchar(30) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
    email_other varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
    token varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
    token_validity datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    totp_secret varchar(255) DEFAULT NULL,
    PRIMARY KEY (username)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Virtual Admins';
CREATE TABLE alias (
    address varchar(255) NOT NULL,
    goto text NOT NULL,
    domain varchar(255) NOT NULL,
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    active tinyint(1) NOT NULL DEFAULT 1,
    PRIMARY KEY (address),
    KEY domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Virtual Aliases';
CREATE TABLE alias_domain (
    alias_domain varchar(255) NOT NULL DEFAULT '',
    target_domain varchar(255) NOT NULL DEFAULT '',
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    active tinyint(1) NOT NULL DEFAULT 1,
    PRIMARY KEY (alias_domain),
    KEY active (active),
    KEY target_domain (target_domain)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Domain Aliases';
CREATE TABLE domain_admins (
    username varchar(255) NOT NULL,
    domain varchar(255) NOT NULL,
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    active tinyint(1) NOT NULL DEFAULT 1,
    id int(11) NOT NULL AUTO_INCREMENT,
    PRIMARY KEY (id),
    KEY username (username)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Domain Admins';
CREATE TABLE mailbox (
    username varchar(255) NOT NULL,
    password varchar(255) NOT NULL,
    name varchar(255) CHARACTER SET utf8mb4 NOT NULL,
    maildir varchar(255) NOT NULL,
    quota bigint(20) NOT NULL DEFAULT 0,
    local_part varchar(255) NOT NULL,
    domain varchar(255) NOT NULL,
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    modified datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    active tinyint(1) NOT NULL DEFAULT 1,
    phone varchar(30) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
    email_other varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
    token varchar(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
    token_validity datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    password_expiry datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    totp_secret varchar(255) DEFAULT NULL,
    PRIMARY KEY (username),
    KEY domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Virtual Mailboxes';
CREATE TABLE vacation (
    email varchar(255) NOT NULL,
    subject varchar(255) CHARACTER SET utf8mb4 NOT NULL,
    body text CHARACTER SET utf8mb4 NOT NULL,
    cache text NOT NULL,
    domain varchar(255) NOT NULL,
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    active tinyint(1) NOT NULL DEFAULT 1,
    modified datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    activefrom timestamp NOT NULL DEFAULT '2000-01-01 00:00:00',
    activeuntil timestamp NOT NULL DEFAULT '2038-01-18 00:00:00',
    interval_time int(11) NOT NULL DEFAULT 0,
    PRIMARY KEY (email),
    KEY email (email)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Virtual Vacation';
CREATE TABLE vacation_notification (
    on_vacation varchar(255) CHARACTER SET latin1 NOT NULL,
    notified varchar(255) CHARACTER SET latin1 NOT NULL DEFAULT '',
    notified_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (on_vacation, notified),
    CONSTRAINT vacation_notification_pkey FOREIGN KEY (on_vacation) REFERENCES vacation (email) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE quota2 (
    username varchar(100) NOT NULL,
    bytes bigint(20) NOT NULL DEFAULT 0,
    messages int(11) NOT NULL DEFAULT 0,
    PRIMARY KEY (username)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE fetchmail (
    id int(11) unsigned NOT NULL AUTO_INCREMENT,
    domain varchar(255) DEFAULT '',
    mailbox varchar(255) NOT NULL,
    src_server varchar(255) NOT NULL,
    src_auth enum('password','kerberos_v5','kerberos','kerberos_v4','gssapi','ntlm','otp','cram-md5','any') DEFAULT NULL,
    src_user varchar(255) NOT NULL,
    src_password varchar(255) NOT NULL,
    src_folder varchar(255) NOT NULL,
    poll_time int(11) unsigned NOT NULL DEFAULT 10,
    fetchall tinyint(1) unsigned NOT NULL DEFAULT 0,
    keep tinyint(1) unsigned NOT NULL DEFAULT 0,
    protocol enum('POP3','IMAP','POP2','ETRN','AUTO') DEFAULT NULL,
    usessl tinyint(1) unsigned NOT NULL DEFAULT 0,
    sslcertck tinyint(1) NOT NULL DEFAULT 0,
    sslcertpath varchar(255) CHARACTER SET utf8mb4 DEFAULT '',
    sslfingerprint varchar(255) DEFAULT '',
    extra_options text,
    returned_text text,
    mda varchar(255) NOT NULL,
    date timestamp NOT NULL DEFAULT '2000-01-01 00:00:00',
    created datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    modified timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    active tinyint(1) NOT NULL DEFAULT 1,
    PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE log (
    timestamp datetime NOT NULL DEFAULT '2000-01-01 00:00:00',
    username varchar(255) NOT NULL,
    domain varchar(255) NOT NULL,
    action varchar(255) NOT NULL,
    data text NOT NULL,
    id int(11) NOT NULL AUTO_INCREMENT,
    PRIMARY KEY (id),
    KEY timestamp (timestamp),
    KEY domain_timestamp (domain, timestamp)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COMMENT='Postfix Admin - Log';
