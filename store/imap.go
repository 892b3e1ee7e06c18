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
	Subscribed    bool   // the name is in subscriptions
	// ObjectID is the folder's MAILBOXID (RFC 8474): kept by RENAME, new
	// for every folder created (a folder deleted and created again too).
	ObjectID string
}

// IMAPFolderStatus are the counters of STATUS.
type IMAPFolderStatus struct {
	Messages, Unseen, Deleted, Recent uint32
	Size                              int64
}

const imapFolderCols = `id, mailbox_id, name, uidvalidity, uidnext, highestmodseq, coalesce(special_use, ''),
	EXISTS (SELECT 1 FROM subscriptions s WHERE s.mailbox_id = folders.mailbox_id AND s.name = folders.name),
	'F' || replace(mailboxid::text, '-', '')`

// scanIMAPFolder scans imapFolderCols, then the columns after them into
// extra.
func scanIMAPFolder(row pgx.Row, extra ...any) (IMAPFolder, error) {
	var f IMAPFolder
	var uv, un int64
	err := row.Scan(append([]any{&f.ID, &f.MailboxID, &f.Name, &uv, &un, &f.HighestModSeq, &f.SpecialUse,
		&f.Subscribed, &f.ObjectID}, extra...)...)
	f.UIDValidity, f.UIDNext = uint32(uv), uint32(min(un, 1<<32-1))
	return f, err
}

// notifyFolder queues a change notice for commit: "<folder id>:<kind>".
func notifyFolder(ctx context.Context, q querier, folderID int64, kind string) error {
	_, err := q.Exec(ctx, `SELECT pg_notify('`+FolderChannel+`', $1)`, folderNotice(folderID, kind))
	return err
}

// folderNotice is the payload of a change notice (ParseFolderNotice).
func folderNotice(folderID int64, kind string) string {
	return strconv.FormatInt(folderID, 10) + ":" + kind
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

// CreateIMAPFolder adds a folder row; ErrConflict if the name exists. It
// does not subscribe to it (RFC 9051 6.3.4). The folder takes the next
// UIDVALIDITY of its mailbox (larger than any before, so a folder deleted
// and created again differs) and a new MAILBOXID.
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

// IMAPMessageCount counts a folder's index rows: what a look for files to
// adopt compares the files with, without IMAPStatus's flag counts.
func (s *Store) IMAPMessageCount(ctx context.Context, folderID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE folder_id = $1`, folderID).Scan(&n)
	return n, translate(err, "message count")
}

// IMAPStatus counts a folder's messages. Recent counts the messages no
// session has claimed as recent yet (IMAPClaimRecent).
func (s *Store) IMAPStatus(ctx context.Context, folderID int64) (IMAPFolderStatus, error) {
	var st IMAPFolderStatus
	var n, unseen, deleted, recent int64
	err := s.pool.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE NOT '\Seen' = ANY(flags)),
			count(*) FILTER (WHERE '\Deleted' = ANY(flags)),
			count(*) FILTER (WHERE uid > (SELECT recent_uid FROM folders WHERE id = $1)),
			coalesce(sum(size), 0)
		FROM messages WHERE folder_id = $1`, folderID).Scan(&n, &unseen, &deleted, &recent, &st.Size)
	st.Messages, st.Unseen, st.Deleted, st.Recent = uint32(n), uint32(unseen), uint32(deleted), uint32(recent)
	return st, translate(err, "folder status")
}

// IMAPFolderStatus is IMAPFolder and IMAPStatus in one query (one round
// trip for a STATUS of counts), both from the same snapshot.
func (s *Store) IMAPFolderStatus(ctx context.Context, mailboxID int64, name string) (IMAPFolder, IMAPFolderStatus, error) {
	var f IMAPFolder
	var st IMAPFolderStatus
	var uv, un, n, unseen, deleted, recent int64
	err := s.pool.QueryRow(ctx, `SELECT `+imapFolderCols+`, c.n, c.unseen, c.deleted, c.recent, c.size
		FROM folders, LATERAL (SELECT count(*) AS n,
				count(*) FILTER (WHERE NOT '\Seen' = ANY(m.flags)) AS unseen,
				count(*) FILTER (WHERE '\Deleted' = ANY(m.flags)) AS deleted,
				count(*) FILTER (WHERE m.uid > folders.recent_uid) AS recent,
				coalesce(sum(m.size), 0) AS size
			FROM messages m WHERE m.folder_id = folders.id) c
		WHERE mailbox_id = $1 AND name = $2`, mailboxID, name).Scan(&f.ID, &f.MailboxID, &f.Name, &uv, &un,
		&f.HighestModSeq, &f.SpecialUse, &f.Subscribed, &f.ObjectID, &n, &unseen, &deleted, &recent, &st.Size)
	f.UIDValidity, f.UIDNext = uint32(uv), uint32(min(un, 1<<32-1))
	st.Messages, st.Unseen, st.Deleted, st.Recent = uint32(n), uint32(unseen), uint32(deleted), uint32(recent)
	return f, st, translate(err, "folder status")
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
