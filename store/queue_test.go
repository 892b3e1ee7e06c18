package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

// TestClaimQueueLimits: a claim takes whole messages up to its message
// limit and no more recipients than its recipient limit; what another
// owner holds is skipped; a message's remaining recipients come with a
// later claim.
func TestClaimQueueLimits(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	for m := 0; m < 3; m++ {
		q := store.QueuedMessage{Sender: "a@example.test", Origin: "submission", Body: []byte("x")}
		for r := 0; r < 3; r++ {
			q.Recipients = append(q.Recipients, store.QueuedRecipient{
				Address: fmt.Sprintf("m%dr%d@remote.example", m, r), Domain: "remote.example"})
		}
		if _, err := s.Enqueue(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	count := func(jobs []store.QueueJob) (n int) {
		for _, j := range jobs {
			n += len(j.Recipients)
		}
		return n
	}

	before := time.Now()
	a, err := s.ClaimQueue(ctx, "node-a", store.QueueClaim{Lease: time.Minute, Messages: 2, Recipients: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || count(a) != 6 {
		t.Fatalf("node-a: %d jobs, %d recipients; want 2 messages with their 3 recipients each", len(a), count(a))
	}
	if a[0].LeaseStart.Before(before) || a[0].LeaseStart.After(time.Now()) {
		t.Errorf("LeaseStart %v is not the time of the claim", a[0].LeaseStart)
	}

	b, err := s.ClaimQueue(ctx, "node-b", store.QueueClaim{Lease: time.Minute, Messages: 5, Recipients: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1 || count(b) != 2 || b[0].ID == a[0].ID || b[0].ID == a[1].ID {
		t.Fatalf("node-b: %+v; want 2 recipients of the third message", b)
	}
	b2, err := s.ClaimQueue(ctx, "node-b", store.QueueClaim{Lease: time.Minute, Messages: 5, Recipients: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(b2) != 1 || count(b2) != 1 || b2[0].ID != b[0].ID {
		t.Fatalf("node-b again: %+v; want the third message's last recipient", b2)
	}
	if c, err := s.ClaimQueue(ctx, "node-c", store.QueueClaim{Lease: time.Minute, Messages: 5, Recipients: 100}); err != nil || len(c) != 0 {
		t.Fatalf("node-c: %+v, %v; want nothing left", c, err)
	}
}
