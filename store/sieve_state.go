package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SieveVacationReply records that sender is answered under the handle of a
// vacation action and queues reply, in one transaction, unless sender was
// answered under that handle within period (RFC 5230 4.2). It reports
// whether the reply was queued.
func (s *Store) SieveVacationReply(ctx context.Context, mailboxID int64, handle, sender string, period time.Duration, reply QueuedMessage) (bool, error) {
	queued, err := s.claimAndQueue(ctx, `
		INSERT INTO sieve_vacation_replies (mailbox_id, handle, sender) VALUES ($1, $2, $3)
		ON CONFLICT (mailbox_id, handle, sender) DO UPDATE SET replied_at = now()
		WHERE sieve_vacation_replies.replied_at <= now() - make_interval(secs => $4)`,
		[]any{mailboxID, handle, sender, period.Seconds()}, reply)
	if err != nil {
		return false, fmt.Errorf("store: sieve vacation reply: %w", err)
	}
	return queued, nil
}

// SieveRedirectAllowance takes up to n of the mailbox's redirects of today
// (UTC) under limit and returns how many it took.
func (s *Store) SieveRedirectAllowance(ctx context.Context, mailboxID int64, n, limit int) (int, error) {
	var taken int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO sieve_redirects (mailbox_id, day, count) VALUES ($1, (now() AT TIME ZONE 'UTC')::date, 0)
			ON CONFLICT (mailbox_id, day) DO NOTHING`, mailboxID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			WITH o AS (
				SELECT count AS old FROM sieve_redirects
				WHERE mailbox_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date FOR UPDATE
			)
			UPDATE sieve_redirects r SET count = o.old + least($2, greatest($3 - o.old, 0)) FROM o
			WHERE r.mailbox_id = $1 AND r.day = (now() AT TIME ZONE 'UTC')::date
			RETURNING least($2, greatest($3 - o.old, 0))`, mailboxID, n, limit).Scan(&taken)
	})
	if err != nil {
		return 0, fmt.Errorf("store: sieve redirects of mailbox %d: %w", mailboxID, err)
	}
	return taken, nil
}

// RecordSieveError keeps the last run-time failure of a mailbox's scripts.
func (s *Store) RecordSieveError(ctx context.Context, mailboxID int64, msg string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO sieve_errors (mailbox_id, message) VALUES ($1, $2)
		ON CONFLICT (mailbox_id) DO UPDATE SET message = EXCLUDED.message, occurred_at = now(),
			failures = sieve_errors.failures + 1`, mailboxID, msg)
	if err != nil {
		return fmt.Errorf("store: record sieve error of mailbox %d: %w", mailboxID, err)
	}
	return nil
}

// SieveError is the last run-time failure of a mailbox's scripts.
type SieveError struct {
	Message    string
	OccurredAt time.Time
	Failures   int64
}

// LastSieveError returns the last run-time failure of a mailbox's scripts.
func (t *Tx) LastSieveError(ctx context.Context, mailboxID int64) (SieveError, error) {
	rows, err := t.q.Query(ctx, `SELECT message, occurred_at, failures FROM sieve_errors WHERE mailbox_id = $1`, mailboxID)
	if err != nil {
		return SieveError{}, translate(err, "sieve error")
	}
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[SieveError])
	return e, translate(err, "sieve error")
}
