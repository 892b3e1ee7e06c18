package testdb

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"mailhost/store"
)

// Blocker holds an ACCESS EXCLUSIVE lock on a table, so that every query
// touching it waits: tests use it to catch a command in the middle of its
// database work, then watch that work being cancelled.
type Blocker struct {
	s  *store.Store
	tx pgx.Tx
}

// Block locks table until the test ends or Release.
func Block(t testing.TB, s *store.Store, table string) *Blocker {
	t.Helper()
	ctx := context.Background()
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		tx.Rollback(ctx)
		t.Fatal(err)
	}
	b := &Blocker{s: s, tx: tx}
	t.Cleanup(b.Release)
	return b
}

// Release ends the lock.
func (b *Blocker) Release() { b.tx.Rollback(context.Background()) } //nolint:errcheck // a second call finds it closed

// Waiting is the number of queries of the test's database waiting for a
// lock now.
func (b *Blocker) Waiting(t testing.TB) int {
	t.Helper()
	var n int
	if err := b.s.Pool().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// WaitFor waits until Waiting reports n (20 seconds at most).
func (b *Blocker) WaitFor(t testing.TB, n int, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for b.Waiting(t) != n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %d queries wait for a lock, want %d", what, b.Waiting(t), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
