package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// IMAPSelection is what a SELECT or EXAMINE starts from, read in one
// snapshot.
type IMAPSelection struct {
	Folder IMAPFolder
	// RecentUID is the highest UID some session had claimed as \Recent:
	// the session claims (IMAPClaimRecentSeen) or peeks at the UIDs after
	// it that the snapshot shows.
	RecentUID uint32
	Messages  []IMAPMessageFlags // by ascending UID
}

// IMAPSelect reads a folder's row, its \Recent mark and its messages' UIDs
// and flags (IMAPFolderFlags) in one read-only snapshot and one round
// trip, with generic plans (see readGeneric). ErrNotFound when the folder
// does not exist.
func (s *Store) IMAPSelect(ctx context.Context, folderID int64) (IMAPSelection, error) {
	var out IMAPSelection
	var recent int64
	found := false
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	queueGenericPlans(b)
	b.Queue(`SELECT `+imapFolderCols+`, recent_uid FROM folders WHERE id = $1`, folderID).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			f, err := scanIMAPFolder(rows, &recent)
			if err != nil {
				return err
			}
			out.Folder, found = f, true
		}
		return rows.Err()
	})
	b.Queue(`SELECT uid, flags, keywords, subdir = 'new' FROM messages WHERE folder_id = $1 ORDER BY uid`,
		folderID).Query(func(rows pgx.Rows) error {
		var err error
		out.Messages, err = collectFolderFlags(rows)
		return err
	})
	b.Queue(`COMMIT`)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return IMAPSelection{}, translate(err, "select folder")
	}
	if !found {
		return IMAPSelection{}, ErrNotFound
	}
	out.RecentUID = uint32(recent)
	return out, nil
}

// readGeneric sends the read-only statements queue queues in one
// transaction with their generic plans, in one round trip: BEGIN, SET
// LOCAL, the statements and COMMIT in one batch. PostgreSQL otherwise
// plans the IMAP index's small reads anew at about every other execution
// (their generic plans' estimates look costlier than custom ones), and
// the planning costs a third of the execution (pg_stat_statements under
// bench/imap-stress.sh). ARCHITECTURE.md, "Plans".
func (s *Store) readGeneric(ctx context.Context, queue func(*pgx.Batch)) error {
	b := &pgx.Batch{}
	b.Queue(`BEGIN READ ONLY`)
	queueGenericPlans(b)
	queue(b)
	b.Queue(`COMMIT`)
	return s.pool.SendBatch(ctx, b).Close()
}
