package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// ThrottleRecord is a row of auth_throttle: the failed logins of one client
// address ("ip:...") or account ("acct:...") in the current series, and the
// end of its block (zero when none began).
type ThrottleRecord struct {
	Key          string
	Failures     int
	LastFailure  time.Time
	BlockedUntil time.Time
}

type throttleRow struct {
	Key          string
	Failures     int
	LastFailure  time.Time
	BlockedUntil *time.Time
}

func (r throttleRow) record() ThrottleRecord {
	t := ThrottleRecord{Key: r.Key, Failures: r.Failures, LastFailure: r.LastFailure}
	if r.BlockedUntil != nil {
		t.BlockedUntil = *r.BlockedUntil
	}
	return t
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// LoginThrottle returns the records of keys (keys without one are absent
// from the map) and when client last logged in to account successfully, if
// that was at or after knownSince (else the zero time).
func (s *Store) LoginThrottle(ctx context.Context, keys []string, account, client string, knownSince time.Time) (map[string]ThrottleRecord, time.Time, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT key, failures, last_failure, blocked_until FROM auth_throttle WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, time.Time{}, translate(err, "read login throttle")
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[throttleRow])
	if err != nil {
		return nil, time.Time{}, translate(err, "read login throttle")
	}
	out := make(map[string]ThrottleRecord, len(list))
	for _, r := range list {
		out[r.Key] = r.record()
	}
	var known time.Time
	if account != "" && client != "" {
		err = s.pool.QueryRow(ctx, `
			SELECT last_login FROM auth_known_clients WHERE account = $1 AND client = $2 AND last_login >= $3`,
			account, client, knownSince).Scan(&known)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, time.Time{}, translate(err, "read known login clients")
		}
	}
	return out, known, nil
}

// UpdateLoginThrottle applies update to the record of each key (a zero
// record with the key when there is none) under a lock on its row, in one
// transaction, and stores the results; a result with no failures and no
// block removes the row. Rows are locked in key order, so concurrent
// updates cannot deadlock. It returns the stored records.
func (s *Store) UpdateLoginThrottle(ctx context.Context, keys []string, update func(ThrottleRecord) ThrottleRecord) (map[string]ThrottleRecord, error) {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	out := make(map[string]ThrottleRecord, len(keys))
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, k := range keys {
			// A row to lock, also for a first failure: two first failures
			// of one key must not both insert their count of one.
			if _, err := tx.Exec(ctx, `
				INSERT INTO auth_throttle (key, failures, last_failure) VALUES ($1, 0, 'epoch')
				ON CONFLICT (key) DO NOTHING`, k); err != nil {
				return fmt.Errorf("insert %s: %w", k, err)
			}
			rows, _ := tx.Query(ctx, `
				SELECT key, failures, last_failure, blocked_until FROM auth_throttle WHERE key = $1 FOR UPDATE`, k)
			r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[throttleRow])
			if err != nil {
				return fmt.Errorf("lock %s: %w", k, err)
			}
			next := update(r.record())
			next.Key = k
			if next.Failures == 0 && next.BlockedUntil.IsZero() {
				_, err = tx.Exec(ctx, `DELETE FROM auth_throttle WHERE key = $1`, k)
			} else {
				_, err = tx.Exec(ctx, `
					UPDATE auth_throttle SET failures = $2, last_failure = $3, blocked_until = $4 WHERE key = $1`,
					k, next.Failures, next.LastFailure, nullTime(next.BlockedUntil))
			}
			if err != nil {
				return fmt.Errorf("write %s: %w", k, err)
			}
			out[k] = next
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "update login throttle")
	}
	return out, nil
}

// LoginSucceeded forgets the failures of the account key (a block it is
// under stays), remembers client as a known client of account at now, and
// forgets the account's clients not seen since forgetBefore.
func (s *Store) LoginSucceeded(ctx context.Context, key, account, client string, now, forgetBefore time.Time) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			DELETE FROM auth_throttle WHERE key = $1 AND (blocked_until IS NULL OR blocked_until <= $2)`, key, now); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE auth_throttle SET failures = 0 WHERE key = $1`, key); err != nil {
			return err
		}
		if client == "" {
			return nil
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO auth_known_clients (account, client, last_login) VALUES ($1, $2, $3)
			ON CONFLICT (account, client) DO UPDATE SET last_login = EXCLUDED.last_login`,
			account, client, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM auth_known_clients WHERE account = $1 AND last_login < $2`, account, forgetBefore)
		return err
	})
	return translate(err, "record login success")
}

// PruneLoginThrottle removes the records that no longer matter at now: no
// block running and the last failure before forgetBefore.
func (s *Store) PruneLoginThrottle(ctx context.Context, now, forgetBefore time.Time) error {
	_, err := s.pool.Exec(ctx, `
		DELETE FROM auth_throttle WHERE last_failure < $2 AND (blocked_until IS NULL OR blocked_until <= $1)`, now, forgetBefore)
	return translate(err, "prune login throttle")
}

// LoginBlocks returns the blocks running at now, ending soonest first.
func (s *Store) LoginBlocks(ctx context.Context, now time.Time) ([]ThrottleRecord, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT key, failures, last_failure, blocked_until FROM auth_throttle
		WHERE blocked_until > $1 ORDER BY blocked_until, key`, now)
	if err != nil {
		return nil, translate(err, "list login blocks")
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[throttleRow])
	if err != nil {
		return nil, translate(err, "list login blocks")
	}
	out := make([]ThrottleRecord, len(list))
	for i, r := range list {
		out[i] = r.record()
	}
	return out, nil
}

// DeleteLoginThrottle removes the records of keys (their failures and
// blocks) and returns those that held failures or a block running at now.
func (s *Store) DeleteLoginThrottle(ctx context.Context, keys []string, now time.Time) ([]ThrottleRecord, error) {
	rows, err := s.pool.Query(ctx, `
		DELETE FROM auth_throttle WHERE key = ANY($1)
		RETURNING key, failures, last_failure, blocked_until`, keys)
	if err != nil {
		return nil, translate(err, "delete login throttle")
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[throttleRow])
	if err != nil {
		return nil, translate(err, "delete login throttle")
	}
	var out []ThrottleRecord
	for _, r := range list {
		if rec := r.record(); rec.BlockedUntil.After(now) || rec.Failures > 0 {
			out = append(out, rec)
		}
	}
	return out, nil
}
