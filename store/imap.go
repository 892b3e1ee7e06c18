package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrOverQuota is returned when a write would take a mailbox over its
// quota; nothing was written.
var ErrOverQuota = errors.New("store: over quota")

// IMAPFolder is a row of folders, as the IMAP server sees it.
type IMAPFolder struct {
	ID            int64
	MailboxID     int64
	Name          string // "INBOX", "Sent", "A/B"
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq int64
	SpecialUse    string // "" for none
	Subscribed    bool
}

// IMAPFolderStatus are the counters of STATUS.
type IMAPFolderStatus struct {
	Messages, Unseen, Deleted, Recent uint32
	Size                              int64
}

const imapFolderCols = `id, mailbox_id, name, uidvalidity, uidnext, highestmodseq, coalesce(special_use, ''), subscribed`

func scanIMAPFolder(row pgx.Row) (IMAPFolder, error) {
	var f IMAPFolder
	var uv, un int64
	err := row.Scan(&f.ID, &f.MailboxID, &f.Name, &uv, &un, &f.HighestModSeq, &f.SpecialUse, &f.Subscribed)
	f.UIDValidity, f.UIDNext = uint32(uv), uint32(min(un, 1<<32-1))
	return f, err
}

// notifyFolder queues a change notice for commit: "<folder id>:<kind>".
func notifyFolder(ctx context.Context, q querier, folderID int64, kind string) error {
	_, err := q.Exec(ctx, `SELECT pg_notify('`+FolderChannel+`', $1)`, strconv.FormatInt(folderID, 10)+":"+kind)
	return err
}

// IMAPFolders returns every folder of a mailbox, INBOX first, then by name.
func (s *Store) IMAPFolders(ctx context.Context, mailboxID int64) ([]IMAPFolder, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+imapFolderCols+` FROM folders WHERE mailbox_id = $1
		ORDER BY name <> 'INBOX', name`, mailboxID)
	if err != nil {
		return nil, translate(err, "imap folders")
	}
	defer rows.Close()
	var out []IMAPFolder
	for rows.Next() {
		f, err := scanIMAPFolder(rows)
		if err != nil {
			return nil, translate(err, "imap folders")
		}
		out = append(out, f)
	}
	return out, translate(rows.Err(), "imap folders")
}

// IMAPFolder returns the folder with that exact name.
func (s *Store) IMAPFolder(ctx context.Context, mailboxID int64, name string) (IMAPFolder, error) {
	f, err := scanIMAPFolder(s.pool.QueryRow(ctx, `SELECT `+imapFolderCols+` FROM folders
		WHERE mailbox_id = $1 AND name = $2`, mailboxID, name))
	return f, translate(err, "imap folder")
}

// IMAPFolderByID returns a folder by id.
func (s *Store) IMAPFolderByID(ctx context.Context, id int64) (IMAPFolder, error) {
	f, err := scanIMAPFolder(s.pool.QueryRow(ctx, `SELECT `+imapFolderCols+` FROM folders WHERE id = $1`, id))
	return f, translate(err, "imap folder")
}

// CreateIMAPFolder adds a folder row; ErrConflict if the name exists.
func (s *Store) CreateIMAPFolder(ctx context.Context, mailboxID int64, name, specialUse string) (IMAPFolder, error) {
	var su *string
	if specialUse != "" {
		su = &specialUse
	}
	f, err := scanIMAPFolder(s.pool.QueryRow(ctx, `INSERT INTO folders (mailbox_id, name, special_use)
		VALUES ($1, $2, $3) RETURNING `+imapFolderCols, mailboxID, name, su))
	return f, translate(err, "create folder")
}

