package store

import (
	"context"
	"encoding/hex"
	"math"
	"strings"

	"github.com/jackc/pgx/v5"
)

// CONDSTORE and QRESYNC (RFC 7162) in the index.
//
// Every change to a folder's messages (delivery, APPEND, COPY and MOVE into
// it, adoption, STORE, EXPUNGE, MOVE out of it, POP3 QUIT, DropMissing,
// reindex) takes one step of the folder's highestmodseq, under the folder
// row's lock, and gives that value to the messages it changes (their
// modseq) or removes (their tombstone in expunged_messages). The lock is
// held to the commit, so the steps of a folder are taken in commit order:
// whoever reads highestmodseq H sees every change up to H, and no change
// at or below H becomes visible later. A session that reads the folder
// (IMAPFolderByID: HIGHESTMODSEQ) before the changes (IMAPChangedSince,
// IMAPVanishedSince) may see a change twice, never miss one.

// DefaultTombstones is how many expunge tombstones a folder keeps at least:
// when it has twice as many, the oldest go, down to this many, and the
// folder's vanished floor rises to the newest modseq pruned.
const DefaultTombstones = 10000

// recordExpunge takes one step of a folder's highestmodseq for the removal
// of the messages with uids (already deleted by the caller, who holds the
// folder's lock) and records their tombstones with it; it returns the new
// modseq, or 0 when uids is empty (nothing changed, no step).
func (s *Store) recordExpunge(ctx context.Context, q querier, folderID int64, uids []int64) (int64, error) {
	if len(uids) == 0 {
		return 0, nil
	}
	var modseq, count int64
	if err := q.QueryRow(ctx, `WITH f AS (
			UPDATE folders SET highestmodseq = highestmodseq + 1, tombstones = tombstones + cardinality($2::bigint[])
			WHERE id = $1 RETURNING highestmodseq, tombstones
		), t AS (
			INSERT INTO expunged_messages (folder_id, uid, modseq)
			SELECT $1, u, f.highestmodseq FROM f, unnest($2::bigint[]) u
			ON CONFLICT (folder_id, uid) DO UPDATE SET modseq = excluded.modseq
		)
		SELECT highestmodseq, tombstones FROM f`, folderID, uids).Scan(&modseq, &count); err != nil {
		return 0, err
	}
	if count > 2*s.tombstones {
		if err := pruneTombstones(ctx, q, folderID, s.tombstones); err != nil {
			return 0, err
		}
	}
	return modseq, nil
}

// pruneTombstones keeps at most keep of a folder's newest tombstones (all
// of one modseq go together) and raises its vanished floor to the newest
// modseq removed. The caller holds the folder's lock.
func pruneTombstones(ctx context.Context, q querier, folderID, keep int64) error {
	_, err := q.Exec(ctx, `WITH cut AS (
			SELECT modseq FROM expunged_messages WHERE folder_id = $1 ORDER BY modseq DESC OFFSET $2 LIMIT 1
		), d AS (
			DELETE FROM expunged_messages WHERE folder_id = $1 AND modseq <= (SELECT modseq FROM cut)
			RETURNING modseq
		)
		UPDATE folders SET vanished_floor = greatest(vanished_floor, coalesce((SELECT max(modseq) FROM d), 0)),
			tombstones = greatest(tombstones - (SELECT count(*) FROM d), 0)
		WHERE id = $1`, folderID, keep)
	return err
}

