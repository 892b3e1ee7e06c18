package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pending file operations (table pending_files): the index side of a file
// change is committed with a journal row; the disk side follows; the row
// goes when both agree. Whoever reconciles a folder finishes what a crash
// interrupted, so a removed message never comes back and a half-made link
// is never adopted.
const (
	// PendingRemove: the rows are gone, the file is to be unlinked.
	PendingRemove = "remove"
	// PendingAdd: a file is being linked in and has no row yet.
	PendingAdd = "add"
)

// Pending is a journal row of one folder.
type Pending struct {
	Key     string
	Op      string // PendingRemove or PendingAdd
	Node    string // who wrote it (the host in its Maildir file names)
	Created time.Time
}

// FolderFiles is what the index says about a folder's files, read in one
// snapshot: the keys that have rows, and the journal's pending operations.
type FolderFiles struct {
	Indexed map[string]struct{}
	Pending map[string]Pending
}

// IMAPFolderFiles reads a folder's indexed keys and pending operations in
// one statement, so a removal is seen either as its row or as its journal
// entry, never as neither.
func (s *Store) IMAPFolderFiles(ctx context.Context, folderID int64) (FolderFiles, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT key, '', '', 'epoch'::timestamptz FROM messages WHERE folder_id = $1
		UNION ALL
		SELECT key, op, node, created_at FROM pending_files WHERE folder_id = $1`, folderID)
	if err != nil {
		return FolderFiles{}, translate(err, "folder files")
	}
	defer rows.Close()
	out := FolderFiles{Indexed: map[string]struct{}{}, Pending: map[string]Pending{}}
	for rows.Next() {
		var p Pending
		if err := rows.Scan(&p.Key, &p.Op, &p.Node, &p.Created); err != nil {
			return FolderFiles{}, translate(err, "folder files")
		}
		if p.Op == "" {
			out.Indexed[p.Key] = struct{}{}
		} else {
			out.Pending[p.Key] = p
		}
	}
	return out, translate(rows.Err(), "folder files")
}

// IntendAdds records that files with keys are about to be linked into a
// folder (MOVE, COPY), before they are: until IMAPAppend or IMAPMove indexes
// them (and drops these rows in the same transaction), no poll adopts them,
// and after a crash they are unlinked instead.
func (s *Store) IntendAdds(ctx context.Context, folderID int64, node string, keys []string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO pending_files (folder_id, key, op, node)
		SELECT $1, k, 'add', $2 FROM unnest($3::text[]) k
		ON CONFLICT (folder_id, key) DO NOTHING`, folderID, node, keys)
	return translate(err, "intend adds")
}

// FinishPending drops the journal rows of keys in a folder once their files
// match the index (unlinked for 'remove', unlinked or indexed for 'add').
func (s *Store) FinishPending(ctx context.Context, folderID int64, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `DELETE FROM pending_files WHERE folder_id = $1 AND key = ANY($2)`, folderID, keys)
	return translate(err, "finish pending files")
}

// journalRemovals is the statement tail that records removed rows in the
// journal: it takes a CTE "d" of deleted messages (folder_id, key).
const journalRemovals = `, j AS (
	INSERT INTO pending_files (folder_id, key, op, node)
	SELECT folder_id, key, 'remove', $%d FROM d
	ON CONFLICT (folder_id, key) DO UPDATE SET op = 'remove', node = excluded.node, created_at = now()
)`

// PendingFolder is a folder with journal rows, for reconciliation after a
// crash: its mailbox's Maildir and the pending operations.
type PendingFolder struct {
	MailboxID int64
	Address   string
	Maildir   string // relative to the Maildir root
	FolderID  int64
	Folder    string // IMAP name
	Pending   []Pending
}

// PendingFolders returns every folder with pending file operations (of the
// mailbox with that address, or all when address is "").
func (s *Store) PendingFolders(ctx context.Context, address string) ([]PendingFolder, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT m.id, m.address, m.maildir, f.id, f.name, p.key, p.op, p.node, p.created_at
		FROM pending_files p JOIN folders f ON f.id = p.folder_id JOIN mailboxes m ON m.id = f.mailbox_id
		WHERE $1 = '' OR m.address = $1
		ORDER BY f.id, p.key`, address)
	if err != nil {
		return nil, translate(err, "pending folders")
	}
	defer rows.Close()
	var out []PendingFolder
	for rows.Next() {
		var f PendingFolder
		var p Pending
		if err := rows.Scan(&f.MailboxID, &f.Address, &f.Maildir, &f.FolderID, &f.Folder,
			&p.Key, &p.Op, &p.Node, &p.Created); err != nil {
			return nil, translate(err, "pending folders")
		}
		if n := len(out); n > 0 && out[n-1].FolderID == f.FolderID {
			out[n-1].Pending = append(out[n-1].Pending, p)
			continue
		}
		f.Pending = []Pending{p}
		out = append(out, f)
	}
	return out, translate(rows.Err(), "pending folders")
}

// PendingFolderDelete is a folder deleted from the index whose directory
// may still be on disk.
type PendingFolderDelete struct {
	MailboxID int64
	Maildir   string
	Name      string
}

// PendingFolderDeletes returns the folder deletions not finished on disk.
func (s *Store) PendingFolderDeletes(ctx context.Context, address string) ([]PendingFolderDelete, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT m.id, m.maildir, p.name FROM pending_folder_deletes p JOIN mailboxes m ON m.id = p.mailbox_id
		WHERE $1 = '' OR m.address = $1 ORDER BY m.id, p.name`, address)
	if err != nil {
		return nil, translate(err, "pending folder deletes")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PendingFolderDelete, error) {
		var d PendingFolderDelete
		err := r.Scan(&d.MailboxID, &d.Maildir, &d.Name)
		return d, err
	})
	return out, translate(err, "pending folder deletes")
}

// FinishFolderDelete drops the journal row of a folder directory that is
// gone from disk.
func (s *Store) FinishFolderDelete(ctx context.Context, mailboxID int64, name string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM pending_folder_deletes WHERE mailbox_id = $1 AND name = $2`, mailboxID, name)
	return translate(err, "finish folder delete")
}
