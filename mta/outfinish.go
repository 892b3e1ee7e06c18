package mta

import (
	"context"
	"errors"
	"strings"
	"time"

	"mailhost/store"
)

// retryAfter is the wait after the n-th failed attempt (n >= 1): the
// schedule's n-th entry, its last one repeating.
func (o *Outbound) retryAfter(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > len(o.cfg.Retry) {
		n = len(o.cfg.Retry)
	}
	return o.cfg.Retry[n-1]
}

// finish turns an attempt's outcomes into recipient states, one bounce for
// the recipients that failed for good (never to the null sender), and a
// delay warning when due, all written in one transaction; then logs them.
// With more, that transaction also claims the worker's next job.
func (o *Outbound) finish(j store.QueueJob, results []attempt, more bool) (next []store.QueueJob) {
	now := time.Now()
	expired := now.After(j.Arrival.Add(o.cfg.MaxLifetime))
	f := store.QueueFinish{Row: j.ID, LeaseUntil: j.LeaseUntil, Whole: j.Whole && len(results) == len(j.Recipients)}
	if more {
		f.Next = o.nextClaim(1)
	}
	var failed, delayed, succeeded []DSNRecipient
	for i := range results {
		a := &results[i]
		r := store.QueueResult{ID: a.rcpt.ID, LastError: strings.TrimPrefix(strings.TrimPrefix(a.diag, "smtp; "), "x-mailhost; ")}
		switch {
		case a.ok:
			r.State = store.RcptDelivered
			if a.action != "" && notifyAsks(a.rcpt.Notify, "SUCCESS") {
				d := dsnRcpt(*a, a.action)
				if a.action != "relayed" {
					d.RemoteMTA = "" // delivered here
				}
				succeeded = append(succeeded, d)
			}
		case a.permanent || expired:
			r.State = store.RcptBounced
			if !a.permanent {
				a.status = "4.4.7" // RFC 3463: delivery time expired
				a.diag += " (delivery time expired: message too old)"
				r.LastError = "message expired: " + r.LastError
			}
			if !notifyNever(a.rcpt.Notify, "FAILURE") {
				failed = append(failed, dsnRcpt(*a, ""))
			}
		default:
			r.State = store.RcptDeferred
			r.NextTry = now.Add(o.retryAfter(a.rcpt.Attempts + 1))
			if o.cfg.DelayWarning > 0 && !j.Warned && now.Sub(j.Arrival) >= o.cfg.DelayWarning &&
				notifyWants(a.rcpt.Notify, "DELAY") {
				delayed = append(delayed, dsnRcpt(*a, "delayed"))
			}
		}
		f.Results = append(f.Results, r)
	}
	if len(failed)+len(delayed)+len(succeeded) > 0 {
		j.Sender = o.noticeRecipient(j.Sender) // srs.go
	}
	// Never a notice to the null sender: that is how bounce loops are
	// impossible (RFC 5321 6.1, RFC 3464 2).
	var kinds []string // of f.Notices, for their log lines
	if j.Sender != "" && len(failed) > 0 {
		f.Notices, kinds = append(f.Notices, o.notice(j, failed, false, now)), append(kinds, "failure")
	}
	if j.Sender != "" && len(delayed) > 0 {
		f.Notices, kinds = append(f.Notices, o.notice(j, delayed, true, now)), append(kinds, "delay")
		f.Warned = true
	}
	if j.Sender != "" && len(succeeded) > 0 {
		f.Notices, kinds = append(f.Notices, o.successNotice(j, succeeded, now)), append(kinds, "success") // dsnparams.go
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	woken := o.pool.woken.Load()
	next, err := o.st.FinishQueue(ctx, o.cfg.NodeID, f)
	if err == nil && more {
		o.pool.claimed(woken, len(next))
	}
	if errors.Is(err, store.ErrLeaseLost) {
		// Too slow: the lease ran out and another node took over; its
		// attempt decides (a delivery made here too is the at-least-once
		// duplicate).
		o.log.Warn("queue: lease lost before the results were recorded", "queue_id", j.QueueID, "queue_row", j.ID)
		return nil
	} else if err != nil {
		// The leases run out and the attempt is made again: at least once.
		o.log.Error("queue: recording results failed; will retry after the lease", "queue_id", j.QueueID, "queue_row", j.ID, "err", err)
		return nil
	}
	for i, a := range results {
		r := f.Results[i]
		attrs := []any{"queue_id", j.QueueID, "queue_row", j.ID, "from", j.Sender, "to", a.rcpt.Address, "relay", strings.TrimPrefix(a.remote, "dns; "),
			"attempts", a.rcpt.Attempts + 1, "delay", now.Sub(j.Arrival).Round(time.Millisecond), "status", a.status}
		switch r.State {
		case store.RcptDelivered:
			o.metrics.Deliveries.Inc()
			o.log.Info("delivered", attrs...)
		case store.RcptDeferred:
			o.metrics.Deferrals.Inc()
			o.metrics.DomainFailures.WithLabelValues(a.rcpt.Domain, "temporary").Inc()
			o.log.Info("deferred", append(attrs, "reason", r.LastError, "next_attempt", r.NextTry.Round(time.Second))...)
		case store.RcptBounced:
			o.metrics.Bounces.Inc()
			o.metrics.DomainFailures.WithLabelValues(a.rcpt.Domain, "permanent").Inc()
			o.log.Info("bounced", append(attrs, "reason", r.LastError)...)
		}
	}
	for i, n := range f.Notices {
		o.log.Info("sender notified", "queue_id", j.QueueID, "queue_row", j.ID, "notice_id", n.QueueID, "to", j.Sender,
			"kind", kinds[i])
	}
	if len(f.Notices) > 0 {
		o.Wake()
	}
	return next
}

func dsnRcpt(a attempt, action string) DSNRecipient {
	return DSNRecipient{Address: a.rcpt.Address, Status: a.status, Diagnostic: a.diag, Action: action,
		RemoteMTA: a.remote, OrigRcpt: orcptField(a.rcpt.OrigRecipientType, a.rcpt.OrigRecipient)}
}

// notifyNever: the recipient asked for no notice of kind (RFC 3461 4.1).
func notifyNever(notify, kind string) bool {
	if notify == "" {
		return false
	}
	return !strings.Contains(strings.ToUpper(notify), kind)
}

// notifyWants: a delay notice only when NOTIFY is absent or names DELAY.
func notifyWants(notify, kind string) bool {
	return notify == "" || strings.Contains(strings.ToUpper(notify), kind)
}

// notice builds a bounce or delay warning to the message's sender.
func (o *Outbound) notice(j store.QueueJob, rcpts []DSNRecipient, delayed bool, now time.Time) store.QueuedMessage {
	q := []store.QueuedMessage{noticeTo(j.Sender, BuildDSN(o.noticeDSN(j, rcpts, delayed, now)))}
	signQueued(o.hard, o.cfg.DKIM, o.log, q)
	return q[0]
}

func (o *Outbound) noticeDSN(j store.QueueJob, rcpts []DSNRecipient, delayed bool, now time.Time) DSN {
	return DSN{
		ReportingMTA: o.cfg.Hostname, Sender: j.Sender, EnvID: j.EnvID, QueueID: j.QueueID, Arrival: j.Arrival,
		Recipients: rcpts, Original: j.Body, HeadersOnly: j.Ret == "HDRS" || delayed, Now: now,
		Delayed: delayed, Lifetime: o.cfg.MaxLifetime,
	}
}

// Metrics returns the workers' collectors, for registration.
func (o *Outbound) Metrics() *OutboundMetrics { return o.metrics }
