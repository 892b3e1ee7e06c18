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
	// Handoff, when set on a message not on hold, leases its recipients
	// to a worker of this node as they are queued (QueueHandoff).
	Handoff *QueueHandoff
}

// QueueHandoff hands a message to a queue worker as it is queued, as
// Postfix's qmgr takes a new message at once: the enqueue leases the
// recipients to Owner for Lease, exactly as a claim would, and fills Job,
// which is the worker's once the enqueue's transaction committed (and
// nobody's if it failed: the rows, if committed after all, wait for the
// lease to run out, then any node claims them). The worker needs no claim
// and no read of the body back.
type QueueHandoff struct {
	Owner string
	Lease time.Duration
	// Start is this process's clock before the enqueue's transaction
	// began (QueueJob.LeaseStart).
	Start time.Time
	Job   QueueJob
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
//
// With a lease owner ($18, empty for none) the recipients are leased to it
// for $19 seconds, and their rows and the lease come back for the worker
// (QueueHandoff).
const enqueueSQL = `
WITH q AS (
	INSERT INTO queue (sender, origin, client_addr, helo, auth_user, dsn_envid, dsn_ret, size, body, expires_at, hold, queue_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, length($8::bytea), $8, now() + make_interval(secs => $9), $15, $17)
	RETURNING id, arrival_at
), r AS (
	INSERT INTO queue_recipients (queue_id, recipient, orig_recipient, orig_recipient_type, dsn_notify, domain, next_hop,
		lease_owner, lease_until)
	SELECT q.id, x.rcpt, x.orcpt, x.otype, x.notify, x.domain, x.hop,
		$18, CASE WHEN $18 <> '' THEN now() + make_interval(secs => $19) END
	FROM q, unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $16::text[])
		AS x(rcpt, orcpt, notify, domain, hop, otype)
	ON CONFLICT (queue_id, recipient) DO NOTHING
	RETURNING id, recipient, lease_until
)
SELECT q.id, q.arrival_at, (SELECT max(lease_until) FROM r),
	CASE WHEN $18 <> '' THEN (SELECT array_agg(id ORDER BY id) FROM r) END,
	CASE WHEN $18 <> '' THEN (SELECT array_agg(recipient ORDER BY id) FROM r) END
FROM q`

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
	h := m.Handoff
	if m.Hold {
		h = nil // nothing of it is due
	}
	owner, lease := "", 0.0
	if h != nil {
		owner, lease = h.Owner, h.Lease.Seconds()
	}
	b.Queue(enqueueSQL, m.Sender, m.Origin, m.ClientAddr, m.Helo, m.AuthUser, m.EnvID, m.Ret, m.Body,
		QueueLifetime.Seconds(), rcpt, orcpt, notify, domain, hop, m.Hold, otype, m.QueueID, owner, lease).QueryRow(func(row pgx.Row) error {
		var arrival time.Time
		var until *time.Time
		var ids []int64
		var addrs []string
		if err := row.Scan(id, &arrival, &until, &ids, &addrs); err != nil || h == nil || until == nil {
			return err
		}
		h.Job = handoffJob(m, *id, arrival, *until, ids, addrs)
		h.Job.LeaseStart = h.Start
		return nil
	})
}

// handoffJob is the job of message m, queued as row id with the
// recipients ids (addrs; duplicates of m were not queued) leased until
// until: what a claim of it would return.
func handoffJob(m QueuedMessage, id int64, arrival, until time.Time, ids []int64, addrs []string) QueueJob {
	j := QueueJob{ID: id, QueueID: m.QueueID, Sender: m.Sender, Origin: m.Origin, EnvID: m.EnvID, Ret: m.Ret,
		Body: m.Body, Arrival: arrival, LeaseUntil: until, Whole: true}
	byAddr := make(map[string]QueuedRecipient, len(m.Recipients))
	for _, r := range m.Recipients {
		if _, ok := byAddr[r.Address]; !ok {
			byAddr[r.Address] = r
		}
	}
	for i, rid := range ids {
		r := byAddr[addrs[i]]
		otype := r.OrigRecipientType
		if otype == "" {
			otype = "rfc822"
		}
		j.Recipients = append(j.Recipients, QueueJobRecipient{ID: rid, Address: r.Address, OrigRecipient: r.OrigRecipient,
			OrigRecipientType: otype, Notify: r.Notify, Domain: r.Domain, NextHop: r.NextHop})
	}
	return j
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
