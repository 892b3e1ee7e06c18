package store

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// QueueJob is a message claimed by a queue worker with the recipients it
// holds the lease of.
type QueueJob struct {
	ID         int64  // the queue row
	QueueID    string // the message's queue id, of every log line about it
	Sender     string
	Origin     string
	EnvID      string
	Ret        string
	Body       []byte
	Arrival    time.Time
	Warned     bool
	Recipients []QueueJobRecipient
	// LeaseStart is this process's clock just before the claiming
	// transaction began: the lease lasts at least until LeaseStart plus
	// the lease asked for, so an attempt timed from it ends within the
	// lease.
	LeaseStart time.Time
	// LeaseUntil is when the claim's lease ends, as the database has it:
	// FinishQueue writes results only while this very lease is held, not
	// a later one of the same owner.
	LeaseUntil time.Time
	// Whole: the job holds every recipient of its message (a hand-off,
	// QueueHandoff), so no other worker finishes any at the same time.
	Whole bool
}

// QueueJobRecipient is one claimed recipient.
type QueueJobRecipient struct {
	ID                int64
	Address           string
	OrigRecipient     string
	OrigRecipientType string // "rfc822" or "utf-8"
	Notify            string
	Domain            string
	NextHop           string
	Attempts          int
}

// QueueClaim asks for work for idle workers: the due recipients of up to
// Messages messages (one per worker; rounded down to a power of two), at
// most Messages × PerMessage recipients in all, leased for Lease.
type QueueClaim struct {
	Lease      time.Duration
	Messages   int
	PerMessage int
}

// claimSQL leases due recipients of at most %[1]d messages, %[2]d
// recipients in all, of messages not on hold, and returns one row per
// message with its claimed recipients in arrays. SKIP LOCKED lets several
// nodes and workers claim at once without waiting on each other; the
// lease (owner, until) keeps a claimed row away from others after the
// claiming transaction commits, and frees it when the owner dies. The
// first scan picks the messages of the first %[1]d due recipients
// (ordering by next_attempt_at alone lets it stop early in the partial
// index queue_recipients_due), the second takes their due recipients.
// Only what is leased is locked: concurrent claims skip little.
const claimSQL = `
WITH first AS (
	SELECT r.queue_id FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
	WHERE ` + claimDue + ` AND NOT q.hold
	ORDER BY r.next_attempt_at
	LIMIT %[1]d
	FOR UPDATE OF r SKIP LOCKED
), due AS (
	SELECT r.id FROM queue_recipients r
	WHERE r.queue_id IN (SELECT queue_id FROM first) AND ` + claimDue + `
	ORDER BY r.next_attempt_at, r.id
	LIMIT %[2]d
	FOR UPDATE OF r SKIP LOCKED
), claimed AS (
	UPDATE queue_recipients r SET lease_owner = $1, lease_until = now() + make_interval(secs => $2), updated_at = now()
	FROM due WHERE r.id = due.id
	RETURNING r.id, r.queue_id, r.recipient, r.orig_recipient, r.orig_recipient_type, r.dsn_notify, r.domain, r.next_hop, r.attempts, r.lease_until
)
SELECT q.id, q.queue_id, q.sender, q.origin, q.dsn_envid, q.dsn_ret, q.body, q.arrival_at, q.warned_at IS NOT NULL,
	array_agg(c.id ORDER BY c.id), array_agg(c.recipient ORDER BY c.id), array_agg(c.orig_recipient ORDER BY c.id),
	array_agg(c.dsn_notify ORDER BY c.id), array_agg(c.domain ORDER BY c.id), array_agg(c.next_hop ORDER BY c.id),
	array_agg(c.attempts ORDER BY c.id), max(c.lease_until), array_agg(c.orig_recipient_type ORDER BY c.id)
FROM claimed c JOIN queue q ON q.id = c.queue_id
GROUP BY q.id ORDER BY q.id`

// claimDue selects the recipients r due for an attempt and not leased.
const claimDue = `r.state IN ('queued', 'deferred') AND r.next_attempt_at <= now()
	  AND (r.lease_until IS NULL OR r.lease_until < now())`

// claimQuery is claimSQL for c. The limits are written into the text, not
// passed as parameters: known to the planner, they keep the scan on the
// index, and the plan does not depend on the parameters, so PostgreSQL
// keeps one generic plan per prepared statement instead of planning each
// claim anew (a claim runs once per message delivered). Messages is
// rounded down to a power of two so that a few texts serve every claim.
func claimQuery(c QueueClaim) string {
	m := 0
	if c.Messages > 0 {
		m = 1 << (bits.Len(uint(c.Messages)) - 1)
	}
	return fmt.Sprintf(claimSQL, m, m*max(c.PerMessage, 1))
}

