package maillog

import (
	"context"
	"time"

	"mailhost/store"
)

// Serve writes the observed rows every second (or every 500 rows),
// samples the queue size and the storage used every minute, and prunes
// old rows every hour, until ctx ends; then it writes what is left.
func (r *Recorder) Serve(ctx context.Context) error {
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	sample := time.NewTicker(time.Minute)
	defer sample.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	var batch []item
	write := func(ctx context.Context) {
		if len(batch) == 0 {
			return
		}
		var events []store.MailEvent
		var counts []store.StatDelta
		for _, it := range batch {
			if it.ev != nil {
				events = append(events, *it.ev)
			}
			counts = append(counts, it.counts...)
		}
		if err := r.st.RecordActivity(ctx, events, counts); err != nil {
			r.log.Warn("mail log: rows not recorded", "rows", len(events), "err", err)
		}
		batch = batch[:0]
	}
	r.sample(ctx)
	for {
		select {
		case <-ctx.Done():
			for {
				select {
				case it := <-r.items:
					batch = append(batch, it)
					continue
				default:
				}
				break
			}
			write(context.WithoutCancel(ctx))
			return nil
		case it := <-r.items:
			if batch = append(batch, it); len(batch) >= 500 {
				write(ctx)
			}
		case <-flush.C:
			write(ctx)
		case <-sample.C:
			r.sample(ctx)
		case <-prune.C:
			if err := r.st.PruneActivity(ctx, r.keep.Minutes, r.keep.Hours, r.keep.Log); err != nil {
				r.log.Warn("mail log: prune", "err", err)
			}
		}
	}
}

// Flush is for tests: it waits until what was observed so far is
// written, or ctx ends.
func (r *Recorder) Flush(ctx context.Context) {
	for len(r.items) > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// sample records the gauges: the queue's messages by state and the bytes
// each domain's mailboxes use.
func (r *Recorder) sample(ctx context.Context) {
	now := r.now()
	var g []store.StatDelta
	if counts, err := r.st.QueueCounts(ctx); err == nil {
		var total int64
		for _, n := range counts {
			total += n
		}
		g = append(g, store.StatDelta{At: now, Metric: "queue", Value: total})
	}
	if use, err := r.st.StorageByDomain(ctx); err == nil {
		var total int64
		for d, n := range use {
			total += n
			g = append(g, store.StatDelta{At: now, Metric: "storage", Domain: d, Value: n})
		}
		g = append(g, store.StatDelta{At: now, Metric: "storage", Value: total})
	}
	if dropped := r.dropped.Swap(0); dropped > 0 {
		r.log.Warn("mail log: the writer fell behind; lines not recorded", "lines", dropped)
	}
	if err := r.st.SetGauges(ctx, g); err != nil && ctx.Err() == nil {
		r.log.Warn("mail log: gauges", "err", err)
	}
}
