package mda

import (
	"context"
	"sync"
	"time"

	"mailhost/store"
)

// GroupStore commits several deliveries in one transaction.
// *store.Store satisfies it.
type GroupStore interface {
	CommitDeliveries(ctx context.Context, ds []store.Delivery) ([]store.DeliveryResult, error)
}

var _ GroupStore = (*store.Store)(nil)

// maxGroup bounds the deliveries committed together.
const maxGroup = 64

// GroupIndex is an Index that commits the deliveries of concurrent
// sessions together (group commit): while one transaction is in flight,
// the deliveries that arrive wait and then go in the next one. Nothing
// waits on a timer, so a lone delivery commits at once; under load one
// WAL flush serves many messages. Each caller still gets its own result
// only after the transaction holding its delivery has committed.
type GroupIndex struct {
	Store GroupStore

	mu      sync.Mutex
	pending []*groupReq
	running bool
}

var _ Index = (*GroupIndex)(nil)

type groupReq struct {
	d    store.Delivery
	res  store.DeliveryResult
	err  error
	done chan struct{}
}

// groupCommitTimeout bounds one group transaction; callers' contexts do
// not cancel a transaction that others' deliveries share.
const groupCommitTimeout = 60 * time.Second

// CommitDelivery queues d for the next group transaction and waits for its
// outcome. If ctx ends while d still waits for a transaction, d is
// withdrawn and the error says that nothing was committed
// (store.RolledBack); once d's transaction has started, CommitDelivery
// waits for its outcome whatever ctx does, so that the caller never has
// to guess.
func (g *GroupIndex) CommitDelivery(ctx context.Context, d store.Delivery) (store.DeliveryResult, error) {
	r := &groupReq{d: d, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, r)
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
	}
	if g.withdraw(r) {
		return store.DeliveryResult{}, notSentError{ctx.Err()}
	}
	<-r.done
	return r.res, r.err
}

// withdraw takes r out of the pending deliveries; false when a
// transaction has taken it already.
func (g *GroupIndex) withdraw(r *groupReq) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, p := range g.pending {
		if p == r {
			g.pending = append(g.pending[:i:i], g.pending[i+1:]...)
			return true
		}
	}
	return false
}

// notSentError is a delivery withdrawn before any statement of it was
// sent: nothing was committed, which store.RolledBack recognises (through
// pgconn.SafeToRetry).
type notSentError struct{ err error }

func (e notSentError) Error() string {
	return "mda: delivery withdrawn before its commit: " + e.err.Error()
}
func (e notSentError) Unwrap() error     { return e.err }
func (e notSentError) SafeToRetry() bool { return true }

func (g *GroupIndex) loop() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), maxGroup)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		g.mu.Unlock()
		g.commit(batch)
	}
}

func (g *GroupIndex) commit(batch []*groupReq) {
	ctx, cancel := context.WithTimeout(context.Background(), groupCommitTimeout)
	defer cancel()
	ds := make([]store.Delivery, len(batch))
	for i, r := range batch {
		ds[i] = r.d
	}
	res, err := g.Store.CommitDeliveries(ctx, ds)
	if err != nil && len(batch) > 1 && store.RolledBack(err) {
		// One bad delivery (a mailbox deleted meanwhile, a deadlock) must
		// not fail the others: retry each on its own.
		for _, r := range batch {
			one, err := g.Store.CommitDeliveries(ctx, []store.Delivery{r.d})
			if err == nil {
				r.res = one[0]
			}
			r.err = err
			close(r.done)
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.res = res[i]
		}
		close(r.done)
	}
}