// collectJobs reads claimSQL's rows; start is taken before the claim's
// transaction began.
func collectJobs(rows pgx.Rows, start time.Time) ([]QueueJob, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (QueueJob, error) {
		j := QueueJob{LeaseStart: start}
		var ids []int64
		var addrs, origs, notifies, domains, hops, otypes []string
		var attempts []int32
		err := row.Scan(&j.ID, &j.QueueID, &j.Sender, &j.Origin, &j.EnvID, &j.Ret, &j.Body, &j.Arrival, &j.Warned,
			&ids, &addrs, &origs, &notifies, &domains, &hops, &attempts, &j.LeaseUntil, &otypes)
		for i := range ids {
			j.Recipients = append(j.Recipients, QueueJobRecipient{ID: ids[i], Address: addrs[i], OrigRecipient: origs[i],
				OrigRecipientType: otypes[i], Notify: notifies[i], Domain: domains[i], NextHop: hops[i], Attempts: int(attempts[i])})
		}
		return j, err
	})
}

// queueClaim adds c's claim for owner to b, its jobs read into *jobs;
// start is taken before the batch's transaction began.
func queueClaim(b *pgx.Batch, owner string, c QueueClaim, start time.Time, jobs *[]QueueJob) {
	b.Queue(claimQuery(c), owner, c.Lease.Seconds()).Query(func(rows pgx.Rows) error {
		var err error
		*jobs, err = collectJobs(rows, start)
		return err
	})
}

// ClaimQueue leases the work c asks for to owner (a node id) and returns
// it as one job per message; it may take fewer messages than asked even
// when more are due. A caller claims only what its idle workers start at
// once: a claimed job that waits spends its lease.
func (s *Store) ClaimQueue(ctx context.Context, owner string, c QueueClaim) ([]QueueJob, error) {
	start := time.Now()
	var jobs []QueueJob
	b := &pgx.Batch{}
	queueGenericPlans(b)
	queueClaim(b, owner, c, start, &jobs)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, fmt.Errorf("store: claim queue: %w", err)
	}
	return jobs, nil
}

// Recipient states after an attempt.
const (
	RcptDelivered = "delivered"
	RcptDeferred  = "deferred"
	RcptBounced   = "bounced"
)

// QueueResult is the outcome of one attempt for one claimed recipient.
type QueueResult struct {
	ID        int64
	State     string    // RcptDelivered, RcptDeferred or RcptBounced
	NextTry   time.Time // for RcptDeferred
	LastError string
}

// QueueFinish is what a worker writes after an attempt on one message.
type QueueFinish struct {
	Row int64 // the job's queue row (QueueJob.ID)
	// LeaseUntil is the job's (QueueJob.LeaseUntil): the results are
	// written only while that lease is held. Zero checks the owner only.
	LeaseUntil time.Time
	Results    []QueueResult
	// Notices are the DSNs to queue (a bounce, a delay warning), in the
	// same transaction, so a crash cannot lose or double them.
	Notices []QueuedMessage
	Warned  bool // a delay warning is among Notices
	// Whole: Results are of every recipient of a QueueJob.Whole job (none
	// left untried). Its finish does not lock the message's row: no other
	// worker holds a recipient of it while this lease holds, and the
	// lease is checked on the recipients locked.
	Whole bool
	// Next is the worker's next work, claimed in the same transaction
	// once the results are recorded (none when Next.Messages is 0): a
	// worker that finishes takes more without another round trip.
	Next QueueClaim
}

// ErrLeaseLost is returned by FinishQueue when a recipient's lease is no
// longer the caller's (it ran out and another node, or a later claim of
// the same node, took the recipient): nothing is written, that attempt
// decides.
var ErrLeaseLost = errors.New("store: queue lease lost")

// FinishQueue records the results of owner's attempt, queues the notices,
// removes the message once no recipient is left to try (as Postfix
// removes a queue file; finishSettledSQL), and claims f.Next, in one
// transaction. It returns the claimed jobs, or ErrLeaseLost (and nothing
// written or claimed) when owner no longer holds every recipient's lease.
func (s *Store) FinishQueue(ctx context.Context, owner string, f QueueFinish) ([]QueueJob, error) {
	n := len(f.Results)
	ids, states, errs := make([]int64, n), make([]string, n), make([]string, n)
	next := make([]time.Time, n)
	for i, r := range f.Results {
		ids[i], states[i], errs[i], next[i] = r.ID, r.State, r.LastError, r.NextTry
	}
	var jobs []QueueJob
	var lease *time.Time
	if !f.LeaseUntil.IsZero() {
		lease = &f.LeaseUntil
	}
	start := time.Now()
	// One batch, one implicit transaction, one round trip: the results'
	// statement raises leaseLostCode, rolling everything back, unless it
	// updated every recipient.
	b := &pgx.Batch{}
	queueGenericPlans(b)
	// The message's row first: finishes of its recipients by two workers
	// take turns, so the later one's removal below sees the earlier one's
	// results (without it each saw the other's recipient still waiting and
	// neither removed the message). Claims lock recipients only. A Whole
	// finish has nobody to take turns with.
	if !f.Whole {
		b.Queue(`SELECT 1 FROM queue WHERE id = $1 FOR NO KEY UPDATE`, f.Row)
	}
	if settled(f.Results) {
		// The message may be done: removed with its recipients, their
		// results not written first.
		b.Queue(finishSettledSQL, ids, states, errs, owner, lease, n, f.Row)
	} else {
		// A recipient stays in the queue, and so does the message.
		b.Queue(finishSQL, ids, states, next, errs, owner, lease, n)
	}
	if f.Warned {
		b.Queue(`UPDATE queue SET warned_at = now() WHERE id = $1`, f.Row)
	}
	nids := make([]int64, len(f.Notices))
	for i, m := range f.Notices {
		queueEnqueue(b, m, &nids[i])
	}
	if f.Next.Messages > 0 {
		queueClaim(b, owner, f.Next, start, &jobs)
	}
	err := s.pool.SendBatch(ctx, b).Close()
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == leaseLostCode {
		return nil, ErrLeaseLost
	}
	if err != nil {
		return nil, fmt.Errorf("store: finish queue %d: %w", f.Row, err)
	}
	return jobs, nil
}

