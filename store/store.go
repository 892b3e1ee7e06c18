// Package store is the only package that speaks SQL. It holds the connection
// pool, applies migrations, and offers intent-named methods per table family
// (domains, mailboxes, aliases, the message index, the queue, ...).
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound is returned when the row asked for does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write collides with an existing row
// (a unique constraint: duplicate address, domain name, ...).
var ErrConflict = errors.New("store: conflict")

// Store is the database handle shared by every server of a node.
type Store struct {
	pool       *pgxpool.Pool
	node       string // Options.Node
	tombstones int64  // Options.Tombstones, or DefaultTombstones
}

// Options tune the pool.
type Options struct {
	// MaxConns caps the pool; 0 means pgxpool's default.
	MaxConns int32
	// Node names this node in the file journal (pending_files.node): the
	// host its Maildir file names carry. Empty is allowed (tests).
	Node string
	// Tombstones is how many expunge tombstones (QRESYNC's VANISHED) a
	// folder keeps at least; 0 means DefaultTombstones.
	Tombstones int
}

// Open connects to the database at url (a postgres:// URL or a libpq
// keyword/value string) and checks that it answers.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	cancelOnServer(cfg.ConnConfig)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open pool: %w", err)
	}
	s := &Store{pool: pool, node: opts.Node, tombstones: int64(opts.Tombstones)}
	if s.tombstones <= 0 {
		s.tombstones = DefaultTombstones
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// cancelDeadlineDelay is how long a cancelled query may take to stop on
// the server before its connection is closed.
const cancelDeadlineDelay = 2 * time.Second

// cancelOnServer makes a context that ends during a query send PostgreSQL a
// cancel request, so that the query stops there too (a session whose
// client went away must not keep a backend busy, or waiting on a lock, for
// nobody), and keeps the connection when the server answers in time.
// pgx's default only closes the socket, which a backend waiting on a lock
// notices when the wait is over.
func cancelOnServer(cfg *pgx.ConnConfig) {
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: cancelDeadlineDelay}
	}
}

// closeOnCancel restores pgx's default for a connection that waits idle
// for notifications: a cancel request has nothing to cancel there, so the
// socket is closed at once.
func closeOnCancel(cfg *pgx.ConnConfig) {
	cfg.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: pc.Conn()}
	}
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Pool exposes the pool to this package's tests and to LISTEN connections.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// translate maps PostgreSQL errors onto the package's sentinels, keeping the
// original error wrapped for the logs.
func translate(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation
		return fmt.Errorf("%s: %w (%s)", what, ErrConflict, pe.ConstraintName)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// IsConstraint reports whether err is a violation of the named constraint
// (check, foreign key, unique); name "" matches any.
func IsConstraint(err error, name string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 || pe.Code[:2] != "23" {
		return false
	}
	return name == "" || pe.ConstraintName == name
}
