package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// RenameIMAPFolder renames a folder and its children ("A/B" with "A").
// ErrNotFound if nothing has that name, ErrConflict if a target exists.
//
// Each renamed folder keeps its MAILBOXID (RFC 8474) and its UIDs but takes
// a new UIDVALIDITY from the mailbox's counter: a client that knew a
// deleted folder of the new name must see a larger value there (RFC 3501
// 2.3.1.1), and the folder renamed in may be older than that one. The
// subscriptions of the old names move to the new ones (a subscription the
// new name already had stays).
func (s *Store) RenameIMAPFolder(ctx context.Context, mailboxID int64, oldName, newName string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE folders SET name = $3 || substr(name, length($2) + 1),
				uidvalidity = next_uidvalidity(mailbox_id)
			WHERE mailbox_id = $1 AND (name = $2 OR left(name, length($2) + 1) = $2 || '/')`,
			mailboxID, oldName, newName)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return renameSubscriptions(ctx, tx, mailboxID, oldName, newName)
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	return translate(err, "rename folder")
}

// RenameIMAPInbox moves every message of INBOX into a new folder newName,
// numbered from UID 1 there (RFC 3501 6.3.5); INBOX stays, empty. The
// messages keep their EMAILID and take the move's time as their SAVEDATE;
// INBOX records them as expunged (its tombstones), with one HIGHESTMODSEQ
// step.
func (s *Store) RenameIMAPInbox(ctx context.Context, mailboxID int64, newName string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID); err != nil {
			return err
		}
		var inbox, dst int64
		if err := tx.QueryRow(ctx, `SELECT id FROM folders WHERE mailbox_id = $1 AND name = 'INBOX' FOR UPDATE`,
			mailboxID).Scan(&inbox); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO folders (mailbox_id, name) VALUES ($1, $2) RETURNING id`,
			mailboxID, newName).Scan(&dst); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE messages m SET folder_id = $2, uid = r.rn, modseq = 1, created_at = now()
			FROM (SELECT id, uid AS old, row_number() OVER (ORDER BY uid) AS rn FROM messages WHERE folder_id = $1) r
			WHERE m.id = r.id RETURNING r.old`, inbox, dst)
		if err != nil {
			return err
		}
		moved, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE folders SET uidnext = $2 + 1 WHERE id = $1`, dst, len(moved)); err != nil {
			return err
		}
		if _, err := s.recordExpunge(ctx, tx, inbox, moved); err != nil {
			return err
		}
		return notifyFolder(ctx, tx, inbox, "expunge")
	})
	return translate(err, "rename INBOX")
}
