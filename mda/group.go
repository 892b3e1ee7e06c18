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

// commitTimeout bounds one group transaction; callers' contexts do not
// cancel a transaction that others' deliveries share.
const commitTimeout = 60 * time.Second

// CommitDelivery queues d for the next group transaction and waits for its
// outcome. If ctx ends first the outcome is unknown to the caller, which
// then keeps its files (see Deliver).
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
		return store.DeliveryResult{}, ctx.Err()
	}
}

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
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
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