// DeleteIMAPFolder removes a folder row and its messages' rows, crediting
// their size to the mailbox's usage, records the folder in the journal of
// folder deletions (pending_folder_deletes: its directory is to go, never
// to be adopted back), and returns the folder's id. The caller removes the
// directory, then calls FinishFolderDelete.
func (s *Store) DeleteIMAPFolder(ctx context.Context, mailboxID int64, name string) (int64, error) {
	var id int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `SELECT id FROM folders WHERE mailbox_id = $1 AND name = $2 FOR UPDATE`,
			mailboxID, name).Scan(&id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO pending_folder_deletes (mailbox_id, name) VALUES ($1, $2)
			ON CONFLICT (mailbox_id, name) DO UPDATE SET created_at = now()`, mailboxID, name); err != nil {
			return err
		}
		var n, b int64
		if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(size), 0) FROM messages WHERE folder_id = $1`,
			id).Scan(&n, &b); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM folders WHERE id = $1`, id); err != nil {
			return err
		}
		if err := credit(ctx, tx, mailboxID, n, b); err != nil {
			return err
		}
		return notifyFolder(ctx, tx, id, "expunge")
	})
	return id, translate(err, "delete folder")
}

// credit takes n messages of b bytes off a mailbox's usage.
func credit(ctx context.Context, q querier, mailboxID, n, b int64) error {
	if n == 0 && b == 0 {
		return nil
	}
	_, err := q.Exec(ctx, `UPDATE mailboxes SET used_bytes = greatest(used_bytes - $2, 0),
		used_messages = greatest(used_messages - $3, 0) WHERE id = $1`, mailboxID, b, n)
	return err
}

// charge adds n messages of b bytes to a mailbox's usage; with check it
// refuses (ErrOverQuota) when that would exceed the quota.
func charge(ctx context.Context, q querier, mailboxID, n, b int64, check bool) error {
	if n == 0 && b == 0 {
		return nil
	}
	sql := `UPDATE mailboxes SET used_bytes = used_bytes + $2, used_messages = used_messages + $3 WHERE id = $1`
	if check {
		sql += ` AND (quota_bytes = 0 OR used_bytes + $2 <= quota_bytes)`
	}
	tag, err := q.Exec(ctx, sql, mailboxID, b, n)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrOverQuota
	}
	return nil
}

// RenameIMAPFolder renames a folder and its children ("A/B" with "A").
// ErrNotFound if nothing has that name, ErrConflict if a target exists.
func (s *Store) RenameIMAPFolder(ctx context.Context, mailboxID int64, oldName, newName string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE folders SET name = $3 || substr(name, length($2) + 1)
			WHERE mailbox_id = $1 AND (name = $2 OR left(name, length($2) + 1) = $2 || '/')`,
			mailboxID, oldName, newName)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return err
	}
	return translate(err, "rename folder")
}

// RenameIMAPInbox moves every message of INBOX into a new folder newName,
// numbered from UID 1 there (RFC 3501 6.3.5); INBOX stays, empty.
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
		tag, err := tx.Exec(ctx, `UPDATE messages m SET folder_id = $2, uid = r.rn, modseq = 1
			FROM (SELECT id, row_number() OVER (ORDER BY uid) AS rn FROM messages WHERE folder_id = $1) r
			WHERE m.id = r.id`, inbox, dst)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE folders SET uidnext = $2 + 1 WHERE id = $1`, dst, tag.RowsAffected()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = $1`, inbox); err != nil {
			return err
		}
		return notifyFolder(ctx, tx, inbox, "expunge")
	})
	return translate(err, "rename INBOX")
}

// SetIMAPSubscribed marks a folder subscribed or not; ErrNotFound if it
// does not exist.
func (s *Store) SetIMAPSubscribed(ctx context.Context, mailboxID int64, name string, on bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE folders SET subscribed = $3 WHERE mailbox_id = $1 AND name = $2`,
		mailboxID, name, on)
	if err != nil {
		return translate(err, "subscribe")
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// IMAPStatus counts a folder's messages. Recent counts the messages still
// in new/ (not yet seen by any session).
func (s *Store) IMAPStatus(ctx context.Context, folderID int64) (IMAPFolderStatus, error) {
	var st IMAPFolderStatus
	var n, unseen, deleted, recent int64
	err := s.pool.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE NOT '\Seen' = ANY(flags)),
			count(*) FILTER (WHERE '\Deleted' = ANY(flags)),
			count(*) FILTER (WHERE subdir = 'new'),
			coalesce(sum(size), 0)
		FROM messages WHERE folder_id = $1`, folderID).Scan(&n, &unseen, &deleted, &recent, &st.Size)
	st.Messages, st.Unseen, st.Deleted, st.Recent = uint32(n), uint32(unseen), uint32(deleted), uint32(recent)
	return st, translate(err, "folder status")
}

// IMAPMailboxUsage returns a mailbox's quota and usage in bytes.
func (s *Store) IMAPMailboxUsage(ctx context.Context, mailboxID int64) (quota, used int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT quota_bytes, used_bytes FROM mailboxes WHERE id = $1`, mailboxID).Scan(&quota, &used)
	return quota, used, translate(err, "mailbox usage")
}

// FolderNotice is a parsed change notice.
type FolderNotice struct {
	FolderID int64
	Kind     string // "new", "flags", "expunge", ...
}

// ParseFolderNotice parses a payload "<folder id>:<kind>".
func ParseFolderNotice(payload string) (FolderNotice, error) {
	id, kind, _ := strings.Cut(payload, ":")
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return FolderNotice{}, fmt.Errorf("store: bad folder notice %q", payload)
	}
	return FolderNotice{FolderID: n, Kind: kind}, nil
}
