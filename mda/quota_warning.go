package mda

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime"
	"strings"
	"sync"
	"time"

	"mailhost/store"
)

// QuotaStore records quota warnings; *store.Store satisfies it.
type QuotaStore interface {
	QuotaWarning(ctx context.Context, mailboxID int64, thresholds []int, build func(store.QuotaUsage) *store.QueuedMessage) (bool, error)
	QuotaWarningCandidates(ctx context.Context, thresholds []int, mailboxIDs []int64) ([]int64, error)
}

var _ QuotaStore = (*store.Store)(nil)

// QuotaWarnings sends a mailbox's owner a message when its usage crosses
// one of Thresholds (percent of its quota, ascending) going up, once per
// crossing, whatever added the usage:
//   - a delivery: Agent.QuotaWarnings, right after the commit;
//   - an IMAP APPEND or COPY: UsageGrew (imapd.UsageWatcher), looked at by
//     Serve's goroutine, so the command does not wait;
//   - anything else (an import, files adopted into the index, a repair
//     of the usage, a quota lowered): Serve's look at every mailbox each
//     Interval.
//
// Once is the store's: QuotaWarning decides under the mailbox row's lock
// and records the level warned at in the transaction that queues the
// warning, so two crossings at once, on any nodes, warn once.
type QuotaWarnings struct {
	Store      QuotaStore
	Thresholds []int
	Hostname   string
	Log        *slog.Logger
	// Interval is how often Serve looks at every mailbox; 0 means a
	// minute.
	Interval time.Duration

	mu      sync.Mutex
	pending map[int64]bool // mailboxes UsageGrew named
	wake    chan struct{}
}

// maxPending bounds the mailboxes UsageGrew keeps for Serve; past it they
// wait for the next look at every mailbox.
const maxPending = 10000

// check warns the owners of the mailboxes whose usage a delivery's copy
// took over a threshold: the usage right after each copy's charge, read
// under the mailbox row's lock, tells which copy crossed (one of any
// concurrent deliveries), with no query for the others.
func (q *QuotaWarnings) check(ctx context.Context, outs []Outcome) {
	if q == nil || len(q.Thresholds) == 0 {
		return
	}
	seen := map[int64]bool{}
	for _, o := range outs {
		c, id := o.charge, o.Recipient.Target.MailboxID
		if c.QuotaBytes <= 0 || seen[id] || !crossed(q.Thresholds, c.UsedBytes-o.Size, c.UsedBytes, c.QuotaBytes) {
			continue
		}
		seen[id] = true
		q.warn(ctx, id)
	}
}

// crossed reports whether usage going from before to after bytes passed
// one of the thresholds (percent of quota) going up.
func crossed(thresholds []int, before, after, quota int64) bool {
	for _, t := range thresholds {
		if before*100 < int64(t)*quota && after*100 >= int64(t)*quota {
			return true
		}
	}
	return false
}

// warn queues the mailbox's warning if its usage crossed a threshold
// since it was last warned.
func (q *QuotaWarnings) warn(ctx context.Context, mailboxID int64) {
	var u store.QuotaUsage
	sent, err := q.Store.QuotaWarning(ctx, mailboxID, q.Thresholds, func(qu store.QuotaUsage) *store.QueuedMessage {
		u = qu
		return q.message(qu)
	})
	switch {
	case err != nil:
		q.log().Error("quota warning", "mailbox_id", mailboxID, "err", err)
	case sent:
		q.log().Info("quota warning queued", "mailbox", u.Address, "percent", u.Percent)
	}
}

// UsageGrew asks Serve to look at a mailbox whose usage grew outside a
// delivery (IMAP APPEND and COPY), without waiting for it.
func (q *QuotaWarnings) UsageGrew(mailboxID int64) {
	if q == nil || len(q.Thresholds) == 0 {
		return
	}
	q.mu.Lock()
	if q.pending == nil {
		q.pending = map[int64]bool{}
	}
	if len(q.pending) < maxPending {
		q.pending[mailboxID] = true
	}
	w := q.wakeLocked()
	q.mu.Unlock()
	select {
	case w <- struct{}{}:
	default: // a look is due already
	}
}

func (q *QuotaWarnings) wakeLocked() chan struct{} {
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

// Serve looks at the mailboxes UsageGrew names as they come, and at every
// mailbox when it starts and each Interval, until ctx ends.
func (q *QuotaWarnings) Serve(ctx context.Context) error {
	if len(q.Thresholds) == 0 {
		return nil
	}
	every := q.Interval
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	q.mu.Lock()
	wake := q.wakeLocked()
	q.mu.Unlock()
	q.look(ctx, nil)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			q.look(ctx, nil)
		case <-wake:
			q.mu.Lock()
			ids := make([]int64, 0, len(q.pending))
			for id := range q.pending {
				ids = append(ids, id)
			}
			q.pending = nil
			q.mu.Unlock()
			q.look(ctx, ids)
		}
	}
}

// look warns the owners of the mailboxes among ids (nil: all) that crossed
// a threshold.
func (q *QuotaWarnings) look(ctx context.Context, ids []int64) {
	if ids != nil && len(ids) == 0 {
		return
	}
	cands, err := q.Store.QuotaWarningCandidates(ctx, q.Thresholds, ids)
	if err != nil {
		if ctx.Err() == nil {
			q.log().Error("quota warnings: look for crossings", "err", err)
		}
		return
	}
	for _, id := range cands {
		q.warn(ctx, id)
	}
}

func (q *QuotaWarnings) log() *slog.Logger {
	if q.Log == nil {
		return slog.Default()
	}
	return q.Log
}

// DefaultQuotaWarningText is the warning's body unless the domain has its
// own; %USED%, %QUOTA% and %PERCENT% are replaced.
const DefaultQuotaWarningText = `Your mailbox %ADDRESS% is %PERCENT%% full: it holds %USED% of its %QUOTA%.

When it is full, new mail is refused and goes back to its senders.
To free space, delete messages you no longer need (large attachments
first), empty the Trash and Junk folders, or ask your administrator
for a larger quota.
`

// message builds the warning to the mailbox itself.
func (q *QuotaWarnings) message(u store.QuotaUsage) *store.QueuedMessage {
	text := u.Text
	if strings.TrimSpace(text) == "" {
		text = DefaultQuotaWarningText
	}
	text = strings.NewReplacer("%ADDRESS%", u.Address, "%PERCENT%", fmt.Sprint(u.Percent),
		"%USED%", humanBytes(u.UsedBytes), "%QUOTA%", humanBytes(u.QuotaBytes)).Replace(text)
	now := time.Now()
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\r\n", a...) }
	w("From: Mail System <MAILER-DAEMON@%s>", q.Hostname)
	w("To: <%s>", u.Address)
	w("Subject: %s", mime.QEncoding.Encode("utf-8", fmt.Sprintf("Your mailbox is %d%% full", u.Percent)))
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s.%s@%s>", now.UTC().Format("20060102150405"), randomToken(6), q.Hostname)
	w("Auto-Submitted: auto-generated (quota warning)")
	w("MIME-Version: 1.0")
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: 8bit")
	w("")
	b.WriteString(crlf(text))
	return &store.QueuedMessage{Origin: "notice", Body: b.Bytes(),
		Recipients: []store.QueuedRecipient{{Address: u.Address, Domain: u.Domain}}}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
