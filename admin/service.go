// Package admin is the provisioning service: it validates input, enforces
// domain limits and permissions, and writes the audit log, each change in one
// transaction. The REST API, the command line and the web panel are thin
// faces over it; none of them writes SQL or decides who may change what.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"mailhost/maildir"
	"mailhost/store"
)

// Hasher hashes new passwords in the configured scheme (auth.Hasher).
type Hasher interface {
	Hash(password string) (string, error)
}

// Options configure a Service.
type Options struct {
	Hasher        Hasher
	MaildirRoot   string        // <root>/<domain>/<local>/
	RetentionRoot string        // where deleted mailboxes' Maildirs wait: <data_dir>/retention
	RetentionDays int           // how long they wait
	Owner         maildir.Owner // vmail uid/gid of every Maildir file
	Log           *slog.Logger
	Now           func() time.Time // for tests; time.Now by default
	TOTPIssuer    string           // how authenticator apps name this server; "mailhost" by default
	// SieveMaxScriptSize and SieveMaxScripts bound a mailbox's Sieve
	// scripts (sieve.max_script_size, sieve.max_scripts); 0: 64 KiB, 20.
	SieveMaxScriptSize int
	SieveMaxScripts    int
	// Logins throttles admin password logins, second-factor codes and API
	// token checks with the mail protocols' policy and bounds their
	// hashes; nil: neither (tests and tools that check no logins).
	Logins LoginGuard
	// DNS is what the DNS page and the MTA-STS policy say of this
	// installation; Resolver answers the DNS page's check and the DKIM
	// rotation's (nil: no checks, rotations wait).
	DNS      MailDNS
	Resolver Resolver
}

// Service is the provisioning service. It is safe for concurrent use.
type Service struct {
	st   *store.Store
	opts Options
	log  *slog.Logger

	mu      sync.Mutex
	touched map[int64]time.Time // token id -> last recorded use, to write at most once a minute
}

// New returns a Service on st.
func New(st *store.Store, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, opts: opts, log: opts.Log, touched: map[int64]time.Time{}}
}

// ListParams page and filter a list.
type ListParams struct {
	Q      string // substring filter
	Cursor string // from the previous page's NextCursor
	Limit  int    // default 50, at most 500
}

// Page limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// List is a page of items and the cursor of the next page ("" at the end).
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (p ListParams) page() (store.Page, error) {
	var f fields
	if p.Limit < 0 || p.Limit > MaxLimit {
		f.add("limit", "must be from 1 to %d", MaxLimit)
	}
	after, err := store.DecodeCursor(p.Cursor)
	if err != nil {
		f.add("cursor", "is not a cursor of this list")
	}
	if len(p.Q) > 320 {
		f.add("q", "is longer than 320 characters")
	}
	if err := f.err(); err != nil {
		return store.Page{}, err
	}
	limit := p.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	return store.Page{After: after, Limit: limit}, nil
}

// finish converts a page of rows, fetched with one extra row to learn
// whether another page follows.
func finish[R, T any](rows []R, limit int, key func(R) string, view func(R) T) List[T] {
	out := List[T]{Items: make([]T, 0, len(rows))}
	if len(rows) > limit {
		rows = rows[:limit]
		out.NextCursor = store.EncodeCursor(key(rows[len(rows)-1]))
	}
	for _, r := range rows {
		out.Items = append(out.Items, view(r))
	}
	return out
}

// audit writes one audit row in tx. before and after are views (never
// password hashes or token secrets); nil leaves the column NULL.
func (s *Service) audit(ctx context.Context, tx *store.Tx, a Actor, action, objType, object, domain string, before, after any) error {
	e := store.AuditEntry{
		Actor: a.auditName(), ActorKind: a.Kind, RemoteAddr: a.Remote,
		Action: action, ObjectType: objType, Object: object, Domain: domain,
	}
	if a.AdminID != 0 {
		e.AdminID = &a.AdminID
	}
	if a.TokenID != 0 {
		e.TokenID = &a.TokenID
	}
	var err error
	if e.Before, err = marshalOrNil(before); err != nil {
		return err
	}
	if e.After, err = marshalOrNil(after); err != nil {
		return err
	}
	return tx.InsertAudit(ctx, e)
}

func marshalOrNil(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	return json.Marshal(v)
}

// notFound maps store.ErrNotFound onto a user-facing NotFound error.
func notFound(err error, format string, a ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return newErr(NotFound, format, a...)
	}
	return err
}

// conflict maps store.ErrConflict onto a user-facing Conflict error.
func conflict(err error, format string, a ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return newErr(Conflict, format, a...)
	}
	return err
}
