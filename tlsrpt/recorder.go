package tlsrpt

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"mailhost/store"
)

// CountStore is where the Recorder adds its counts.
type CountStore interface {
	AddTLSReportCounts(ctx context.Context, counts []store.TLSReportCount) error
}

var _ CountStore = (*store.Store)(nil)

// countKey is one row of tls_report_counts without its number.
type countKey struct {
	day                                   time.Time
	domain, policy, mx, receivingIP, rslt string
}

// Recorder counts the outbound queue's TLS results in memory and adds
// them to the database every FlushEvery, and when Serve ends, so that a
// delivery costs no round trip. A crash loses at most one interval's
// counts, which a report tolerates (RFC 8460 reports are best effort).
type Recorder struct {
	Store      CountStore
	Log        *slog.Logger
	FlushEvery time.Duration    // default one minute
	Now        func() time.Time // default time.Now

	mu     sync.Mutex
	counts map[countKey]int64
}

// Add counts one session (or policy fetch) to domain's MX host mx at
// address ip under policy with result ("successful" or a failure type).
func (r *Recorder) Add(domain, policy, mx, ip, result string) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	day := now().UTC().Truncate(24 * time.Hour)
	k := countKey{day: day, domain: domain, policy: policy, mx: mx, receivingIP: ip, rslt: result}
	r.mu.Lock()
	if r.counts == nil {
		r.counts = map[countKey]int64{}
	}
	r.counts[k]++
	r.mu.Unlock()
}

// Serve flushes the counts until ctx ends, then once more.
func (r *Recorder) Serve(ctx context.Context) error {
	every := r.FlushEvery
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			r.Flush(fctx)
			return nil
		case <-t.C:
			r.Flush(ctx)
		}
	}
}

// Flush adds the counts held so far to the database. Counts that could
// not be written are dropped with a warning rather than kept without
// bound.
func (r *Recorder) Flush(ctx context.Context) {
	r.mu.Lock()
	held := r.counts
	r.counts = nil
	r.mu.Unlock()
	if len(held) == 0 {
		return
	}
	rows := make([]store.TLSReportCount, 0, len(held))
	for k, n := range held {
		rows = append(rows, store.TLSReportCount{Day: k.day, Domain: k.domain, Policy: k.policy, MXHost: k.mx,
			ReceivingIP: k.receivingIP, Result: k.rslt, Sessions: n})
	}
	if err := r.Store.AddTLSReportCounts(ctx, rows); err != nil && r.Log != nil {
		r.Log.Warn("tls report: counts lost", "rows", len(rows), "err", err)
	}
}
