package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

// A cached MTA-STS policy: saved, read back with its timers computed by
// the database, replaced by a newer fetch, deferred after a failed one;
// bad rows are refused by the table's checks.
func TestSTSPolicyCache(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	if _, err := s.STSPolicy(ctx, "example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("empty cache: %v", err)
	}
	p := store.STSPolicy{Domain: "example.com", ID: "20240101", Mode: "enforce", MaxAge: 86400,
		MX: []string{"mx.example.com", "*.example.net"}, Policy: "version: STSv1\n..."}
	if err := s.SaveSTSPolicy(ctx, p, time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.STSPolicy(ctx, "example.com")
	if err != nil || got.ID != p.ID || got.Mode != "enforce" || !slices.Equal(got.MX, p.MX) || got.Expired || got.RefreshDue || got.RetryWait {
		t.Fatalf("got %+v, %v", got, err)
	}
	if d := got.ExpiresAt.Sub(got.FetchedAt); d != 24*time.Hour {
		t.Errorf("expires %v after the fetch, want max_age", d)
	}
	if err := s.DeferSTSFetch(ctx, "example.com", time.Hour); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.STSPolicy(ctx, "example.com"); !got.RetryWait {
		t.Errorf("after a failed fetch: %+v, want retry_wait", got)
	}
	p.ID, p.Mode, p.MaxAge, p.MX = "2", "none", 0, nil
	if err := s.SaveSTSPolicy(ctx, p, 0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.STSPolicy(ctx, "example.com"); got.ID != "2" || !got.Expired || !got.RefreshDue || got.RetryWait || len(got.MX) != 0 {
		t.Errorf("replaced by a policy of max_age 0: %+v", got)
	}
	for _, bad := range []store.STSPolicy{
		{Domain: "Example.com", ID: "1", Mode: "enforce"},
		{Domain: "example.org", ID: "a-b", Mode: "enforce"},
		{Domain: "example.org", ID: "1", Mode: "strict"},
		{Domain: "example.org", ID: "1", Mode: "none", MaxAge: -1},
	} {
		if err := s.SaveSTSPolicy(ctx, bad, 0); err == nil {
			t.Errorf("saved %+v", bad)
		}
	}
}
