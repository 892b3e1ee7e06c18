package mta

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"mailhost/dnsres"
	"mailhost/store"
)

// releasingQueue records the recipients given back.
type releasingQueue struct {
	QueueStore
	released []int64
}

func (q *releasingQueue) ReleaseQueue(_ context.Context, _ string, ids []int64) error {
	q.released = append(q.released, ids...)
	return nil
}

// TestTakeHandedStaleGoesBack: a handed job that waited for a worker
// until less than a quarter of the lease is left for its attempt is given
// back to the queue, not attempted; a fresh one is taken.
func TestTakeHandedStaleGoesBack(t *testing.T) {
	q := &releasingQueue{}
	r, err := dnsres.New(dnsres.Config{Servers: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	o, err := NewOutbound(OutboundConfig{Hostname: "mx.test", NodeID: "node-a", Lease: time.Minute, Workers: 2, DNS: r},
		q, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.pool.start(ctx, 2)
	if n := o.pool.reserve(3); n != 2 {
		t.Fatalf("reserved %d places, want one per worker (2)", n)
	}
	stale := store.QueueJob{ID: 1, LeaseStart: time.Now().Add(-20 * time.Second),
		Recipients: []store.QueueJobRecipient{{ID: 11}}}
	fresh := store.QueueJob{ID: 2, LeaseStart: time.Now(), Recipients: []store.QueueJobRecipient{{ID: 21}}}
	if !o.pool.push(stale) || !o.pool.push(fresh) {
		t.Fatal("push refused while serving")
	}
	woken := o.pool.woken.Load()
	jobs := o.takeHanded(2)
	if len(jobs) != 1 || jobs[0].ID != 2 {
		t.Fatalf("took %+v, want the fresh job only", jobs)
	}
	if len(q.released) != 1 || q.released[0] != 11 {
		t.Fatalf("released %v, want the stale job's recipient 11", q.released)
	}
	if o.pool.woken.Load() == woken || len(o.pool.places) != 0 {
		t.Errorf("after the release: woken %d (was %d), %d places held; want a wake and none held",
			o.pool.woken.Load(), woken, len(o.pool.places))
	}
}
