package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
	"mailhost/testsupport"
)

// handoffMessage is a message of two recipients (one of them twice) to
// be handed to owner's worker as it is queued.
func handoffMessage(owner string, lease time.Duration) store.QueuedMessage {
	return store.QueuedMessage{Sender: "a@example.test", Origin: "submission", Body: []byte("Subject: x\r\n\r\nbody\r\n"),
		EnvID: "env-1", Ret: "HDRS",
		Recipients: []store.QueuedRecipient{
			{Address: "x@remote.example", Domain: "remote.example", Notify: "FAILURE", OrigRecipient: "X@remote.example"},
			{Address: "y@remote.example", Domain: "remote.example", NextHop: "[127.0.0.1]:2525"},
			{Address: "x@remote.example", Domain: "remote.example"},
		},
		Handoff: &store.QueueHandoff{Owner: owner, Lease: lease, Start: time.Now()}}
}

// TestEnqueueHandoff: a message handed over as it is queued is leased to
// its worker's node by the enqueue, exactly as a claim would lease it: no
// other node claims it, the job says what a claim would have read back
// (the body included), and its finish removes it.
func TestEnqueueHandoff(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	m := handoffMessage("node-a", time.Minute)
	ids, err := s.Enqueue(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	j := m.Handoff.Job
	if j.ID != ids[0] || j.QueueID == "" || j.Sender != m.Sender || string(j.Body) != string(m.Body) ||
		j.EnvID != "env-1" || j.Ret != "HDRS" || j.Origin != "submission" || !j.LeaseStart.Equal(m.Handoff.Start) {
		t.Fatalf("handed job %+v does not match the message queued as row %d", j, ids[0])
	}
	if len(j.Recipients) != 2 {
		t.Fatalf("handed job's recipients %+v, want the two queued", j.Recipients)
	}
	var until time.Time
	var owner, queueID string
	var arrival time.Time
	if err := s.Pool().QueryRow(ctx, `SELECT r.lease_owner, r.lease_until, q.queue_id, q.arrival_at
		FROM queue_recipients r JOIN queue q ON q.id = r.queue_id WHERE r.id = $1`, j.Recipients[0].ID).
		Scan(&owner, &until, &queueID, &arrival); err != nil {
		t.Fatal(err)
	}
	if owner != "node-a" || !until.Equal(j.LeaseUntil) || queueID != j.QueueID || !arrival.Equal(j.Arrival) {
		t.Fatalf("row: owner %q until %v queue id %q arrival %v; job %+v", owner, until, queueID, arrival, j)
	}
	x, y := j.Recipients[0], j.Recipients[1]
	if x.Address != "x@remote.example" || x.Notify != "FAILURE" || x.OrigRecipient != "X@remote.example" ||
		x.OrigRecipientType != "rfc822" || y.NextHop != "[127.0.0.1]:2525" || y.Domain != "remote.example" {
		t.Fatalf("handed recipients %+v", j.Recipients)
	}
	if c, err := s.ClaimQueue(ctx, "node-b", store.QueueClaim{Lease: time.Minute, Messages: 4, PerMessage: 10}); err != nil || len(c) != 0 {
		t.Fatalf("another node claimed %+v, %v; the hand-off's lease holds it", c, err)
	}
	res := []store.QueueResult{{ID: x.ID, State: store.RcptDelivered}, {ID: y.ID, State: store.RcptDelivered}}
	if _, err := s.FinishQueue(ctx, "node-a", store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil, Results: res}); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d messages left (%v), want none", left, err)
	}
}

