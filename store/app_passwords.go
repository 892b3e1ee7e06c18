package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// AppPassword is a row of app_passwords with its mailbox's address; the
// hash is never read back.
type AppPassword struct {
	ID           int64
	MailboxID    int64
	Address      string
	Name         string
	Protocols    []string
	CreatedAt    time.Time
	LastUsedAt   *time.Time
	LastUsedFrom *string
}

const appPasswordSelect = `SELECT p.id, p.mailbox_id, m.address, p.name, p.protocols, p.created_at,
	p.last_used_at, p.last_used_from FROM app_passwords p JOIN mailboxes m ON m.id = p.mailbox_id`

// InsertAppPassword stores a new app password of a mailbox by the SHA-256
// of its secret. A name the mailbox already uses is ErrConflict.
func (t *Tx) InsertAppPassword(ctx context.Context, mailboxID int64, name string, hash []byte, protocols []string) (AppPassword, error) {
	var id int64
	err := t.q.QueryRow(ctx, `INSERT INTO app_passwords (mailbox_id, name, password_hash, protocols)
		VALUES ($1, $2, $3, $4) RETURNING id`, mailboxID, name, hash, protocols).Scan(&id)
	if err != nil {
		return AppPassword{}, translate(err, "insert app password")
	}
	return t.AppPasswordByID(ctx, id)
}

// AppPasswordByID returns an app password.
func (t *Tx) AppPasswordByID(ctx context.Context, id int64) (AppPassword, error) {
	rows, err := t.q.Query(ctx, appPasswordSelect+` WHERE p.id = $1`, id)
	if err != nil {
		return AppPassword{}, translate(err, "app password")
	}
	p, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[AppPassword])
	return p, translate(err, "app password")
}

// AppPasswords lists a mailbox's app passwords by name.
func (t *Tx) AppPasswords(ctx context.Context, mailboxID int64) ([]AppPassword, error) {
	rows, err := t.q.Query(ctx, appPasswordSelect+` WHERE p.mailbox_id = $1 ORDER BY p.name, p.id`, mailboxID)
	if err != nil {
		return nil, translate(err, "app passwords")
	}
	ps, err := pgx.CollectRows(rows, pgx.RowToStructByName[AppPassword])
	return ps, translate(err, "app passwords")
}

// DeleteAppPassword removes (revokes) an app password.
func (t *Tx) DeleteAppPassword(ctx context.Context, id int64) error {
	tag, err := t.q.Exec(ctx, `DELETE FROM app_passwords WHERE id = $1`, id)
	if err != nil {
		return translate(err, "delete app password")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// UseAppPassword is a login's check of an app password: it reports
// whether mailboxID has an app password with that hash for protocol, and
// records its use (now, from) when it has.
func (s *Store) UseAppPassword(ctx context.Context, mailboxID int64, hash []byte, protocol, from string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE app_passwords SET last_used_at = now(), last_used_from = $4
		WHERE mailbox_id = $1 AND password_hash = $2 AND $3 = ANY (protocols)`, mailboxID, hash, protocol, from)
	if err != nil {
		return false, translate(err, "use app password")
	}
	return tag.RowsAffected() == 1, nil
}
