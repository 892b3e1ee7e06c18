-- Rows of every kind the import reads, odd ones included; the same for
-- MySQL/MariaDB and PostgreSQL (flags written '1'/'0', which both read).
-- Each mailbox's password is "pw-" and its local part.
INSERT INTO domain (domain, description, aliases, mailboxes, maxquota, quota, transport, backupmx, active) VALUES
 ('ALL', '', 0, 0, 0, 0, '', '0', '1'),
 ('example.org', 'main domain', 20, 10, 100, 1000, 'virtual', '0', '1'),
 ('example.net', 'inactive domain', -1, 0, 0, 0, 'lmtp:unix:private/dovecot-lmtp', '0', '0'),
 ('backup.example', 'backup MX', 0, 0, 0, 0, 'relay:[mx.backup.example]:2525', '1', '1'),
 ('alias.example', 'alias of example.org', 0, 0, 0, 0, 'virtual', '0', '1');
INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES ('alias.example', 'example.org', '1');
INSERT INTO mailbox (username, password, name, maildir, quota, local_part, domain, active) VALUES
 ('alice@example.org', '{SHA512-CRYPT}$6$YIrzB8pW0osps6Uq$0aD1Xk3CeMI5M3RtXM/24ck2DI7lpzY2XmRo6Gq3qPLFCec2vgEtnhezP0yfEc3B8FN0xwz1BGZ4ZoubYrh8l/', 'Alice', 'example.org/alice/', 51200000, 'alice', 'example.org', '1'),
 ('bob@example.org', '$1$fpx.Fnmo$x8urLkB7GUon.9HsjTW7i/', 'Bob', 'example.org/bob/', 0, 'bob', 'example.org', '1'),
 ('carol@example.org', '{BLF-CRYPT}$2y$05$ev2ua372DrzSmC34OLdLE.P1RjCACY0KF3r9FhjiT3u1x9FaeAN0C', 'Carol', 'legacy/carol-maildir/', 0, 'carol', 'example.org', '1'),
 ('dave@example.org', '{ARGON2ID}$argon2id$v=19$m=64,t=1,p=1$OwloB8OInRf0VXfCnYQhhg$vOKH8tqaFZYaD4ZfpKQfFMlmCUXF2k/LsVu9geMV4I4', 'Dave (left)', 'example.org/dave/', 0, 'dave', 'example.org', '0'),
 ('erin@example.net', '{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$UhsvNscdFVU1qsUw3YCAsw$Gywc+olxuu5MqOT62duI1uIQwKhWv+u3zuAywrvSSWA', 'Erin', 'example.net/erin/', 0, 'erin', 'example.net', '1'),
 ('frank@example.net', '{SHA256-CRYPT}$5$wClQTeGraKwDCUGY$M7z5VexoqWTNzCno2xk/QTYwJwU5/RT7wd8hDPIakY1', 'Frank', 'example.net/frank/', 0, 'frank', 'example.net', '1'),
 ('gina@example.org', 'pw-gina', 'Gina (cleartext)', 'example.org/gina/', 0, 'gina', 'example.org', '1');
INSERT INTO alias (address, goto, domain, active) VALUES
 ('alice@example.org', 'alice@example.org,alice#example.org@autoreply.example.org', 'example.org', '1'),
 ('bob@example.org', 'bob@example.org,bob@elsewhere.test', 'example.org', '1'),
 ('carol@example.org', 'carol.ext@far.test', 'example.org', '1'),
 ('dave@example.org', 'dave@example.org', 'example.org', '0'),
 ('erin@example.net', 'erin@example.net', 'example.net', '1'),
 ('frank@example.net', 'frank@example.net', 'example.net', '1'),
 ('gina@example.org', 'gina@example.org', 'example.org', '1'),
 ('team@example.org', 'alice@example.org, bob@example.org,
carol@example.org,x1@far.test,x2@far.test,x3@far.test,x4@far.test,x5@far.test', 'example.org', '1'),
 ('@example.org', 'alice@example.org', 'example.org', '1'),
 ('old@example.org', 'bob@example.org', 'example.org', '0'),
 ('loop@example.org', 'loop@example.org', 'example.org', '1'),
 ('postmaster@example.net', 'frank@example.net', 'example.net', '1');
INSERT INTO admin (username, password, superadmin, active) VALUES
 ('admin@example.org', '{SSHA512}rES5VY16Kzp2NeCKXR4Uxnb+kDA+JlKYJysGg4R1T7Qk5an6wtu4glCvXTwi2A29tO4cp/AzYA71czt6qmquRUNXj+s=', '1', '1'),
 ('domadm@example.org', '$6$LaX/p0boowyWj16x$owQ1sWqEzX1xt3jvKD2yZLSk7fAkMfOy4r2V8K5cFl7XpIvCLGDvWFazgd6sV3yeT353FZmoK1cxEMpCCKCHn/', '0', '1'),
 ('oldsuper', '{MD5-CRYPT}$1$kP3qixFx$R5RRdZm/DMnrGizdSk1Tw.', '0', '1'),
 ('nobody@example.org', '$6$LaX/p0boowyWj16x$owQ1sWqEzX1xt3jvKD2yZLSk7fAkMfOy4r2V8K5cFl7XpIvCLGDvWFazgd6sV3yeT353FZmoK1cxEMpCCKCHn/', '0', '0');
INSERT INTO domain_admins (username, domain, active) VALUES
 ('admin@example.org', 'ALL', '1'),
 ('domadm@example.org', 'example.org', '1'),
 ('domadm@example.org', 'example.net', '1'),
 ('oldsuper', 'ALL', '1');
INSERT INTO vacation (email, subject, body, cache, domain, active, activefrom, activeuntil, interval_time) VALUES
 ('alice@example.org', 'Away', 'Back on Monday.', '', 'example.org', '1', '2000-01-01 00:00:00', '2038-01-18 00:00:00', 0),
 ('bob@example.org', 'Conference', 'Until Friday.', '', 'example.org', '0', '2030-05-01 00:00:00', '2030-05-08 00:00:00', 86400);
INSERT INTO quota2 (username, bytes, messages) VALUES ('alice@example.org', 999, 9);
INSERT INTO fetchmail (domain, mailbox, src_server, src_user, src_password, src_folder, mda) VALUES
 ('example.org', 'bob@example.org', 'pop.isp.test', 'bob.isp', 'c2VjcmV0', '', '');
