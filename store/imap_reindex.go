package store

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ReindexMailbox is a mailbox as reindex sees it.
type ReindexMailbox struct {
	ID      int64
	Address string
	Maildir string // relative to the Maildir root
}

// ReindexMailboxes returns the mailbox with that address, or every mailbox
// when address is "".
func (s *Store) ReindexMailboxes(ctx context.Context, address string) ([]ReindexMailbox, error) {
	sql := `SELECT id, address, maildir FROM mailboxes`
	var args []any
	if address != "" {
		sql += ` WHERE address = $1`
		args = append(args, strings.ToLower(address))
	}
	rows, err := s.pool.Query(ctx, sql+` ORDER BY address`, args...)
	if err != nil {
		return nil, translate(err, "reindex mailboxes")
	}
	defer rows.Close()
	var out []ReindexMailbox
	for rows.Next() {
		var m ReindexMailbox
		if err := rows.Scan(&m.ID, &m.Address, &m.Maildir); err != nil {
			return nil, translate(err, "reindex mailboxes")
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, "reindex mailboxes")
	}
	if address != "" && len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// EnsureIMAPFolder returns the folder row with that name, creating it
// (with specialUse) when missing.
func (s *Store) EnsureIMAPFolder(ctx context.Context, mailboxID int64, name, specialUse string) (IMAPFolder, bool, error) {
	f, err := s.IMAPFolder(ctx, mailboxID, name)
	if err == nil {
		return f, false, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return f, false, err
	}
	f, err = s.CreateIMAPFolder(ctx, mailboxID, name, specialUse)
	if err != nil {
		if f2, err2 := s.IMAPFolder(ctx, mailboxID, name); err2 == nil { // created meanwhile
			return f2, false, nil
		}
	}
	return f, err == nil, err
}

// ReindexStats counts what ReindexFolder did.
type ReindexStats struct {
	Kept, Added, Removed int
}

// ReindexFolder makes a folder's rows match files, the messages found in
// its Maildir directory: rows whose key is among them keep their UID and
// keywords and take the file's name, size and system flags; files the index
// does not know get new UIDs (in files' order); rows without a file go.
func (s *Store) ReindexFolder(ctx context.Context, folderID int64, files []NewIMAPMessage) (ReindexStats, error) {
	var st ReindexStats
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var modseq int64
		if err := tx.QueryRow(ctx, `UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = $1
			RETURNING highestmodseq`, folderID).Scan(&modseq); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT key FROM messages WHERE folder_id = $1 FOR UPDATE`, folderID)
		if err != nil {
			return err
		}
		known := map[string]bool{}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			known[k] = false
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var add []NewIMAPMessage
		var keys, subdirs, names, flags []string
		var sizes []int64
		for _, f := range files {
			if _, ok := known[f.Key]; !ok {
				add = append(add, f)
				continue
			}
			known[f.Key] = true
			keys, subdirs, names = append(keys, f.Key), append(subdirs, f.Subdir), append(names, f.Filename)
			flags, sizes = append(flags, strings.Join(f.Flags, " ")), append(sizes, f.Size)
		}
		if len(keys) > 0 {
			tag, err := tx.Exec(ctx, `UPDATE messages m SET subdir = t.subdir, filename = t.filename,
					flags = string_to_array(t.flags, ' '), size = t.size, modseq = $2
				FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS t(key, subdir, filename, flags, size)
				WHERE m.folder_id = $1 AND m.key = t.key`, folderID, modseq, keys, subdirs, names, flags, sizes)
			if err != nil {
				return err
			}
			st.Kept = int(tag.RowsAffected())
		}
		var gone []string
		for k, seen := range known {
			if !seen {
				gone = append(gone, k)
			}
		}
		if len(gone) > 0 {
			uids, err := tombstoneUIDs(tx.Query(ctx, `DELETE FROM messages WHERE folder_id = $1 AND key = ANY($2)
				RETURNING uid`, folderID, gone))
			if err != nil {
				return err
			}
			st.Removed = len(uids)
			if _, err := s.recordExpunge(ctx, tx, folderID, uids); err != nil {
				return err
			}
		}
		if len(add) > 0 {
			_, _, n, _, err := insertMessages(ctx, tx, folderID, add)
			if err != nil {
				return err
			}
			st.Added = int(n)
		}
		return notifyFolder(ctx, tx, folderID, "expunge")
	})
	return st, translate(err, "reindex folder")
}

// FixMailboxUsage sets a mailbox's used_bytes and used_messages to the sums
// over its indexed messages, and returns them. The sums are taken under the
// mailbox row's lock, so a delivery charging at the same time is counted
// exactly once.
func (s *Store) FixMailboxUsage(ctx context.Context, mailboxID int64) (bytes, messages int64, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE mailboxes mb SET used_bytes = u.b, used_messages = u.n
			FROM (SELECT coalesce(sum(m.size), 0) AS b, count(m.id) AS n
			      FROM folders f JOIN messages m ON m.folder_id = f.id WHERE f.mailbox_id = $1) u
			WHERE mb.id = $1 RETURNING mb.used_bytes, mb.used_messages`, mailboxID).Scan(&bytes, &messages)
	})
	return bytes, messages, translate(err, "fix usage")
}

// MailboxUsage returns a mailbox's usage counters and, read in the same
// snapshot, the sums over its indexed messages they should equal.
func (s *Store) MailboxUsage(ctx context.Context, mailboxID int64) (used, indexed Usage, err error) {
	err = s.pool.QueryRow(ctx, `SELECT mb.used_bytes, mb.used_messages, coalesce(sum(m.size), 0), count(m.id)
		FROM mailboxes mb LEFT JOIN folders f ON f.mailbox_id = mb.id LEFT JOIN messages m ON m.folder_id = f.id
		WHERE mb.id = $1 GROUP BY mb.id`, mailboxID).Scan(&used.Bytes, &used.Messages, &indexed.Bytes, &indexed.Messages)
	return used, indexed, translate(err, "mailbox usage")
}

// Usage is a count of messages and their bytes.
type Usage struct{ Bytes, Messages int64 }

// DropMissing removes the index rows of keys in a folder whose files are
// gone from disk (found by a check), crediting their size, and returns how
// many went. No journal: there is no file left to remove; their expunge
// tombstones are recorded (QRESYNC).
func (s *Store) DropMissing(ctx context.Context, mailboxID, folderID int64, keys []string) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID, folderID); err != nil {
			return err
		}
		var b int64
		var uids []int64
		if err := tx.QueryRow(ctx, `WITH d AS (DELETE FROM messages WHERE folder_id = $1 AND key = ANY($2) RETURNING uid, size)
			SELECT count(*), coalesce(sum(size), 0), coalesce(array_agg(uid), '{}') FROM d`, folderID, keys).Scan(&n, &b, &uids); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if _, err := s.recordExpunge(ctx, tx, folderID, uids); err != nil {
			return err
		}
		if err := credit(ctx, tx, mailboxID, int64(n), b); err != nil {
			return err
		}
		return notifyFolder(ctx, tx, folderID, "expunge")
	})
	return n, translate(err, "drop missing")
}
