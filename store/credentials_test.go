package store_test

import (
	"context"
	"errors"
	"testing"

	"mailhost/auth"
	"mailhost/store"
	"mailhost/testdb"
)

func TestMailboxCredentials(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := s.Pool().Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`INSERT INTO domains (name) VALUES ('example.com'), ('off.example')`)
	exec(`UPDATE domains SET active = false WHERE name = 'off.example'`)
	exec(`INSERT INTO alias_domains (alias_domain, target_domain_id, active)
		SELECT 'alias.example', id, true FROM domains WHERE name = 'example.com'
		UNION ALL SELECT 'dead-alias.example', id, false FROM domains WHERE name = 'example.com'`)
	exec(`INSERT INTO mailboxes (domain_id, local_part, address, password, maildir, active)
		SELECT id, 'alice', 'alice@example.com', '{PLAIN}a', 'example.com/alice/', true FROM domains WHERE name = 'example.com'
		UNION ALL SELECT id, 'bob', 'bob@example.com', '{PLAIN}b', 'example.com/bob/', false FROM domains WHERE name = 'example.com'
		UNION ALL SELECT id, 'carol', 'carol@off.example', '{PLAIN}c', 'off.example/carol/', true FROM domains WHERE name = 'off.example'`)

	for _, tc := range []struct {
		addr, want string
		active     bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"alice@alias.example", "alice@example.com", true},
		{"alice@dead-alias.example", "alice@example.com", false},
		{"bob@example.com", "bob@example.com", false},
		{"carol@off.example", "carol@off.example", false},
	} {
		c, err := s.MailboxCredentials(ctx, tc.addr)
		if err != nil {
			t.Fatalf("%s: %v", tc.addr, err)
		}
		if c.Address != tc.want || c.Active != tc.active || c.MailboxID == 0 || c.Password == "" || c.Maildir == "" {
			t.Errorf("%s: got %+v; want address %s active %v", tc.addr, c, tc.want, tc.active)
		}
	}
	for _, addr := range []string{"nobody@example.com", "alice@nowhere.example", "alice@", ""} {
		_, err := s.MailboxCredentials(ctx, addr)
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%q: %v; want ErrNotFound", addr, err)
		}
	}

	alice, _ := s.MailboxCredentials(ctx, "alice@example.com")
	if err := s.RehashPassword(ctx, alice.MailboxID, "{PLAIN}a", "{PLAIN}new"); err != nil {
		t.Fatal(err)
	}
	// A stale old hash changes nothing: the password changed meanwhile.
	if err := s.RehashPassword(ctx, alice.MailboxID, "{PLAIN}a", "{PLAIN}other"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.MailboxCredentials(ctx, "alice@example.com"); c.Password != "{PLAIN}new" {
		t.Fatalf("password after rehash = %q; want {PLAIN}new", c.Password)
	}
}

// The Authenticator works end to end on the real store.
func TestAuthenticatorOnStore(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	if _, err := s.Pool().Exec(ctx, `INSERT INTO domains (name) VALUES ('example.com')`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO mailboxes (domain_id, local_part, address, password, maildir)
		SELECT id, 'alice', 'alice@example.com', '{PLAIN}secret', 'example.com/alice/' FROM domains`); err != nil {
		t.Fatal(err)
	}
	h := auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}
	a, err := auth.NewAuthenticator(s, auth.Options{Hasher: h, Throttle: auth.ThrottleConfig{MaxFailures: 5, Block: 60e9}})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := a.Login(ctx, auth.LoginRequest{Username: "Alice@Example.com", Password: "secret", Protocol: auth.ProtoPOP3})
	if err != nil || acct.Address != "alice@example.com" || acct.Maildir != "example.com/alice/" {
		t.Fatalf("Login = %+v, %v", acct, err)
	}
	c, _ := s.MailboxCredentials(ctx, "alice@example.com")
	if auth.Scheme(c.Password) != auth.SchemeArgon2ID {
		t.Fatalf("PLAIN hash not upgraded: %q", c.Password)
	}
	if _, err := a.Login(ctx, auth.LoginRequest{Username: "alice@example.com", Password: "wrong"}); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
}