// finishSQL records the results of an attempt for the recipients whose
// lease ($5, $6) the worker still holds, then checks that these were all
// $7 of them: queue_lease_held (migration 0026) raises leaseLostCode
// otherwise.
//
// "r.id = ANY($1)" repeats the join's condition for the planner: the
// generic plan PostgreSQL keeps for the prepared statement knows no
// array's length, and joined to the unnest alone it hashed the unnest
// and read the whole of queue_recipients at every finish.
const finishSQL = `
WITH done AS (
	UPDATE queue_recipients r SET state = x.state, attempts = r.attempts + 1,
		last_attempt_at = now(),
		next_attempt_at = CASE WHEN x.state = 'deferred' THEN x.next ELSE r.next_attempt_at END,
		last_error = x.err, lease_owner = '', lease_until = NULL, updated_at = now()
	FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[]) AS x(id, state, next, err)
	WHERE r.id = x.id AND r.id = ANY($1) AND r.lease_owner = $5 AND ($6::timestamptz IS NULL OR r.lease_until = $6)
	RETURNING 1
)
SELECT queue_lease_held((SELECT count(*) FROM done) = $7)`

// settled says whether results leave none of their recipients to try.
func settled(results []QueueResult) bool {
	for _, r := range results {
		if r.State != RcptDelivered && r.State != RcptBounced {
			return false
		}
	}
	return true
}

// finishSettledSQL is finishSQL for results that settle their recipients
// ($1 the recipients, $2 their states, $3 errors, $4 and $5 the lease,
// $6 how many, $7 the message's row): when no other recipient of the
// message is left to try, it removes the message (its recipients go with it, ON
// DELETE CASCADE) instead of writing the results first, as Postfix
// removes a queue file; else it writes them. The recipients are locked
// (held) before the lease is checked, so a claim that took one whose
// lease ran out is seen, as the UPDATE of finishSQL sees it.
const finishSettledSQL = `
WITH held AS (
	SELECT r.id FROM queue_recipients r
	WHERE r.id = ANY($1) AND r.lease_owner = $4 AND ($5::timestamptz IS NULL OR r.lease_until = $5)
	FOR NO KEY UPDATE
), gone AS (
	DELETE FROM queue q WHERE q.id = $7 AND (SELECT count(*) FROM held) = $6
		AND NOT EXISTS (SELECT 1 FROM queue_recipients r
			WHERE r.queue_id = q.id AND r.state IN ('queued', 'deferred') AND r.id <> ALL($1))
	RETURNING 1
), done AS (
	UPDATE queue_recipients r SET state = x.state, attempts = r.attempts + 1,
		last_attempt_at = now(), last_error = x.err, lease_owner = '', lease_until = NULL, updated_at = now()
	FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x(id, state, err)
	WHERE r.id = x.id AND r.id IN (SELECT id FROM held) AND NOT EXISTS (SELECT 1 FROM gone)
)
SELECT queue_lease_held((SELECT count(*) FROM held) = $6)`

// leaseLostCode is the SQLSTATE of queue_lease_held's error.
const leaseLostCode = "MH001"

// ReleaseQueue gives back owner's leases of the recipients ids (not
// attempted, e.g. at shutdown), so another node may take them at once.
func (s *Store) ReleaseQueue(ctx context.Context, owner string, ids []int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE queue_recipients SET lease_owner = '', lease_until = NULL
		WHERE id = ANY($1) AND lease_owner = $2`, ids, owner)
	if err != nil {
		return fmt.Errorf("store: release queue: %w", err)
	}
	return nil
}

// QueueCounts returns the number of recipients waiting per state, with
// "hold" for those of messages on hold.
func (s *Store) QueueCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT CASE WHEN q.hold THEN 'hold' ELSE r.state END, count(*)
		FROM queue_recipients r JOIN queue q ON q.id = r.queue_id
		WHERE r.state IN ('queued', 'deferred') GROUP BY 1`)
	if err != nil {
		return nil, fmt.Errorf("store: queue counts: %w", err)
	}
	out := map[string]int64{"queued": 0, "deferred": 0, "hold": 0}
	for rows.Next() {
		var k string
		var n int64
		if err := rows.Scan(&k, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}
