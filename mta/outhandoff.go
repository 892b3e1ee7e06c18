package mta

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"mailhost/store"
)

// workerPool is the state of Serve's workers that this node's sessions
// share: the busy workers' slots (taken by Serve's loop alone), the jobs
// handed over by the sessions' enqueues, and whether the queue may hold
// due work that no claim has seen yet.
type workerPool struct {
	mu      sync.Mutex
	serving bool            // Serve runs: hand-offs are taken
	ctx     context.Context // Serve's
	wg      sync.WaitGroup  // the busy workers
	slots   chan struct{}   // one per busy worker
	// places are reserved by sessions before their enqueue, one per
	// message handed over; handed holds those jobs until a worker takes
	// them. Both hold as many as there are workers.
	places chan struct{}
	handed chan store.QueueJob

	// woken counts Wake calls (work may be due); seen is woken as it was
	// before the last claim that found nothing, so the queue may hold
	// due work no claim saw while woken > seen. full: the last claim
	// found work, there may be more.
	woken, seen atomic.Uint64
	full        atomic.Bool
}

// start opens the pool for Serve's ctx.
func (p *workerPool) start(ctx context.Context, workers int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serving, p.ctx = true, ctx
	p.slots, p.places, p.handed = make(chan struct{}, workers), make(chan struct{}, workers), make(chan store.QueueJob, workers)
}

// stop ends the hand-offs: from now on a session gives its job back.
func (p *workerPool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.serving = false
}

// take takes up to n free slots without waiting and returns how many.
// Only Serve's loop takes slots.
func (p *workerPool) take(n int) int {
	got := 0
	for ; got < n; got++ {
		select {
		case p.slots <- struct{}{}:
		default:
			p.wg.Add(got)
			return got
		}
	}
	p.wg.Add(got)
	return got
}

// free gives back n slots.
func (p *workerPool) free(n int) {
	for range n {
		<-p.slots
		p.wg.Done()
	}
}

// reserve reserves up to n places for hand-offs and returns how many.
func (p *workerPool) reserve(n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	got := 0
	for ; p.serving && got < n; got++ {
		select {
		case p.places <- struct{}{}:
		default:
			return got
		}
	}
	return got
}

// push hands j over in a reserved place; false when Serve has ended (the
// place is given back, j is the caller's).
func (p *workerPool) push(j store.QueueJob) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.serving {
		<-p.places
		return false
	}
	p.handed <- j // a place was reserved: never blocks
	return true
}

// takeHanded takes up to n handed jobs without waiting.
func (p *workerPool) takeHanded(n int) []store.QueueJob {
	var jobs []store.QueueJob
	for len(jobs) < n {
		select {
		case j := <-p.handed:
			<-p.places
			jobs = append(jobs, j)
		default:
			return jobs
		}
	}
	return jobs
}

// backlog says whether a claim may find work: the last one did, or a
// Wake came after the last empty one began.
func (p *workerPool) backlog() bool {
	return p.full.Load() || p.woken.Load() > p.seen.Load()
}

// claimed records a claim's outcome; woken is p.woken before it began.
func (p *workerPool) claimed(woken uint64, found int) {
	p.full.Store(found > 0)
	if found > 0 {
		return
	}
	for {
		s := p.seen.Load()
		if s >= woken || p.seen.CompareAndSwap(s, woken) {
			return
		}
	}
}

// run starts a worker on j in a slot taken for it.
func (o *Outbound) run(j store.QueueJob) {
	ctx := o.pool.ctx
	if ctx.Err() != nil { // Serve is ending: let the next run decide
		o.release(j.Recipients)
		o.pool.free(1)
		return
	}
	go func() {
		defer func() {
			o.pool.free(1)
			if o.pool.backlog() || len(o.pool.handed) > 0 { // idle now: the loop looks for work at once
				o.signal()
			}
		}()
		o.work(ctx, j)
	}()
}

// reserveHandoffs sets up the hand-off of as many messages of queue (none
// on hold) as there are places, and returns them for handOff, to be
// called after the enqueue whatever its outcome.
func (o *Outbound) reserveHandoffs(queue []store.QueuedMessage) []*store.QueueHandoff {
	want := 0
	for _, m := range queue {
		if !m.Hold {
			want++
		}
	}
	n := o.pool.reserve(want)
	hs := make([]*store.QueueHandoff, 0, n)
	for i := 0; len(hs) < n; i++ {
		if !queue[i].Hold {
			h := &store.QueueHandoff{Owner: o.cfg.NodeID, Lease: o.cfg.Lease, Start: time.Now()}
			queue[i].Handoff = h
			hs = append(hs, h)
		}
	}
	return hs
}

// handOff gives the workers the jobs hs's enqueue leased when it
// committed (ok), and the places of the others back. It returns how many
// it handed over.
func (o *Outbound) handOff(hs []*store.QueueHandoff, ok bool) int {
	handed := 0
	for _, h := range hs {
		switch {
		case !ok || h.Job.ID == 0:
			<-o.pool.places
		case o.pool.push(h.Job):
			handed++
		default: // Serve has ended: any node may take it now
			o.release(h.Job.Recipients)
		}
	}
	if handed > 0 {
		o.signal()
	}
	return handed
}

// takeHanded takes up to n handed jobs for workers that start on them
// now. A job that waited so long that less than a quarter of the lease is
// left for its attempt (every worker was held up by slow peers) goes back
// to the queue instead, not attempted, for a claim with a fresh lease.
func (o *Outbound) takeHanded(n int) []store.QueueJob {
	jobs := o.pool.takeHanded(n)
	out := jobs[:0]
	for _, j := range jobs {
		if time.Until(o.attemptDeadline(j)) < o.cfg.Lease/4 {
			o.release(j.Recipients)
			o.Wake()
			continue
		}
		out = append(out, j)
	}
	return out
}

// releaseHanded gives back the leases of the jobs handed over and not
// started, when Serve ends.
func (o *Outbound) releaseHanded() {
	for _, j := range o.pool.takeHanded(cap(o.pool.handed)) {
		o.release(j.Recipients)
	}
}
