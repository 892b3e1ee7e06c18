package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"mailhost/auth"
	"mailhost/store"
	"mailhost/testdb"
)

func TestLoginThrottleRecords(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	keys := []string{"ip:192.0.2.1", "acct:alice@example.com"}
	// Concurrent updates of the same rows lose none.
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.UpdateLoginThrottle(ctx, keys, func(r store.ThrottleRecord) store.ThrottleRecord {
				r.Failures++
				r.LastFailure = t0
				return r
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	recs, known, err := s.LoginThrottle(ctx, keys, "alice@example.com", "192.0.2.1", t0.Add(-time.Hour))
	if err != nil || recs[keys[0]].Failures != 40 || recs[keys[1]].Failures != 40 || !known.IsZero() {
		t.Fatalf("after 40 concurrent failures: %v, known %v, %v", recs, known, err)
	}
	if _, err := s.UpdateLoginThrottle(ctx, keys[:1], func(r store.ThrottleRecord) store.ThrottleRecord {
		r.BlockedUntil = t0.Add(time.Hour)
		return r
	}); err != nil {
		t.Fatal(err)
	}
	blocks, err := s.LoginBlocks(ctx, t0)
	if err != nil || len(blocks) != 1 || blocks[0].Key != keys[0] || !blocks[0].BlockedUntil.Equal(t0.Add(time.Hour)) {
		t.Fatalf("blocks = %+v, %v", blocks, err)
	}
	// A success forgets the account's failures and remembers the client.
	if err := s.LoginSucceeded(ctx, keys[1], "alice@example.com", "192.0.2.1", t0, t0.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	recs, known, err = s.LoginThrottle(ctx, keys, "alice@example.com", "192.0.2.1", t0.Add(-time.Hour))
	if _, has := recs[keys[1]]; err != nil || has || !known.Equal(t0) {
		t.Fatalf("after a success: %v, known %v, %v", recs, known, err)
	}
	if _, known, _ = s.LoginThrottle(ctx, keys, "alice@example.com", "192.0.2.1", t0.Add(time.Minute)); !known.IsZero() {
		t.Fatal("a client known before knownSince counts as known")
	}
	// Unblocking removes the record; pruning forgets only what no longer matters.
	gone, err := s.DeleteLoginThrottle(ctx, []string{keys[0], "ip:198.51.100.1"}, t0)
	if err != nil || len(gone) != 1 || gone[0].Key != keys[0] {
		t.Fatalf("DeleteLoginThrottle = %+v, %v", gone, err)
	}
	if _, err := s.UpdateLoginThrottle(ctx, []string{"ip:old", "ip:new"}, func(r store.ThrottleRecord) store.ThrottleRecord {
		r.Failures, r.LastFailure = 1, t0
		if r.Key == "ip:old" {
			r.LastFailure = t0.Add(-2 * time.Hour)
		}
		return r
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneLoginThrottle(ctx, t0, t0.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	recs, _, _ = s.LoginThrottle(ctx, []string{"ip:old", "ip:new"}, "", "", t0)
	if _, old := recs["ip:old"]; old || recs["ip:new"].Failures != 1 {
		t.Fatalf("after pruning: %v", recs)
	}
}

// Parallel guesses through the Authenticator on the real store: the
// reservation holds with the state in PostgreSQL.
func TestParallelGuessesOnStore(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	h := auth.Hasher{Scheme: auth.SchemeArgon2ID, Argon2Time: 1, Argon2MemoryKiB: 64, Argon2Threads: 1}
	a, err := auth.NewAuthenticator(s, auth.Options{Hasher: h, ThrottleStore: s,
		Throttle: auth.ThrottleConfig{MaxFailures: 7, Block: time.Hour, Delay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("2001:db8:1:2::7")
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Login(ctx, auth.LoginRequest{Username: "alice@example.com", Password: fmt.Sprint(i), RemoteIP: ip})
			if !errors.Is(err, auth.ErrInvalidCredentials) && !errors.Is(err, auth.ErrThrottled) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := a.HashesComputed(); n > 7 {
		t.Fatalf("100 parallel guesses computed %d hashes; want at most 7", n)
	}
	blocks, err := s.LoginBlocks(ctx, time.Now())
	if err != nil || len(blocks) != 2 {
		recs, _, _ := s.LoginThrottle(ctx, []string{"acct:alice@example.com"}, "", "", time.Time{})
		t.Fatalf("blocks = %+v, %v; want the /64 and the account (%+v)", blocks, err, recs)
	}
}
