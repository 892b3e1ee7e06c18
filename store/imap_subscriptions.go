package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Subscriptions (RFC 3501 6.3.6, RFC 9051 6.3.7) are names, kept apart
// from folders: CREATE does not subscribe (only the folders made with the
// mailbox are subscribed), a name that does not exist may be subscribed,
// DELETE keeps the subscription (LIST answers \Subscribed \NonExistent),
// RENAME moves it (RenameIMAPFolder).

// SetIMAPSubscribed subscribes a name (whether or not a folder has it; a
// second SUBSCRIBE is no error) or unsubscribes it (ErrNotFound when it was
// not subscribed).
func (s *Store) SetIMAPSubscribed(ctx context.Context, mailboxID int64, name string, on bool) error {
	sql := `DELETE FROM subscriptions WHERE mailbox_id = $1 AND name = $2`
	if on {
		sql = `INSERT INTO subscriptions (mailbox_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`
	}
	tag, err := s.pool.Exec(ctx, sql, mailboxID, name)
	if err != nil {
		return translate(err, "subscribe")
	}
	if !on && tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// IMAPSubscriptions returns the names a mailbox subscribes to, sorted:
// with IMAPFolders (whose Subscribed says which folders are among them),
// what LIST (SUBSCRIBED) and LSUB need; a name here without a folder is
// \NonExistent.
func (s *Store) IMAPSubscriptions(ctx context.Context, mailboxID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT name FROM subscriptions WHERE mailbox_id = $1 ORDER BY name`, mailboxID)
	if err != nil {
		return nil, translate(err, "subscriptions")
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return names, translate(err, "subscriptions")
}

// renameSubscriptions moves the subscriptions of oldName and the names
// below it ("A/B" with "A") to newName.
func renameSubscriptions(ctx context.Context, q querier, mailboxID int64, oldName, newName string) error {
	_, err := q.Exec(ctx, `WITH old AS (
			DELETE FROM subscriptions
			WHERE mailbox_id = $1 AND (name = $2 OR left(name, length($2) + 1) = $2 || '/')
			RETURNING name
		)
		INSERT INTO subscriptions (mailbox_id, name)
		SELECT $1, $3 || substr(name, length($2) + 1) FROM old
		ON CONFLICT DO NOTHING`, mailboxID, oldName, newName)
	return err
}