// IMAPVanishedSince returns the UIDs removed from a folder after modseq,
// ascending: QRESYNC's VANISHED (EARLIER) (RFC 7162 3.2.5, 3.2.10) and
// UID FETCH ... (CHANGEDSINCE m VANISHED). It also returns the folder's
// floor: every removal with a modseq above the floor has its tombstone.
// When modseq >= floor the list is complete; when modseq < floor older
// tombstones are gone (pruned, or from before the tombstones existed) and
// the list holds only those still known: the caller then answers with every
// UID below UIDNEXT that is not in the folder (IMAPUIDs), or only those of
// the client's known-uids (RFC 7162 3.2.5.1). ErrNotFound when the folder
// does not exist.
func (s *Store) IMAPVanishedSince(ctx context.Context, folderID, modseq int64) (uids []uint32, floor int64, err error) {
	rows, err := s.pool.Query(ctx, `SELECT f.vanished_floor, e.uid FROM folders f
		LEFT JOIN expunged_messages e ON e.folder_id = f.id AND e.modseq > $2
		WHERE f.id = $1 ORDER BY e.uid`, folderID, modseq)
	if err != nil {
		return nil, 0, translate(err, "vanished")
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var uid *int64
		if err := rows.Scan(&floor, &uid); err != nil {
			return nil, 0, translate(err, "vanished")
		}
		found = true
		if uid != nil {
			uids = append(uids, uint32(*uid))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, translate(err, "vanished")
	}
	if !found {
		return nil, 0, ErrNotFound
	}
	return uids, floor, nil
}

// emailUUID turns an EMAILID as IMAPMessage shows it ("M" and 32 hex
// digits) back into the uuid text the column takes; "" for anything else.
func emailUUID(id string) string {
	h, ok := strings.CutPrefix(id, "M")
	if !ok || len(h) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(h); err != nil {
		return ""
	}
	return h
}

// tombstoneUIDs collects the uid column of rows (deleted messages).
func tombstoneUIDs(rows pgx.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// IMAPSync is what a QRESYNC SELECT (RFC 7162 3.2.5) or a CONDSTORE poll
// needs of a folder since a modseq, read in one snapshot.
type IMAPSync struct {
	Folder   IMAPFolder    // UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ of the snapshot
	Changed  []IMAPMessage // modseq above since, by UID
	Vanished []uint32      // removed with a modseq above since, ascending
	// Complete is false when since is below the folder's vanished floor:
	// Vanished then lacks older removals and the caller falls back to the
	// UIDs below UIDNEXT that are not in the folder (RFC 7162 3.2.5.1).
	Complete bool
	// RecentUID is the highest UID some session had claimed as \Recent
	// (IMAPClaimRecent) in the snapshot.
	RecentUID uint32

	since           int64   // what it was read since
	floor           int64   // the folder's vanished floor
	vanishedModSeqs []int64 // of Vanished, by index
}

// IMAPHighestModSeq returns a folder's HIGHESTMODSEQ alone: what a poll
// without a change notice compares with the session's to learn whether
// anything changed. ErrNotFound when the folder does not exist.
func (s *Store) IMAPHighestModSeq(ctx context.Context, folderID int64) (int64, error) {
	var m int64
	err := s.pool.QueryRow(ctx, `SELECT highestmodseq FROM folders WHERE id = $1`, folderID).Scan(&m)
	return m, translate(err, "folder modseq")
}

// IMAPSyncSince reads a folder, its messages changed after since and those
// removed after it, in one read-only snapshot, so that what it reports is
// exactly the folder at its HIGHESTMODSEQ. ErrNotFound when the folder
// does not exist.
//
// One round trip: the transaction's statements in one batch. Every
// session with the folder selected runs it after each change, so it is
// the index's most frequent read under load; left to itself PostgreSQL
// plans its statements anew at each execution (their generic plans'
// estimates look costlier than custom ones), and the planning cost more
// than the execution: the transaction runs them with their generic plans,
// planned once per connection.
func (s *Store) IMAPSyncSince(ctx context.Context, folderID, since int64) (IMAPSync, error) {
	var out IMAPSync
	var floor, recent int64
	found := false
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`)
	queueGenericPlans(b)
	// "modseq > $2 AND modseq <= $3" with $3 the largest bigint is
	// "modseq > $2" written as a range, which a generic plan estimates at
	// 0.5% of the folder's rows rather than a third: an index scan even
	// when one large folder has all the rows, instead of a full scan.
	b.Queue(`SELECT `+imapFolderCols+`, vanished_floor, recent_uid, e.uids, e.modseqs FROM folders,
		LATERAL (SELECT coalesce(array_agg(uid ORDER BY uid), '{}') AS uids, coalesce(array_agg(modseq ORDER BY uid), '{}') AS modseqs
		FROM expunged_messages WHERE folder_id = $1 AND modseq > $2 AND modseq <= $3) e WHERE id = $1`,
		folderID, since, int64(math.MaxInt64)).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			f, err := scanIMAPFolder(rows, &floor, &recent, &out.Vanished, &out.vanishedModSeqs)
			if err != nil {
				return err
			}
			out.Folder, found = f, true
		}
		return rows.Err()
	})
	b.Queue(`SELECT `+imapMessageCols+` FROM messages WHERE folder_id = $1 AND modseq > $2 AND modseq <= $3 ORDER BY uid`,
		folderID, since, int64(math.MaxInt64)).Query(func(rows pgx.Rows) error {
		var err error
		out.Changed, err = collectIMAPMessages(rows, nil, 0, "sync changed")
		return err
	})
	b.Queue(`COMMIT`)
	// (A batch that fails leaves its connection in a failed transaction,
	// which the pool closes instead of reusing.)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return IMAPSync{}, translate(err, "sync folder")
	}
	if !found {
		return IMAPSync{}, ErrNotFound
	}
	out.RecentUID = uint32(recent)
	out.Complete = since >= floor
	out.since, out.floor = since, floor
	return out, nil
}
