package store_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
	"mailhost/testsupport"
)

// queueMessages queues n messages with rcpts recipients each.
func queueMessages(t *testing.T, s *store.Store, n, rcpts int) {
	t.Helper()
	for m := 0; m < n; m++ {
		q := store.QueuedMessage{Sender: "a@example.test", Origin: "submission", Body: []byte("x")}
		for r := 0; r < rcpts; r++ {
			q.Recipients = append(q.Recipients, store.QueuedRecipient{
				Address: fmt.Sprintf("m%dr%d@remote.example", m, r), Domain: "remote.example"})
		}
		if _, err := s.Enqueue(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

func claimed(jobs []store.QueueJob) (n int) {
	for _, j := range jobs {
		n += len(j.Recipients)
	}
	return n
}

// TestClaimQueueLimits: a claim takes all the due recipients of the
// messages it picks, up to its recipient limit; what another owner holds
// is skipped; a message's remaining recipients come with a later claim.
func TestClaimQueueLimits(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	queueMessages(t, s, 3, 3)

	before := time.Now()
	a, err := s.ClaimQueue(ctx, "node-a", store.QueueClaim{Lease: time.Minute, Messages: 1, PerMessage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || claimed(a) != 3 {
		t.Fatalf("node-a: %d jobs, %d recipients; want 1 message with its 3 recipients", len(a), claimed(a))
	}
	if a[0].LeaseStart.Before(before) || a[0].LeaseStart.After(time.Now()) {
		t.Errorf("LeaseStart %v is not the time of the claim", a[0].LeaseStart)
	}

	b, err := s.ClaimQueue(ctx, "node-b", store.QueueClaim{Lease: time.Minute, Messages: 1, PerMessage: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1 || claimed(b) != 2 || b[0].ID == a[0].ID {
		t.Fatalf("node-b: %+v; want 2 recipients of the second message", b)
	}
	b2, err := s.ClaimQueue(ctx, "node-b", store.QueueClaim{Lease: time.Minute, Messages: 4, PerMessage: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(b2) != 2 || claimed(b2) != 4 || b2[0].ID != b[0].ID || b2[1].ID == a[0].ID {
		t.Fatalf("node-b again: %+v; want the second message's last recipient and the third message", b2)
	}
	if c, err := s.ClaimQueue(ctx, "node-c", store.QueueClaim{Lease: time.Minute, Messages: 4, PerMessage: 10}); err != nil || len(c) != 0 {
		t.Fatalf("node-c: %+v, %v; want nothing left", c, err)
	}
}

// TestFinishQueueClaimsNext: a worker's results and its next claim go in
// one transaction; a lost lease writes nothing and claims nothing.
func TestFinishQueueClaimsNext(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	queueMessages(t, s, 3, 1)
	one := store.QueueClaim{Lease: time.Minute, Messages: 1, PerMessage: 10}
	jobs, err := s.ClaimQueue(ctx, "node-a", one)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %+v, %v", jobs, err)
	}
	first := jobs[0]
	done := store.QueueFinish{Row: first.ID, Next: one,
		Results: []store.QueueResult{{ID: first.Recipients[0].ID, State: store.RcptDelivered}}}

	if next, err := s.FinishQueue(ctx, "node-b", done); !errors.Is(err, store.ErrLeaseLost) || next != nil {
		t.Fatalf("finish by another owner: %+v, %v; want ErrLeaseLost and nothing claimed", next, err)
	}
	var leased int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue_recipients WHERE lease_owner <> ''`).Scan(&leased); err != nil {
		t.Fatal(err)
	}
	if leased != 1 {
		t.Fatalf("%d recipients leased after the refused finish, want 1", leased)
	}

	before := time.Now()
	next, err := s.FinishQueue(ctx, "node-a", done)
	if err != nil || len(next) != 1 || claimed(next) != 1 || next[0].ID == first.ID {
		t.Fatalf("finish: %+v, %v; want the next message", next, err)
	}
	if next[0].LeaseStart.Before(before) {
		t.Errorf("next job's LeaseStart %v is before the finish began", next[0].LeaseStart)
	}
	var owner string
	if err := s.Pool().QueryRow(ctx, `SELECT lease_owner FROM queue_recipients WHERE id = $1`,
		next[0].Recipients[0].ID).Scan(&owner); err != nil || owner != "node-a" {
		t.Fatalf("next job's lease: %q, %v", owner, err)
	}
	var left int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue WHERE id = $1`, first.ID).Scan(&left); err != nil || left != 0 {
		t.Fatalf("finished message still queued (%d, %v)", left, err)
	}
}

// TestFinishQueueChecksTheLease: a node whose lease ran out and that
// claimed the same recipient again cannot record the first attempt's
// results: only the attempt of the lease it holds now writes.
func TestFinishQueueChecksTheLease(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	queueMessages(t, s, 1, 1)
	c := store.QueueClaim{Lease: 200 * time.Millisecond, Messages: 1, PerMessage: 10}
	first, err := s.ClaimQueue(ctx, "node-a", c)
	if err != nil || len(first) != 1 {
		t.Fatalf("first claim: %v %v", first, err)
	}
	var second []store.QueueJob
	testsupport.Eventually(t, 30*time.Second, "the first lease to run out and a second claim", func() bool {
		if second, err = s.ClaimQueue(ctx, "node-a", c); err != nil {
			t.Fatal(err)
		}
		return len(second) == 1
	})
	if !second[0].LeaseUntil.After(first[0].LeaseUntil) {
		t.Fatalf("leases: first until %v, second until %v", first[0].LeaseUntil, second[0].LeaseUntil)
	}
	result := func(j store.QueueJob) store.QueueFinish {
		return store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil,
			Results: []store.QueueResult{{ID: j.Recipients[0].ID, State: store.RcptDelivered}}}
	}
	if _, err := s.FinishQueue(ctx, "node-a", result(first[0])); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the stale attempt's results: %v, want ErrLeaseLost", err)
	}
	if _, err := s.FinishQueue(ctx, "node-a", result(second[0])); err != nil {
		t.Fatalf("the current attempt's results: %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("queue holds %d messages (%v); want the delivered one gone", n, err)
	}
}

// TestFinishQueuePartlyLostLease: when one of a job's recipients was
// taken by another node, the finish writes nothing at all: not the other
// recipient's result, not the notices, not the removal, no next claim.
func TestFinishQueuePartlyLostLease(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	queueMessages(t, s, 2, 2)
	one := store.QueueClaim{Lease: time.Minute, Messages: 1, PerMessage: 10}
	jobs, err := s.ClaimQueue(ctx, "node-a", one)
	if err != nil || len(jobs) != 1 || claimed(jobs) != 2 {
		t.Fatalf("claim: %+v, %v", jobs, err)
	}
	j := jobs[0]
	if _, err := s.Pool().Exec(ctx, `UPDATE queue_recipients SET lease_owner = 'node-b' WHERE id = $1`,
		j.Recipients[1].ID); err != nil {
		t.Fatal(err)
	}
	notice := store.QueuedMessage{Origin: "bounce", Body: []byte("notice"),
		Recipients: []store.QueuedRecipient{{Address: "a@example.test", Domain: "example.test"}}}
	f := store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil, Next: one, Notices: []store.QueuedMessage{notice},
		Results: []store.QueueResult{{ID: j.Recipients[0].ID, State: store.RcptDelivered},
			{ID: j.Recipients[1].ID, State: store.RcptBounced}}}
	if next, err := s.FinishQueue(ctx, "node-a", f); !errors.Is(err, store.ErrLeaseLost) || next != nil {
		t.Fatalf("finish: %+v, %v; want ErrLeaseLost and nothing claimed", next, err)
	}
	var states string
	var msgs, leased int
	if err := s.Pool().QueryRow(ctx, `SELECT string_agg(state, ',' ORDER BY id), count(*) FILTER (WHERE lease_owner = 'node-a')
		FROM queue_recipients WHERE queue_id = $1`, j.ID).Scan(&states, &leased); err != nil {
		t.Fatal(err)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue`).Scan(&msgs); err != nil {
		t.Fatal(err)
	}
	if states != "queued,queued" || leased != 1 || msgs != 2 {
		t.Fatalf("after the refused finish: states %s, %d leased by node-a, %d messages; want queued,queued, 1, 2 (no notice)",
			states, leased, msgs)
	}
}

// Two workers finishing the last two recipients of a message at the same
// moment remove it: neither may leave it behind with nothing to send.
func TestFinishQueueParallelLastRecipients(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	const n = 30
	queueMessages(t, s, n, 2)
	one := store.QueueClaim{Lease: time.Minute, Messages: 1, PerMessage: 1}
	type pair [2]store.QueueJob
	var pairs []pair
	for range n {
		var p pair
		for i, owner := range []string{"node-a", "node-b"} {
			jobs, err := s.ClaimQueue(ctx, owner, one)
			if err != nil || len(jobs) != 1 || len(jobs[0].Recipients) != 1 {
				t.Fatalf("claim by %s: %+v, %v", owner, jobs, err)
			}
			p[i] = jobs[0]
		}
		if p[0].ID != p[1].ID {
			t.Fatalf("the two claims took messages %d and %d, want one message's two recipients", p[0].ID, p[1].ID)
		}
		pairs = append(pairs, p)
	}
	var wg sync.WaitGroup
	for _, p := range pairs {
		start := make(chan struct{})
		for i, owner := range []string{"node-a", "node-b"} {
			j := p[i]
			wg.Go(func() {
				<-start
				f := store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil,
					Results: []store.QueueResult{{ID: j.Recipients[0].ID, State: store.RcptDelivered}}}
				if _, err := s.FinishQueue(ctx, owner, f); err != nil {
					t.Errorf("finish by %s: %v", owner, err)
				}
			})
		}
		close(start)
	}
	wg.Wait()
	var left int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d of %d messages left in the queue with every recipient delivered", left, n)
	}
}

// TestMigration0027RemovesSettledMessages: a message the finish race left
// with every recipient settled goes; one with a recipient waiting stays.
func TestMigration0027RemovesSettledMessages(t *testing.T) {
	ctx := context.Background()
	s, m27 := beforeMigration(t, 27)
	queueMessages(t, s, 2, 2)
	var settled int64
	if err := s.Pool().QueryRow(ctx, `SELECT min(id) FROM queue`).Scan(&settled); err != nil {
		t.Fatal(err)
	}
	mustExec(t, s, `UPDATE queue_recipients SET state = 'delivered' WHERE queue_id = `+strconv.FormatInt(settled, 10))
	mustExec(t, s, `UPDATE queue_recipients SET state = 'bounced' WHERE id = (SELECT max(id) FROM queue_recipients)`)
	mustExec(t, s, m27)
	var ids []int64
	rows, err := s.Pool().Query(ctx, `SELECT id FROM queue ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	if len(ids) != 1 || ids[0] == settled {
		t.Errorf("messages left after 0027: %v (the settled one was %d); want only the one with a recipient waiting", ids, settled)
	}
}
