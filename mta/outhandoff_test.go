package mta_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailhost/mta"
	"mailhost/store"
)

// countingQueue counts the claims the workers make (ClaimQueue calls and
// finishes that claim a next job) and the finishes of whole messages
// (QueueFinish.Whole).
type countingQueue struct {
	mta.QueueStore
	claims, whole atomic.Int64
}

func (q *countingQueue) ClaimQueue(ctx context.Context, owner string, c store.QueueClaim) ([]store.QueueJob, error) {
	q.claims.Add(1)
	return q.QueueStore.ClaimQueue(ctx, owner, c)
}

func (q *countingQueue) FinishQueue(ctx context.Context, owner string, f store.QueueFinish) ([]store.QueueJob, error) {
	if f.Next.Messages > 0 {
		q.claims.Add(1)
	}
	if f.Whole {
		q.whole.Add(1)
	}
	return q.QueueStore.FinishQueue(ctx, owner, f)
}

// handoffEnv: outEnv's database, DNS and sink, workers of node-a that
// poll once an hour (so only a hand-off or a wake brings them work) and a
// second SMTP listener whose sessions hand their messages to them.
func handoffEnv(t *testing.T, workers int) (e *env, s *sink, q *countingQueue, addr string) {
	e, z, s := outEnv(t)
	q = &countingQueue{QueueStore: e.st}
	cfg := mta.OutboundConfig{Hostname: "mx.test", NodeID: "node-a", Retry: []time.Duration{time.Hour},
		Lease: time.Minute, Poll: time.Hour, DNS: resolverOf(t, z), Port: s.port, Workers: workers,
		ConnectTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second, DataTimeout: 5 * time.Second}
	var w io.Writer = e.logs
	if testing.Verbose() {
		w = io.MultiWriter(e.logs, os.Stderr)
	}
	log := slog.New(slog.NewJSONHandler(w, nil))
	o, err := mta.NewOutbound(cfg, q, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() { defer wg.Done(); o.Serve(ctx) }()
	waitFor(t, "the workers' first look at the queue", func() bool { return q.claims.Load() == 1 })

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scfg := e.cfg
	scfg.Queued, scfg.Handoff = o.Wake, o
	srv := e.srv.Sibling(ln, scfg, log)
	wg.Add(1)
	go func() { defer wg.Done(); srv.Serve(ctx) }()
	return e, s, q, ln.Addr().String()
}

// relay sends a message from mynetworks to a remote recipient through addr.
func relay(t *testing.T, e *env, addr, to string) {
	t.Helper()
	e2 := *e
	e2.addr = addr
	if err := send(e2.dial(""), "bob@remote.example", []string{to}, testMsg); err != nil {
		t.Fatal(err)
	}
}

// TestOutboundHandoff: a message queued while a worker is idle is leased
// to it by its enqueue and delivered with no claim (the workers poll once
// an hour here, and a claim is counted).
func TestOutboundHandoff(t *testing.T) {
	e, s, q, addr := handoffEnv(t, 2)
	relay(t, e, addr, "x@remote.example")
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	if msgs := s.messages(); len(msgs) != 1 || msgs[0].to[0] != "x@remote.example" {
		t.Fatalf("sink got %+v", msgs)
	}
	if n := q.claims.Load(); n != 1 {
		t.Errorf("%d claims, want only the first look at start: the message was handed over", n)
	}
	if n := q.whole.Load(); n != 1 {
		t.Errorf("%d finishes of a whole message, want 1 (the hand-off's)", n)
	}
	if l := e.logs.lines("delivered"); len(l) != 1 {
		t.Errorf("delivered lines: %v", l)
	}
}

// TestOutboundHandoffWaitsForBusyWorker: with the only worker busy, the
// next message queued waits for it in memory, leased, and is delivered
// when the worker is free, still without a claim; a message queued while
// that place is taken is queued unleased and the worker claims it (then
// once more, finding the queue empty: a claim that found work may leave
// more).
func TestOutboundHandoffWaitsForBusyWorker(t *testing.T) {
	e, s, q, addr := handoffEnv(t, 1)
	release := make(chan struct{})
	var blocked atomic.Bool
	s.mu.Lock()
	s.rcptReply = func(to string) error {
		if to == "first@remote.example" && blocked.CompareAndSwap(false, true) {
			<-release
		}
		return nil
	}
	s.mu.Unlock()
	relay(t, e, addr, "first@remote.example")
	waitFor(t, "the worker to be busy", blocked.Load)
	relay(t, e, addr, "second@remote.example") // waits for the worker
	relay(t, e, addr, "third@remote.example")  // no place: queued for a claim
	var leased int
	e.scalar(&leased, `SELECT count(*) FROM queue_recipients WHERE lease_owner = 'node-a'`)
	if leased != 2 {
		t.Errorf("%d recipients leased while the worker is busy, want the first two", leased)
	}
	close(release)
	waitFor(t, "the queue to drain", func() bool { return e.queueLen() == 0 })
	if n := len(s.messages()); n != 3 {
		t.Fatalf("sink got %d messages, want 3", n)
	}
	if n := q.claims.Load(); n != 3 {
		t.Errorf("%d claims, want the first look, the third message's and the empty one after it", n)
	}
	if n := q.whole.Load(); n != 2 {
		t.Errorf("%d finishes of a whole message, want the two handed over", n)
	}
}
