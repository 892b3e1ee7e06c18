package maillog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"mailhost/store"
)

// Store is what the recorder needs from the database. *store.Store
// satisfies it.
type Store interface {
	RecordActivity(ctx context.Context, events []store.MailEvent, counts []store.StatDelta) error
	SetGauges(ctx context.Context, gauges []store.StatDelta) error
	PruneActivity(ctx context.Context, minutes, hours, log time.Duration) error
	StorageByDomain(ctx context.Context) (map[string]int64, error)
	QueueCounts(ctx context.Context) (map[string]int64, error)
}

var _ Store = (*store.Store)(nil)

// Retention says how long each kind of row is kept.
type Retention struct {
	Minutes, Hours, Log time.Duration
}

// Recorder turns mail log lines into rows, in batches.
type Recorder struct {
	st      Store
	keep    Retention
	log     *slog.Logger // its own errors: a logger that does not lead back here
	items   chan item
	dropped atomic.Int64
	now     func() time.Time
}

type item struct {
	ev     *store.MailEvent
	counts []store.StatDelta
}

// New returns a recorder; Serve writes what it observes.
func New(st Store, keep Retention, log *slog.Logger) *Recorder {
	return &Recorder{st: st, keep: keep, log: log, items: make(chan item, 4096), now: time.Now}
}

// observe turns one record into a row and counts. It never blocks the
// server that logged: when the writer falls behind, records are dropped
// and counted.
func (r *Recorder) observe(k kind, rec slog.Record, with []slog.Attr) {
	a := map[string]slog.Value{}
	for _, at := range with {
		a[at.Key] = at.Value.Resolve()
	}
	rec.Attrs(func(at slog.Attr) bool {
		a[at.Key] = at.Value.Resolve()
		return true
	})
	it := describe(k, rec.Time, a)
	select {
	case r.items <- it:
	default:
		r.dropped.Add(1)
	}
}

// str is an attribute as text ("" when absent); lists are joined.
func str(a map[string]slog.Value, key string) string {
	v, ok := a[key]
	if !ok {
		return ""
	}
	if v.Kind() == slog.KindAny {
		if l, ok := v.Any().([]string); ok {
			return strings.Join(l, ",")
		}
	}
	return v.String()
}

// domainOf is the lower-case domain of an address ("" without one).
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(strings.Trim(addr[i+1:], "<> "))
	}
	return ""
}

// describe builds the row and the counts of one mail log line.
func describe(k kind, at time.Time, a map[string]slog.Value) item {
	ev := &store.MailEvent{At: at, Sender: str(a, "from"), Recipient: str(a, "to"), Client: str(a, "client"),
		MessageID: str(a, "message_id"), Detail: str(a, "reason")}
	if v, ok := a["queue_id"]; ok && v.Kind() == slog.KindInt64 {
		ev.QueueRow = v.String() // a line written before migration 0019: the queue's row
	} else {
		ev.QueueID = str(a, "queue_id")
	}
	if row := str(a, "queue_row"); row != "" {
		ev.QueueRow = row
	}
	count := func(metric, domain string) store.StatDelta {
		return store.StatDelta{At: at, Metric: metric, Domain: domain, Value: 1}
	}
	var counts []store.StatDelta
	switch k {
	case accepted:
		ev.Event, ev.Recipient = "accepted", str(a, "rcpts")
		counts = append(counts, count("received", ""))
	case delivered:
		if _, local := a["folder"]; local {
			ev.Event, ev.Detail = "delivered", "folder "+str(a, "folder")
			counts = append(counts, count("delivered", ""), count("delivered", domainOf(ev.Recipient)))
		} else {
			ev.Event, ev.Detail = "sent", strings.TrimSpace("relay "+str(a, "relay")+" "+str(a, "status"))
			counts = append(counts, count("sent", ""), count("sent", domainOf(ev.Sender)))
		}
	case deferred:
		ev.Event = "deferred"
		counts = append(counts, count("deferred", ""))
	case bounced:
		ev.Event = "bounced"
		counts = append(counts, count("bounced", ""))
	case rejected:
		reason := or(str(a, "reason"), "other")
		ev.Event, ev.Detail = "rejected", strings.TrimSpace(fmt.Sprintf("%s %s %s", str(a, "stage"), reason, str(a, "code")))
		counts = append(counts, count("rejected:"+reason, ""))
	case queued:
		ev.Event = "queued"
	case held:
		ev.Event = "held"
	case discarded:
		ev.Event, ev.Recipient = "discarded", str(a, "rcpts")
	case notified:
		// The link from a message to the notice about it (a bounce, a
		// delay warning, a report of success, a vacation reply), which
		// has its own queue id. A mailbox's own notice (a vacation or
		// Sieve reply) is from it, so its domain's admins see the link.
		ev.Event, ev.Detail = "notified", strings.TrimSpace(str(a, "kind")+" notice "+str(a, "notice_id"))
		if m := str(a, "mailbox"); m != "" {
			ev.Sender = m
		}
	case loginFailed:
		return item{counts: []store.StatDelta{count("logins_failed", "")}}
	case loginBlocked:
		return item{counts: []store.StatDelta{count("logins_blocked", "")}}
	}
	ev.Domains = domainsOf(ev.Sender, ev.Recipient)
	return item{ev: ev, counts: counts}
}

// domainsOf lists the domains of the sender and the recipients.
func domainsOf(sender, recipients string) []string {
	var out []string
	for _, addr := range append([]string{sender}, strings.Split(recipients, ",")...) {
		if d := domainOf(addr); d != "" && !contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
