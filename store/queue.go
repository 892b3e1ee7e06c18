package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueLifetime is how long a message stays in the queue before it is
// returned to its sender (Postfix maximal_queue_lifetime).
const QueueLifetime = 5 * 24 * time.Hour

// QueuedMessage is one message for the outbound queue with its recipients.
type QueuedMessage struct {
	// QueueID is the message's id (NewQueueID), made when it was received;
	// copies of one message share it. "" gets a fresh one.
	QueueID    string
	Sender     string // "" is the null sender <>
	Origin     string // smtp, submission, sendmail, forward, relay, bounce, vacation
	ClientAddr string
	Helo       string
	AuthUser   string
	EnvID      string // DSN ENVID
	Ret        string // DSN RET: "", FULL or HDRS
	Body       []byte
	Recipients []QueuedRecipient
	Hold       bool // on hold (an access rule's HOLD): no delivery until released
}

// QueuedRecipient is one recipient of a queued message.
type QueuedRecipient struct {
	Address       string
	OrigRecipient string // DSN ORCPT, the address (xtext decoded)
	// OrigRecipientType is ORCPT's address type: "rfc822" (also for "")
	// or "utf-8" (RFC 6533).
	OrigRecipientType string
	Notify            string // DSN NOTIFY, comma-separated
	Domain            string
	NextHop           string // "" = MX lookup
}

// enqueueSQL inserts a message and its recipients. It sends no NOTIFY:
// the session that queued wakes its own node's workers (mta's Queued
// hook) and other nodes poll (queue workers, 1 s). A NOTIFY would take
// PostgreSQL's notification lock from before the commit's WAL flush to
// its end, one transaction at a time, so concurrent sessions' enqueues
// could not share a flush.
const enqueueSQL = `
WITH q AS (
	INSERT INTO queue (sender, origin, client_addr, helo, auth_user, dsn_envid, dsn_ret, size, body, expires_at, hold, queue_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, length($8::bytea), $8, now() + make_interval(secs => $9), $15, $17)
	RETURNING id
), r AS (
	INSERT INTO queue_recipients (queue_id, recipient, orig_recipient, orig_recipient_type, dsn_notify, domain, next_hop)
	SELECT q.id, x.rcpt, x.orcpt, x.otype, x.notify, x.domain, x.hop
	FROM q, unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $16::text[])
		AS x(rcpt, orcpt, notify, domain, hop, otype)
	ON CONFLICT (queue_id, recipient) DO NOTHING
	RETURNING queue_id
)
SELECT id, (SELECT count(*) FROM r) FROM q`

// queueEnqueue adds the enqueue statement of m to b; id receives the row
// number.
func queueEnqueue(b *pgx.Batch, m QueuedMessage, id *int64) {
	if m.QueueID == "" {
		m.QueueID = NewQueueID()
	}
	n := len(m.Recipients)
	rcpt, orcpt, notify, domain, hop := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	otype := make([]string, n)
	for i, r := range m.Recipients {
		rcpt[i], orcpt[i], notify[i], domain[i], hop[i] = r.Address, r.OrigRecipient, r.Notify, r.Domain, r.NextHop
		otype[i] = r.OrigRecipientType
		if otype[i] == "" {
			otype[i] = "rfc822"
		}
	}
	b.Queue(enqueueSQL, m.Sender, m.Origin, m.ClientAddr, m.Helo, m.AuthUser, m.EnvID, m.Ret, m.Body,
		QueueLifetime.Seconds(), rcpt, orcpt, notify, domain, hop, m.Hold, otype, m.QueueID).QueryRow(func(row pgx.Row) error {
		var count int64
		return row.Scan(id, &count)
	})
}

// Enqueue writes messages and their recipients to the queue in one
// transaction and returns their row numbers. When it returns nil every
// message is durably queued.
func (s *Store) Enqueue(ctx context.Context, msgs ...QueuedMessage) ([]int64, error) {
	ids := make([]int64, len(msgs))
	b := &pgx.Batch{}
	queueGenericPlans(b)
	for i, m := range msgs {
		if len(m.Recipients) == 0 {
			return nil, fmt.Errorf("store: enqueue: message %d has no recipients", i)
		}
		queueEnqueue(b, m, &ids[i])
	}
	// A batch runs as one implicit transaction: all or nothing.
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store: enqueue: %w", err)
	}
	return ids, nil
}
