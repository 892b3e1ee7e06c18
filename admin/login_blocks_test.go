package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"mailhost/auth"
	"mailhost/store"
	"mailhost/testdb"
)

var cheapHasher = auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}

// guarded is a service whose logins go through an Authenticator with the
// throttle state in the test's database.
func guarded(t *testing.T, maxFailures int) (*Service, *auth.Authenticator, *store.Store) {
	t.Helper()
	st := testdb.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := auth.NewAuthenticator(st, auth.Options{Hasher: cheapHasher, ThrottleStore: st, Log: log,
		Throttle: auth.ThrottleConfig{MaxFailures: maxFailures, Block: time.Hour, Delay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return New(st, Options{Hasher: cheapHasher, Log: log, Logins: a}), a, st
}

func TestUnblockKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.7", "ip:192.0.2.7"},
		{"::ffff:192.0.2.7", "ip:192.0.2.7"},
		{"192.0.2.7/32", "ip:192.0.2.7"},
		{"2001:db8:1:2::99", "ip:2001:db8:1:2::/64"},
		{"2001:DB8:1:2::/64", "ip:2001:db8:1:2::/64"},
		{" Alice@Example.COM ", "acct:alice@example.com"},
		{"root", "acct:root"},
		{"192.0.2.0/24", ""},
		{"", ""},
		{"a b", ""},
	} {
		got, ok := unblockKey(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("unblockKey(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// Parallel admin logins from one address check at most max_failures
// passwords, as the mail protocols' do; the block is listed and lifted.
func TestAdminLoginsShareTheThrottle(t *testing.T) {
	s, a, _ := guarded(t, 4)
	ctx := context.Background()
	if _, err := s.CreateAdmin(ctx, CLI(), AdminInput{Username: new("root"), Password: new("right-password"), Superadmin: new(true)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.AdminLogin(ctx, "root", fmt.Sprint("guess", i), "192.0.2.7")
			if k := KindOf(err); k != Unauthorized && k != Throttled {
				t.Errorf("guess %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if n := a.HashesComputed(); n > 4 {
		t.Fatalf("60 parallel admin logins computed %d hashes; want at most 4", n)
	}
	if _, err := s.AdminLogin(ctx, "root", "right-password", "192.0.2.7"); KindOf(err) != Throttled {
		t.Fatalf("right password from the blocked address: %v; want Throttled", err)
	}
	blocks, err := s.LoginBlocks(ctx, CLI())
	if err != nil || len(blocks) != 2 {
		t.Fatalf("LoginBlocks = %+v, %v; want the address and the account", blocks, err)
	}
	if _, err := s.LoginBlocks(ctx, Actor{Kind: "admin", Username: "dom"}); KindOf(err) != Forbidden {
		t.Fatalf("a domain admin lists blocks: %v; want Forbidden", err)
	}
	if _, err := s.Unblock(ctx, Actor{Kind: "admin", Username: "dom"}, UnblockInput{Target: "192.0.2.7"}); KindOf(err) != Forbidden {
		t.Fatalf("a domain admin unblocks: %v; want Forbidden", err)
	}
	v, err := s.Unblock(ctx, CLI(), UnblockInput{Target: "192.0.2.7"})
	if err != nil || v.Kind != "address" || v.Subject != "192.0.2.7" || v.Until.IsZero() {
		t.Fatalf("Unblock = %+v, %v", v, err)
	}
	if _, err := s.Unblock(ctx, CLI(), UnblockInput{Target: "192.0.2.7"}); KindOf(err) != NotFound {
		t.Fatalf("second unblock: %v; want NotFound", err)
	}
	var ve *ValidationError
	if _, err := s.Unblock(ctx, CLI(), UnblockInput{Target: "192.0.2.0/24"}); !errors.As(err, &ve) {
		t.Fatalf("unblock of a /24: %v; want a validation error", err)
	}
	// The account stays blocked for unknown addresses; the owner's known
	// address would pass, this one is new.
	if _, err := s.AdminLogin(ctx, "root", "right-password", "192.0.2.7"); KindOf(err) != Throttled {
		t.Fatalf("account still blocked: %v; want Throttled", err)
	}
	if _, err := s.Unblock(ctx, CLI(), UnblockInput{Target: "ROOT"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AdminLogin(ctx, "root", "right-password", "192.0.2.7"); err != nil {
		t.Fatalf("after both unblocks: %v", err)
	}
}

// Invalid API tokens count against the client address; after
// max_failures the address is refused without looking tokens up.
func TestTokenChecksShareTheThrottle(t *testing.T) {
	s, _, _ := guarded(t, 3)
	ctx := context.Background()
	for i := range 3 {
		if _, err := s.Authenticate(ctx, fmt.Sprint(TokenPrefix, "nope", i), "2001:db8::1"); KindOf(err) != Unauthorized {
			t.Fatalf("invalid token %d: %v", i, err)
		}
	}
	if _, err := s.Authenticate(ctx, TokenPrefix+"nope", "2001:db8::ffff"); KindOf(err) != Throttled {
		t.Fatalf("from the same /64 after 3 failures: %v; want Throttled", err)
	}
	if _, err := s.Authenticate(ctx, TokenPrefix+"nope", "2001:db8:0:1::1"); KindOf(err) != Unauthorized {
		t.Fatalf("another /64: %v; want Unauthorized", err)
	}
}
