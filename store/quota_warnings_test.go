package store_test

import (
	"context"
	"slices"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

// The mailboxes QuotaWarningCandidates names are those QuotaWarning would
// warn (a threshold crossed since the last warning) or lower (a raised
// quota), and no others; QuotaWarning warns once.
func TestQuotaWarningCandidates(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	alice, _ := sieveFixture(t, s)
	var bob int64
	if err := s.Pool().QueryRow(ctx, `SELECT id FROM mailboxes WHERE address = 'bob@example.test'`).Scan(&bob); err != nil {
		t.Fatal(err)
	}
	ts := []int{80, 95}
	set := func(id, quota, used int64) {
		t.Helper()
		mustExec(t, s, `UPDATE mailboxes SET quota_bytes = $2, used_bytes = $3 WHERE id = $1`, id, quota, used)
	}
	candidates := func(ids []int64) []int64 {
		t.Helper()
		c, err := s.QuotaWarningCandidates(ctx, ts, ids)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	build := func(u store.QuotaUsage) *store.QueuedMessage {
		return &store.QueuedMessage{Origin: "notice", Body: []byte("Subject: full\r\n\r\nx\r\n"),
			Recipients: []store.QueuedRecipient{{Address: u.Address, Domain: u.Domain}}}
	}
	warn := func(id int64, want bool) {
		t.Helper()
		if sent, err := s.QuotaWarning(ctx, id, ts, build); err != nil || sent != want {
			t.Fatalf("QuotaWarning(%d): %v %v, want %v", id, sent, err, want)
		}
	}
	set(alice, 1000, 850)
	set(bob, 0, 5000) // no quota: never
	if c := candidates(nil); !slices.Equal(c, []int64{alice}) {
		t.Fatalf("candidates: %v, want [%d]", c, alice)
	}
	if c := candidates([]int64{bob}); len(c) != 0 {
		t.Fatalf("candidates among bob: %v", c)
	}
	warn(alice, true)
	warn(alice, false)
	if c := candidates(nil); len(c) != 0 {
		t.Fatalf("candidates once warned: %v", c)
	}
	// A raised quota: the level goes down without a warning, so the next
	// crossing warns again.
	set(alice, 10000, 850)
	if c := candidates(nil); !slices.Equal(c, []int64{alice}) {
		t.Fatalf("candidates after a raised quota: %v", c)
	}
	warn(alice, false)
	if c := candidates(nil); len(c) != 0 {
		t.Fatalf("candidates once lowered: %v", c)
	}
	set(alice, 10000, 8100)
	warn(alice, true)
}