// TestEnqueueHandoffLeaseRunsOut: the node handed a message dies before
// its worker starts (as kill -9 would): its lease runs out and any node
// claims the recipients; the dead node's job can no longer be recorded.
// A message on hold is handed to nobody.
func TestEnqueueHandoffLeaseRunsOut(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	m := handoffMessage("node-a", 200*time.Millisecond)
	if _, err := s.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	var jobs []store.QueueJob
	testsupport.Eventually(t, 10*time.Second, "node-b to claim the recipients after the lease", func() bool {
		var err error
		jobs, err = s.ClaimQueue(ctx, "node-b", store.QueueClaim{Lease: time.Minute, Messages: 1, PerMessage: 10})
		if err != nil {
			t.Fatal(err)
		}
		return len(jobs) > 0
	})
	if len(jobs) != 1 || claimed(jobs) != 2 || jobs[0].ID != m.Handoff.Job.ID {
		t.Fatalf("node-b claimed %+v, want the handed message's two recipients", jobs)
	}
	j := m.Handoff.Job
	res := []store.QueueResult{{ID: j.Recipients[0].ID, State: store.RcptDelivered}, {ID: j.Recipients[1].ID, State: store.RcptDelivered}}
	if _, err := s.FinishQueue(ctx, "node-a", store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil, Results: res}); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("the dead node's finish: %v, want ErrLeaseLost", err)
	}

	held := handoffMessage("node-a", time.Minute)
	held.Hold = true
	if _, err := s.Enqueue(ctx, held); err != nil {
		t.Fatal(err)
	}
	var leased int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
		WHERE q.hold AND r.lease_owner <> ''`).Scan(&leased); err != nil || leased != 0 || held.Handoff.Job.ID != 0 {
		t.Fatalf("message on hold: %d recipients leased (%v), job %+v; want none", leased, err, held.Handoff.Job)
	}
}

// TestFinishQueueSettledRemovesWithoutUpdate: a finish that settles a
// message's last recipients removes the message without writing their
// results first (a trigger counts the recipients' updates); one that
// leaves another recipient waiting writes its results and keeps the
// message.
func TestFinishQueueSettledRemovesWithoutUpdate(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE test_updates (id bigint)`,
		`CREATE FUNCTION test_count_update() RETURNS trigger LANGUAGE plpgsql AS
			$$BEGIN INSERT INTO test_updates VALUES (NEW.id); RETURN NEW; END$$`,
		`CREATE TRIGGER test_count_update AFTER UPDATE OF state ON queue_recipients
			FOR EACH ROW EXECUTE FUNCTION test_count_update()`,
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	updates := func() (n int) {
		t.Helper()
		if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM test_updates`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	queueMessages(t, s, 1, 2)
	one := store.QueueClaim{Lease: time.Minute, Messages: 1, PerMessage: 1}
	finish := func() {
		t.Helper()
		jobs, err := s.ClaimQueue(ctx, "node-a", one)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %+v, %v", jobs, err)
		}
		j := jobs[0]
		if _, err := s.FinishQueue(ctx, "node-a", store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil,
			Results: []store.QueueResult{{ID: j.Recipients[0].ID, State: store.RcptBounced, LastError: "550 no"}}}); err != nil {
			t.Fatal(err)
		}
	}
	finish()
	var state, lastErr string
	if err := s.Pool().QueryRow(ctx, `SELECT state, last_error FROM queue_recipients WHERE state <> 'queued'`).
		Scan(&state, &lastErr); err != nil || state != "bounced" || lastErr != "550 no" || updates() != 1 {
		t.Fatalf("first recipient: %s %q (%v), %d updates; want bounced with its error, 1 update", state, lastErr, err, updates())
	}
	finish()
	var left int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM queue`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d messages left (%v), want none", left, err)
	}
	if n := updates(); n != 1 {
		t.Errorf("%d recipient updates, want 1: the last recipient's results were written before the removal", n)
	}
}

// TestQueueBodyLZ4: a queued body larger than TOAST's threshold is
// compressed with LZ4 (migration 0028), cheaper than pglz.
func TestQueueBodyLZ4(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	m := handoffMessage("", time.Minute)
	m.Handoff = nil
	m.Body = []byte("Subject: x\r\n\r\n" + strings.Repeat("a line of a message body\r\n", 400))
	if _, err := s.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	var method string
	var body []byte
	if err := s.Pool().QueryRow(ctx, `SELECT pg_column_compression(body), body FROM queue`).Scan(&method, &body); err != nil {
		t.Fatal(err)
	}
	if method != "lz4" || string(body) != string(m.Body) {
		t.Fatalf("body compressed with %q (read back intact: %v), want lz4", method, string(body) == string(m.Body))
	}
}

// TestFinishQueueWholeJobSkipsMessageLock: the finish of a handed-over
// job that holds all its message's recipients does not lock the message's
// row (another transaction holds a lock that the lock would wait for); a
// finish of part of a message does.
func TestFinishQueueWholeJobSkipsMessageLock(t *testing.T) {
	s := testdb.Open(t)
	ctx := context.Background()
	m := handoffMessage("node-a", time.Minute)
	if _, err := s.Enqueue(ctx, m); err != nil {
		t.Fatal(err)
	}
	j := m.Handoff.Job
	if !j.Whole {
		t.Fatalf("handed job %+v is not Whole", j)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM queue WHERE id = $1 FOR SHARE`, j.ID); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Hour)
	f := store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil, Whole: true, Results: []store.QueueResult{
		{ID: j.Recipients[0].ID, State: store.RcptDelivered}, {ID: j.Recipients[1].ID, State: store.RcptDeferred, NextTry: later}}}
	fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := s.FinishQueue(fctx, "node-a", f); err != nil {
		t.Fatalf("whole finish under a share lock of the message: %v", err)
	}
	var states string
	if err := s.Pool().QueryRow(ctx, `SELECT string_agg(state, ',' ORDER BY id) FROM queue_recipients`).Scan(&states); err != nil ||
		states != "delivered,deferred" {
		t.Fatalf("states %q (%v)", states, err)
	}

	// Part of a message: the finish waits for the message's row.
	part := store.QueueFinish{Row: j.ID, Results: []store.QueueResult{{ID: j.Recipients[1].ID, State: store.RcptDelivered}}}
	if _, err := s.Pool().Exec(ctx, `UPDATE queue_recipients SET lease_owner = 'node-a', lease_until = now() + interval '1 minute'
		WHERE id = $1`, j.Recipients[1].ID); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := s.FinishQueue(pctx, "node-a", part); err == nil {
		t.Fatal("a finish of part of a message did not wait for the message's row lock")
	}
}
