package store_test

import (
	"context"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

// The schema itself refuses bad rows, so even a bug cannot store them.
func TestConstraintsRejectBadRows(t *testing.T) {
	ctx := context.Background()
	s := testdb.Open(t)
	exec := func(sql string, args ...any) error {
		_, err := s.Pool().Exec(ctx, sql, args...)
		return err
	}
	must := func(sql string, args ...any) {
		t.Helper()
		if err := exec(sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	must(`INSERT INTO domains (name) VALUES ('example.com'), ('example.org')`)
	must(`INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
	      SELECT id, 'alice', 'alice@example.com', '{PLAIN}x', 'example.com/alice/' FROM domains WHERE name = 'example.com'`)
	must(`INSERT INTO aliases (domain_id, address, destinations)
	      SELECT id, 'sales@example.com', ARRAY['alice@example.com'] FROM domains WHERE name = 'example.com'`)
	must(`INSERT INTO folders (mailbox_id, name) SELECT id, 'INBOX' FROM mailboxes`)

	for _, tc := range []struct{ name, sql string }{
		{"duplicate domain in other case", `INSERT INTO domains (name) VALUES ('Example.COM')`},
		{"duplicate domain", `INSERT INTO domains (name) VALUES ('example.com')`},
		{"domain with a space", `INSERT INTO domains (name) VALUES ('exa mple.com')`},
		{"empty domain", `INSERT INTO domains (name) VALUES ('')`},
		{"negative domain quota", `INSERT INTO domains (name, quota_bytes) VALUES ('neg.example', -1)`},
		{"negative max mailboxes", `INSERT INTO domains (name, max_mailboxes) VALUES ('neg.example', -1)`},
		{"unknown kind", `INSERT INTO domains (name, kind) VALUES ('k.example', 'virtual')`},
		{"bad relay next hop", `INSERT INTO domains (name, kind, relay_to) VALUES ('r.example', 'relay', 'mx example')`},
		{"domain equal to alias domain", `INSERT INTO alias_domains (alias_domain, target_domain_id) SELECT 'example.org', id FROM domains WHERE name = 'example.com'`},
		{"duplicate mailbox address in other case", `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, 'ALICE', 'ALICE@example.com', '{PLAIN}x', 'example.com/ALICE/' FROM domains WHERE name = 'example.com'`},
		{"duplicate mailbox address", `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, 'alice', 'alice@example.com', '{PLAIN}x', 'example.com/alice2/' FROM domains WHERE name = 'example.org'`},
		{"mailbox address taken by an alias", `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, 'sales', 'sales@example.com', '{PLAIN}x', 'example.com/sales/' FROM domains WHERE name = 'example.com'`},
		{"alias address taken by a mailbox", `INSERT INTO aliases (domain_id, address, destinations)
			SELECT id, 'alice@example.com', ARRAY['x@example.org'] FROM domains WHERE name = 'example.com'`},
		{"negative mailbox quota", `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir, quota_bytes)
			SELECT id, 'bob', 'bob@example.com', '{PLAIN}x', 'example.com/bob/', -1 FROM domains WHERE name = 'example.com'`},
		{"negative usage", `UPDATE mailboxes SET used_bytes = -1`},
		{"empty password", `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, 'carol', 'carol@example.com', '', 'example.com/carol/' FROM domains WHERE name = 'example.com'`},
		{"maildir escaping the root", `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, 'dave', 'dave@example.com', '{PLAIN}x', '../etc/' FROM domains WHERE name = 'example.com'`},
		{"address not matching local part", `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
			SELECT id, 'erin', 'frank@example.com', '{PLAIN}x', 'example.com/erin/' FROM domains WHERE name = 'example.com'`},
		{"alias to nothing", `INSERT INTO aliases (domain_id, address, destinations)
			SELECT id, 'empty@example.com', ARRAY[]::text[] FROM domains WHERE name = 'example.com'`},
		{"alias to an empty address", `INSERT INTO aliases (domain_id, address, destinations)
			SELECT id, 'blank@example.com', ARRAY['']::text[] FROM domains WHERE name = 'example.com'`},
		{"alias to itself", `INSERT INTO aliases (domain_id, address, destinations)
			SELECT id, 'self@example.com', ARRAY['self@example.com'] FROM domains WHERE name = 'example.com'`},
		{"alias in upper case", `INSERT INTO aliases (domain_id, address, destinations)
			SELECT id, 'Info@example.com', ARRAY['alice@example.com'] FROM domains WHERE name = 'example.com'`},
		{"forwarding to nothing", `INSERT INTO forwardings (mailbox_id, destinations) SELECT id, '{}' FROM mailboxes`},
		{"domain with mailboxes deleted", `DELETE FROM domains WHERE name = 'example.com'`},
		{"message with negative size", `INSERT INTO messages (folder_id, uid, modseq, key, filename, size, internal_date)
			SELECT f.id, 1, 1, 'k', 'k', -5, now() FROM folders f`},
		{"folder uidvalidity zero", `INSERT INTO folders (mailbox_id, name, uidvalidity) SELECT id, 'X', 0 FROM mailboxes`},
		{"access rule with bad action", `INSERT INTO access_rules (kind, pattern, action) VALUES ('client', '192.0.2.1', 'MAYBE')`},
		{"access rule reply with a line break", `INSERT INTO access_rules (kind, pattern, action) VALUES ('client', '192.0.2.1', E'REJECT a\r\n250 ok')`},
		{"relocated to a line break", `INSERT INTO relocated (address, new_address) VALUES ('old@example.com', E'x\r\n250 ok')`},
		{"vacation ending before it starts", `INSERT INTO vacations (mailbox_id, subject, body, active_from, active_until)
			SELECT id, 'away', 'b', now(), now() - interval '1 day' FROM mailboxes`},
		{"queue size not matching body", `INSERT INTO queue (queue_id, origin, size, body, expires_at)
			VALUES ('0662A9B1C4D2E1A3F07C', 'smtp', 10, 'abc', now() + interval '5 days')`},
		{"queue id not of the format", `INSERT INTO queue (queue_id, origin, size, body, expires_at)
			VALUES ('0662a9b1c4d2e1a3f07c', 'smtp', 3, 'abc', now() + interval '5 days')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := exec(tc.sql)
			if err == nil {
				t.Fatal("accepted")
			}
			if !store.IsConstraint(err, "") && !isCheck(err) {
				t.Fatalf("rejected, but not by a constraint: %v", err)
			}
		})
	}
	// Nothing of the above was stored.
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM domains) + (SELECT count(*) FROM mailboxes) + (SELECT count(*) FROM aliases)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("%d rows in domains+mailboxes+aliases, want the 4 good ones", n)
	}
}
