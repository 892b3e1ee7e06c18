package admin

import (
	"context"
	"errors"
	"time"

	"mailhost/store"
)

// The web panel's logins live in the database; the panel reaches them
// through the service, as it reaches everything else, so that it never
// imports store.

// WebSession is a login to the web panel. IDHash is the SHA-256 of the
// random id in its cookie; the id itself is never stored.
type WebSession struct {
	IDHash     []byte
	Kind       string // "admin" or "user" (a mailbox owner)
	AdminID    int64  // for Kind "admin"
	MailboxID  int64  // for Kind "user"
	RemoteAddr string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// CreateWebSession stores a new session.
func (s *Service) CreateWebSession(ctx context.Context, w WebSession) error {
	row := store.WebSession{IDHash: w.IDHash, Kind: w.Kind, RemoteAddr: w.RemoteAddr,
		CreatedAt: w.CreatedAt, ExpiresAt: w.ExpiresAt}
	if w.AdminID != 0 {
		row.AdminID = &w.AdminID
	}
	if w.MailboxID != 0 {
		row.MailboxID = &w.MailboxID
	}
	return s.st.CreateWebSession(ctx, row)
}

// TouchWebSession returns the session with that hash and records now as
// its last use, if it is still valid at now: before its expiry and seen
// within idle. An unknown or expired session is NotFound.
func (s *Service) TouchWebSession(ctx context.Context, hash []byte, now time.Time, idle time.Duration) (WebSession, error) {
	row, err := s.st.TouchWebSession(ctx, hash, now, idle)
	if errors.Is(err, store.ErrNotFound) {
		return WebSession{}, newErr(NotFound, "no such session")
	}
	if err != nil {
		return WebSession{}, err
	}
	w := WebSession{IDHash: row.IDHash, Kind: row.Kind, RemoteAddr: row.RemoteAddr,
		CreatedAt: row.CreatedAt, ExpiresAt: row.ExpiresAt}
	if row.AdminID != nil {
		w.AdminID = *row.AdminID
	}
	if row.MailboxID != nil {
		w.MailboxID = *row.MailboxID
	}
	return w, nil
}

// DeleteWebSession ends a session (logout); an unknown one is no error.
func (s *Service) DeleteWebSession(ctx context.Context, hash []byte) error {
	return s.st.DeleteWebSession(ctx, hash)
}

// DeleteExpiredWebSessions removes the sessions no longer valid at now and
// returns how many it removed.
func (s *Service) DeleteExpiredWebSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	return s.st.DeleteExpiredWebSessions(ctx, now, idle)
}
