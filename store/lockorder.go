package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The lock order (ARCHITECTURE.md, "Lock order"): every transaction that
// touches mailbox, folder, message and queue rows takes their locks in this
// order, skipping the levels it does not need:
//
//  1. the mailbox row,
//  2. folder rows, by ascending id,
//  3. message rows (by the statements that change them),
//  4. queue rows.
//
// lockRows takes levels 1 and 2 at the start of a transaction, so that the
// statements that follow only ever wait on locks held by transactions that
// are further along the same order: no cycle, so no deadlock.
//
// The rows are locked FOR NO KEY UPDATE, the lock an UPDATE of non-key
// columns takes: it excludes every other locker of the row as FOR UPDATE
// does, but not the FOR KEY SHARE of a foreign-key check, so inserting a
// row that refers to a locked folder or mailbox (a COPY's journal rows in
// pending_files, a tombstone) does not wait for the lock's holder.

// lockRows locks the mailbox row (unless mailboxID is 0) and then the
// folder rows in ascending id order. ErrNotFound when the mailbox or a
// folder does not exist.
func lockRows(ctx context.Context, q querier, mailboxID int64, folderIDs ...int64) error {
	if mailboxID != 0 {
		var id int64
		if err := q.QueryRow(ctx, `SELECT id FROM mailboxes WHERE id = $1 FOR NO KEY UPDATE`, mailboxID).Scan(&id); err != nil {
			return err
		}
	}
	if len(folderIDs) == 0 {
		return nil
	}
	ids := slices.Clone(folderIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM (SELECT id FROM folders WHERE id = ANY($1)
		ORDER BY id FOR NO KEY UPDATE) l`, ids).Scan(&n); err != nil {
		return err
	}
	if n != len(ids) {
		return ErrNotFound
	}
	return nil
}

// maxTxAttempts bounds how often a transaction that lost a deadlock or a
// serialization conflict is run again. With the lock order neither should
// happen; the retry keeps a client from ever seeing one if it does.
const maxTxAttempts = 4

// inTx runs fn in a transaction, committing when it returns nil. A
// transaction that PostgreSQL aborted for a deadlock or a serialization
// failure is run again from the start (fn must be safe to repeat: it
// re-reads what it needs), at most maxTxAttempts times in all.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.inTxOpts(ctx, pgx.TxOptions{}, fn)
}

// genericPlans begins a transaction whose statements run with their
// generic plans, in the same round trip as the BEGIN (simple protocol).
// PostgreSQL otherwise plans a prepared statement anew at each execution
// whenever its generic plan's estimates look costlier than a custom
// plan's, and for the small, parameterised statements of the IMAP index's
// writes the planning costs about as much as the execution
// (pg_stat_statements under imap-stress).
var genericPlans = pgx.TxOptions{BeginQuery: `BEGIN; SET LOCAL plan_cache_mode = force_generic_plan`}

// queueGenericPlans starts b, a batch that runs as one transaction
// (implicit, or inside an explicit one), with genericPlans' setting: its
// statements run with their generic plans, made once per connection.
// Left to choose, PostgreSQL plans a statement for its values at its
// first five runs on each connection before it settles on the generic
// plan; for the submission path, whose statements all settle so, that
// planning (milliseconds for the resolution's joins) was half the
// database's CPU time in bench/submission.sh with a new pool
// (pg_stat_statements' plan times): the same plans, from the first run.
func queueGenericPlans(b *pgx.Batch) {
	b.Queue(`SET LOCAL plan_cache_mode = force_generic_plan`)
}

// inIMAPTx is inTx for the IMAP index's frequent writes (STORE, APPEND,
// COPY, MOVE, EXPUNGE): their statements run with their generic plans.
func (s *Store) inIMAPTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.inTxOpts(ctx, genericPlans, fn)
}

func (s *Store) inTxOpts(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	var err error
	for range maxTxAttempts {
		if err = pgx.BeginTxFunc(ctx, s.pool, opts, fn); !retryable(err) {
			return err
		}
	}
	return fmt.Errorf("store: gave up after %d attempts: %w", maxTxAttempts, err)
}

// retryable reports whether err aborted a transaction that may simply be
// run again: deadlock_detected (40P01) or serialization_failure (40001).
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}
