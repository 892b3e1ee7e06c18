package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// WebSession is a row of web_sessions: a login to the web panel. IDHash is
// the SHA-256 of the random id in the cookie.
type WebSession struct {
	IDHash     []byte
	Kind       string // "admin" or "user" (a mailbox owner)
	AdminID    *int64
	MailboxID  *int64
	RemoteAddr string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastSeenAt time.Time
}

const webSessionCols = `id_hash, kind, admin_id, mailbox_id, remote_addr, created_at, expires_at, last_seen_at`

// CreateWebSession stores a new session; CreatedAt and LastSeenAt are set
// from it (now when zero).
func (s *Store) CreateWebSession(ctx context.Context, w WebSession) error {
	if w.CreatedAt.IsZero() {
		w.CreatedAt = time.Now()
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO web_sessions (id_hash, kind, admin_id, mailbox_id, remote_addr, created_at, expires_at, last_seen_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $6)`,
		w.IDHash, w.Kind, w.AdminID, w.MailboxID, w.RemoteAddr, w.CreatedAt, w.ExpiresAt)
	return translate(err, "create web session")
}

// TouchWebSession returns the session with that hash and records now as its
// last use, if it is still valid at now: before its expiry and seen within
// idle. An unknown or expired session is ErrNotFound.
func (s *Store) TouchWebSession(ctx context.Context, hash []byte, now time.Time, idle time.Duration) (WebSession, error) {
	rows, err := s.pool.Query(ctx, `
		UPDATE web_sessions SET last_seen_at = $2
		WHERE id_hash = $1 AND expires_at > $2 AND last_seen_at > $2 - make_interval(secs => $3)
		RETURNING `+webSessionCols, hash, now, idle.Seconds())
	if err != nil {
		return WebSession{}, translate(err, "touch web session")
	}
	w, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[WebSession])
	return w, translate(err, "touch web session")
}

// DeleteWebSession removes a session (logout); an unknown one is no error.
func (s *Store) DeleteWebSession(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, hash)
	return translate(err, "delete web session")
}

// DeleteExpiredWebSessions removes the sessions no longer valid at now and
// returns how many it removed.
func (s *Store) DeleteExpiredWebSessions(ctx context.Context, now time.Time, idle time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		DELETE FROM web_sessions WHERE expires_at <= $1 OR last_seen_at <= $1 - make_interval(secs => $2)`,
		now, idle.Seconds())
	if err != nil {
		return 0, translate(err, "delete expired web sessions")
	}
	return tag.RowsAffected(), nil
}

// MailboxByID returns the mailbox with that id (a mailbox owner's session
// names its mailbox by id).
func (t *Tx) MailboxByID(ctx context.Context, id int64) (Mailbox, error) {
	rows, err := t.q.Query(ctx, `SELECT `+mailboxCols+` FROM mailboxes WHERE id = $1`, id)
	return collectMailbox(rows, err, "mailbox by id")
}

// AnyAdmin reports whether at least one admin exists (the web panel offers
// its first-run setup page only while none does).
func (t *Tx) AnyAdmin(ctx context.Context) (bool, error) {
	var ok bool
	err := t.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM admins)`).Scan(&ok)
	return ok, translate(err, "any admin")
}
