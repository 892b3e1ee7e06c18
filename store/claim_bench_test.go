package store_test

import (
	"context"
	"testing"
	"time"

	"mailhost/store"
	"mailhost/testdb"
)

func BenchmarkClaimFinish(b *testing.B) {
	t := &testing.T{}
	_ = t
	s := testdb.Open(b)
	ctx := context.Background()
	if _, err := s.Pool().Exec(ctx, `WITH q AS (
	INSERT INTO queue (sender, origin, size, body, expires_at)
	SELECT 'bench@bench.test', 'submission', 10, 'xxxxxxxxxx', now() + interval '5 days' FROM generate_series(1, 3000) i RETURNING id)
INSERT INTO queue_recipients (queue_id, recipient, domain) SELECT id, 'sink' || id || '@remote.test', 'remote.test' FROM q`); err != nil {
		b.Fatal(err)
	}
	s.Pool().Exec(ctx, "ANALYZE")
	b.ResetTimer()
	var claims, finishes time.Duration
	n := 0
	for n < b.N {
		t0 := time.Now()
		jobs, err := s.ClaimQueue(ctx, "a", store.QueueClaim{Lease: time.Minute, Messages: 1, Recipients: 10})
		claims += time.Since(t0)
		if err != nil || len(jobs) == 0 {
			b.Fatal(err, len(jobs))
		}
		for _, j := range jobs {
			t0 = time.Now()
			_, err := s.FinishQueue(ctx, "a", store.QueueFinish{QueueID: j.ID, Results: []store.QueueResult{{ID: j.Recipients[0].ID, State: "delivered"}}})
			finishes += time.Since(t0)
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
	}
	b.ReportMetric(float64(claims.Microseconds())/float64(n), "claim-us/msg")
	b.ReportMetric(float64(finishes.Microseconds())/float64(n), "finish-us/msg")
}

func BenchmarkFinishClaimNext(b *testing.B) {
	s := testdb.Open(b)
	ctx := context.Background()
	if _, err := s.Pool().Exec(ctx, `WITH q AS (
	INSERT INTO queue (sender, origin, size, body, expires_at)
	SELECT 'bench@bench.test', 'submission', 10, 'xxxxxxxxxx', now() + interval '5 days' FROM generate_series(1, 3000) i RETURNING id)
INSERT INTO queue_recipients (queue_id, recipient, domain) SELECT id, 'sink' || id || '@remote.test', 'remote.test' FROM q`); err != nil {
		b.Fatal(err)
	}
	s.Pool().Exec(ctx, "ANALYZE")
	b.ResetTimer()
	jobs, err := s.ClaimQueue(ctx, "a", store.QueueClaim{Lease: time.Minute, Messages: 1, Recipients: 10})
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < b.N; n++ {
		j := jobs[0]
		jobs, err = s.FinishQueue(ctx, "a", store.QueueFinish{QueueID: j.ID, Results: []store.QueueResult{{ID: j.Recipients[0].ID, State: "delivered"}},
			Next: store.QueueClaim{Lease: time.Minute, Messages: 1, Recipients: 10}})
		if err != nil || len(jobs) != 1 {
			b.Fatal(err, len(jobs))
		}
	}
}
