package mda

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime"
	"strings"
	"time"

	"mailhost/store"
)

// QuotaStore records quota warnings; *store.Store satisfies it.
type QuotaStore interface {
	QuotaWarning(ctx context.Context, mailboxID int64, thresholds []int, build func(store.QuotaUsage) *store.QueuedMessage) (bool, error)
}

var _ QuotaStore = (*store.Store)(nil)

// QuotaWarnings sends a mailbox's owner a message when a delivery takes
// the mailbox over one of Thresholds (percent of its quota, ascending),
// once per crossing going up (Agent.QuotaWarnings).
type QuotaWarnings struct {
	Store      QuotaStore
	Thresholds []int
	Hostname   string
	Log        *slog.Logger
}

// check looks at the mailboxes a delivery filled: only those whose usage
// may now be over the lowest threshold (the database lowers the level a
// mailbox was warned at when its usage falls, so nothing is missed).
func (q *QuotaWarnings) check(ctx context.Context, outs []Outcome) {
	if q == nil || len(q.Thresholds) == 0 {
		return
	}
	seen := map[int64]bool{}
	for _, o := range outs {
		t := o.Recipient.Target
		if o.OverQuota || o.UID == 0 || t.QuotaBytes <= 0 || seen[t.MailboxID] {
			continue
		}
		seen[t.MailboxID] = true
		if (t.UsedBytes+o.Size)*100 < int64(q.Thresholds[0])*t.QuotaBytes {
			continue
		}
		sent, err := q.Store.QuotaWarning(ctx, t.MailboxID, q.Thresholds, q.message)
		switch {
		case err != nil:
			q.log().Error("quota warning", "mailbox", t.Address, "err", err)
		case sent:
			q.log().Info("quota warning queued", "mailbox", t.Address)
		}
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
