package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// IMAPMessage is a row of messages.
type IMAPMessage struct {
	UID          uint32
	ModSeq       int64
	Key          string
	Subdir       string // "new" or "cur"
	Filename     string
	Flags        []string // system flags: \Seen \Answered \Flagged \Deleted \Draft
	Keywords     []string
	Size         int64
	InternalDate time.Time
	// SaveDate is when the message was saved into this folder (SAVEDATE,
	// RFC 8514): the row's creation, so an APPEND, COPY, MOVE, delivery
	// or adoption into the folder.
	SaveDate time.Time
	// EmailID is the message's EMAILID (RFC 8474): kept by MOVE, and by
	// COPY when the caller passes it on (NewIMAPMessage.EmailID).
	EmailID string
	// ThreadID is the THREADID (RFC 8474); always "" (NIL): threads are
	// not computed in the index.
	ThreadID string
}

// NewIMAPMessage is a message file, already durable in its folder, to index.
type NewIMAPMessage struct {
	Key, Subdir, Filename string
	Flags, Keywords       []string
	Size                  int64
	InternalDate          time.Time
	// EmailID, when it is an IMAPMessage.EmailID, is kept (COPY of that
	// message); "" (or anything else) gives the message a new EMAILID.
	// IMAPMove sets it from the source itself.
	EmailID string
}

const imapMessageCols = `uid, modseq, key, subdir, filename, flags, keywords, size, internal_date, created_at,
	'M' || replace(emailid::text, '-', '')`

func scanIMAPMessage(row pgx.Row) (IMAPMessage, error) {
	var m IMAPMessage
	var uid int64
	err := row.Scan(&uid, &m.ModSeq, &m.Key, &m.Subdir, &m.Filename, &m.Flags, &m.Keywords, &m.Size, &m.InternalDate,
		&m.SaveDate, &m.EmailID)
	m.UID = uint32(uid)
	return m, err
}

// collectIMAPMessages scans rows of imapMessageCols; want is how many
// are expected (0: unknown), to size the result once.
func collectIMAPMessages(rows pgx.Rows, err error, want int, what string) ([]IMAPMessage, error) {
	if err != nil {
		return nil, translate(err, what)
	}
	defer rows.Close()
	out := make([]IMAPMessage, 0, want)
	for rows.Next() {
		m, err := scanIMAPMessage(rows)
		if err != nil {
			return nil, translate(err, what)
		}
		out = append(out, m)
	}
	return out, translate(rows.Err(), what)
}

func uidArgs(uids []uint32) []int64 {
	out := make([]int64, len(uids))
	for i, u := range uids {
		out[i] = int64(u)
	}
	return out
}

// IMAPUIDs returns the UIDs of a folder in ascending order.
func (s *Store) IMAPUIDs(ctx context.Context, folderID int64) ([]uint32, error) {
	rows, err := s.pool.Query(ctx, `SELECT uid FROM messages WHERE folder_id = $1 ORDER BY uid`, folderID)
	if err != nil {
		return nil, translate(err, "folder uids")
	}
	defer rows.Close()
	var out []uint32
	for rows.Next() {
		var u int64
		if err := rows.Scan(&u); err != nil {
			return nil, translate(err, "folder uids")
		}
		out = append(out, uint32(u))
	}
	return out, translate(rows.Err(), "folder uids")
}

// IMAPMessages returns the messages of a folder with those UIDs (all when
// uids is nil), by ascending UID.
//
// FETCH and SEARCH read so, most often after SELECT: the statements run
// with their generic plans (readGeneric).
func (s *Store) IMAPMessages(ctx context.Context, folderID int64, uids []uint32) ([]IMAPMessage, error) {
	sql, args := `SELECT `+imapMessageCols+` FROM messages WHERE folder_id = $1 ORDER BY uid`, []any{folderID}
	if uids != nil {
		sql = `SELECT ` + imapMessageCols + ` FROM messages WHERE folder_id = $1 AND uid = ANY($2) ORDER BY uid`
		args = append(args, uidArgs(uids))
	}
	var out []IMAPMessage
	err := s.readGeneric(ctx, func(b *pgx.Batch) {
		b.Queue(sql, args...).Query(func(rows pgx.Rows) error {
			var err error
			out, err = collectIMAPMessages(rows, nil, len(uids), "messages")
			return err
		})
	})
	return out, translate(err, "messages")
}

// IMAPMessageFlags is what a SELECT needs of a message.
type IMAPMessageFlags struct {
	UID             uint32
	Flags, Keywords []string
	New             bool // the file is still in new/
}

// IMAPFolderFlags returns the UIDs and flags of a folder's messages by
// ascending UID: the view a SELECT starts from, without the columns of
// IMAPMessages it does not need.
func (s *Store) IMAPFolderFlags(ctx context.Context, folderID int64) ([]IMAPMessageFlags, error) {
	rows, err := s.pool.Query(ctx, `SELECT uid, flags, keywords, subdir = 'new' FROM messages
		WHERE folder_id = $1 ORDER BY uid`, folderID)
	if err != nil {
		return nil, translate(err, "folder flags")
	}
	out, err := collectFolderFlags(rows)
	return out, translate(err, "folder flags")
}

// collectFolderFlags scans rows of uid, flags, keywords and subdir = 'new'.
func collectFolderFlags(rows pgx.Rows) ([]IMAPMessageFlags, error) {
	defer rows.Close()
	var out []IMAPMessageFlags
	for rows.Next() {
		var m IMAPMessageFlags
		var uid int64
		if err := rows.Scan(&uid, &m.Flags, &m.Keywords, &m.New); err != nil {
			return nil, err
		}
		m.UID = uint32(uid)
		out = append(out, m)
	}
	return out, rows.Err()
}

// IMAPChangedSince returns the messages of a folder whose modseq is above
// modseq (new or with changed flags), by ascending UID: FETCH (CHANGEDSINCE
// m) asks for m (RFC 7162 3.1.4.1), SEARCH MODSEQ m for m-1 (3.1.5: "equal
// or greater"; a message has one modseq for all its flags, so the
// search's entry name and type change nothing).
func (s *Store) IMAPChangedSince(ctx context.Context, folderID, modseq int64) ([]IMAPMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+imapMessageCols+` FROM messages
		WHERE folder_id = $1 AND modseq > $2 ORDER BY uid`, folderID, modseq)
	return collectIMAPMessages(rows, err, 0, "changed messages")
}

// IMAPKeys returns the Maildir keys indexed in a folder.
func (s *Store) IMAPKeys(ctx context.Context, folderID int64) (map[string]struct{}, error) {
	rows, err := s.pool.Query(ctx, `SELECT key FROM messages WHERE folder_id = $1`, folderID)
	if err != nil {
		return nil, translate(err, "folder keys")
	}
	defer rows.Close()
	out := map[string]struct{}{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, translate(err, "folder keys")
		}
		out[k] = struct{}{}
	}
	return out, translate(rows.Err(), "folder keys")
}

// messageArgs are msgs as the arrays that insertSQL unnests ($3 to $10).
func messageArgs(msgs []NewIMAPMessage) []any {
	keys := make([]string, len(msgs))
	subdirs := make([]string, len(msgs))
	names := make([]string, len(msgs))
	flags := make([]string, len(msgs))
	kws := make([]string, len(msgs))
	sizes := make([]int64, len(msgs))
	dates := make([]time.Time, len(msgs))
	emailIDs := make([]string, len(msgs))
	for i, m := range msgs {
		keys[i], subdirs[i], names[i] = m.Key, m.Subdir, m.Filename
		flags[i], kws[i] = strings.Join(m.Flags, " "), strings.Join(m.Keywords, " ")
		sizes[i], dates[i], emailIDs[i] = m.Size, m.InternalDate, emailUUID(m.EmailID)
	}
	return []any{keys, subdirs, names, flags, kws, sizes, dates, emailIDs}
}

// insertSQL is the part of a statement that inserts the rows of messages
// into a folder after a CTE f took their UIDs ($1 folder, $2 how many, $3
// to $10 messageArgs): ins (ON CONFLICT (folder_id, key) DO NOTHING: the
// key is indexed already) and the removal of the keys' 'add' journal rows.
const insertSQL = `ins AS (
		INSERT INTO messages (folder_id, uid, modseq, key, subdir, filename, flags, keywords, size, internal_date, emailid)
		SELECT $1, f.first + t.ord - 1, f.highestmodseq, t.key, t.subdir, t.filename,
			string_to_array(t.flags, ' '), string_to_array(t.kws, ' '), t.size, t.idate,
			coalesce(nullif(t.emailid, '')::uuid, gen_random_uuid())
		FROM f, unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::timestamptz[], $10::text[])
			WITH ORDINALITY AS t(key, subdir, filename, flags, kws, size, idate, emailid, ord)
		ON CONFLICT (folder_id, key) DO NOTHING
		RETURNING key, uid, size
	), intents AS (
		DELETE FROM pending_files WHERE folder_id = $1 AND op = 'add' AND key = ANY($3) AND EXISTS (SELECT 1 FROM f)
	)`

// insertMessages takes len(msgs) UIDs of the folder, bumps its
// highestmodseq and inserts the rows (insertSQL); it returns the UID of
// each message, 0 for a key that was already indexed, the folder's
// uidvalidity, and the messages and bytes inserted. The caller holds the
// folder's lock.
func insertMessages(ctx context.Context, q querier, folderID int64, msgs []NewIMAPMessage) ([]uint32, uint32, int64, int64, error) {
	rows, err := q.Query(ctx, `
		WITH f AS (
			UPDATE folders SET uidnext = uidnext + $2, highestmodseq = highestmodseq + 1
			WHERE id = $1 RETURNING uidnext - $2 AS first, highestmodseq, uidvalidity
		), `+insertSQL+`
		SELECT f.uidvalidity, ins.key, ins.uid, ins.size FROM f LEFT JOIN ins ON true`,
		append([]any{folderID, len(msgs)}, messageArgs(msgs)...)...)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	defer rows.Close()
	ins := newInserted(msgs)
	found := false
	for rows.Next() {
		found = true
		if err := ins.scan(rows); err != nil {
			return nil, 0, 0, 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, 0, err
	}
	if !found {
		return nil, 0, 0, 0, ErrNotFound
	}
	return ins.uids, ins.uidvalidity, ins.n, ins.bytes, nil
}

// inserted collects what insertSQL returned, row by row.
type inserted struct {
	index       map[string]int // of each key in msgs
	uids        []uint32       // in msgs' order
	uidvalidity uint32
	n, bytes    int64
}

func newInserted(msgs []NewIMAPMessage) *inserted {
	ins := &inserted{index: make(map[string]int, len(msgs)), uids: make([]uint32, len(msgs))}
	for i, m := range msgs {
		ins.index[m.Key] = i
	}
	return ins
}

// scan reads a row ending in f.uidvalidity, ins.key, ins.uid, ins.size
// (the last three NULL for none inserted), the columns before them into
// first.
func (ins *inserted) scan(row pgx.Row, first ...any) error {
	var uidvalidity *int64
	var key *string
	var uid, size *int64
	if err := row.Scan(append(first, &uidvalidity, &key, &uid, &size)...); err != nil {
		return err
	}
	if uidvalidity != nil {
		ins.uidvalidity = uint32(*uidvalidity)
	}
	if key == nil {
		return nil
	}
	if i, ok := ins.index[*key]; ok {
		ins.uids[i] = uint32(*uid)
	}
	ins.n++
	ins.bytes += *size
	return nil
}

// appendSQL is IMAPAppend's one statement: the mailbox row locked and
// checked against its quota (mb), then the folder's UIDs taken under its
// row's lock (f, only when mb holds: the lock order), the rows inserted,
// only those that went in charged, and the folder's notice queued for
// commit. $11 mailbox, $12 the bytes of msgs.
const appendSQL = `
	WITH mb AS (
		SELECT id FROM mailboxes WHERE id = $11 AND (quota_bytes = 0 OR used_bytes + $12 <= quota_bytes)
		FOR NO KEY UPDATE
	), f AS (
		UPDATE folders SET uidnext = uidnext + $2, highestmodseq = highestmodseq + 1
		WHERE id = $1 AND EXISTS (SELECT 1 FROM mb)
		RETURNING uidnext - $2 AS first, highestmodseq, uidvalidity
	), ` + insertSQL + `, charged AS (
		UPDATE mailboxes m SET used_bytes = m.used_bytes + i.b, used_messages = m.used_messages + i.n
		FROM (SELECT count(*) AS n, coalesce(sum(size), 0) AS b FROM ins) i
		WHERE m.id = $11 AND i.n > 0
		RETURNING m.id
	), notice AS (
		SELECT pg_notify('` + FolderChannel + `', $1::text || ':new') FROM f
	)
	SELECT EXISTS (SELECT 1 FROM mb), EXISTS (SELECT 1 FROM mailboxes WHERE id = $11),
		(SELECT count(*) FROM charged) + (SELECT count(*) FROM notice),
		f.uidvalidity, ins.key, ins.uid, ins.size
	FROM (SELECT 1) one LEFT JOIN f ON true LEFT JOIN ins ON true`

// IMAPAppend indexes message files written into a folder (APPEND, COPY) and
// charges them to the mailbox's quota in the same transaction:
// ErrOverQuota when they do not fit, and nothing is indexed. It returns the
// UIDs given (in msgs' order) and the folder's uidvalidity.
//
// One statement (appendSQL) in one round trip, so the mailbox row, which
// every APPEND, COPY and delivery to the mailbox waits for, is held from
// the statement to the commit only.
func (s *Store) IMAPAppend(ctx context.Context, mailboxID, folderID int64, msgs []NewIMAPMessage) ([]uint32, uint32, error) {
	var total int64
	for _, m := range msgs {
		total += m.Size
	}
	args := append(append([]any{folderID, len(msgs)}, messageArgs(msgs)...), mailboxID, total)
	var ins *inserted
	var fits, exists bool
	var err error
	for range maxTxAttempts { // inTx's retry
		ins = newInserted(msgs)
		fits, exists = false, false
		b := &pgx.Batch{}
		b.Queue(`BEGIN`)
		queueGenericPlans(b)
		b.Queue(appendSQL, args...).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var done int64
				if err := ins.scan(rows, &fits, &exists, &done); err != nil {
					return err
				}
			}
			return rows.Err()
		})
		b.Queue(`COMMIT`)
		if err = s.pool.SendBatch(ctx, b).Close(); !retryable(err) {
			break
		}
	}
	switch {
	case err != nil:
		return nil, 0, translate(err, "append")
	case !exists:
		return nil, 0, ErrNotFound
	case !fits:
		return nil, 0, ErrOverQuota
	case ins.uidvalidity == 0: // no folder
		return nil, 0, ErrNotFound
	}
	return ins.uids, ins.uidvalidity, nil
}

// IMAPAdopt indexes files found in a folder that the index does not know
// (placed by another program, or a delivery that crashed before its commit).
// Their size is charged without a quota check: the bytes are there already.
// It returns how many rows went in.
func (s *Store) IMAPAdopt(ctx context.Context, mailboxID, folderID int64, msgs []NewIMAPMessage) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID, folderID); err != nil {
			return err
		}
		var b int64
		var err error
		_, _, n, b, err = insertMessages(ctx, tx, folderID, msgs)
		if err != nil {
			return err
		}
		if err := charge(ctx, tx, mailboxID, n, b, false); err != nil {
			return err
		}
		if n > 0 {
			return notifyFolder(ctx, tx, folderID, "new")
		}
		return nil
	})
	return int(n), translate(err, "adopt")
}

// Expunged is a message removed from the index, whose file is to go.
type Expunged struct {
	UID      uint32
	Key      string
	Filename string
}

// IMAPExpunge removes the messages flagged \Deleted (only those among uids
// when uids is not nil) from the index, credits their size to the mailbox
// and records them in the journal for removal. The caller removes the files
// after it returns, then calls FinishPending.
func (s *Store) IMAPExpunge(ctx context.Context, mailboxID, folderID int64, uids []uint32) ([]Expunged, error) {
	var out []Expunged
	err := s.inIMAPTx(ctx, func(tx pgx.Tx) error {
		if err := lockRows(ctx, tx, mailboxID, folderID); err != nil {
			return err
		}
		var err error
		out, err = s.deleteMessages(ctx, tx, mailboxID, folderID, uids, true)
		return err
	})
	return out, translate(err, "expunge")
}

// deleteMessages removes message rows of a folder (those flagged \Deleted
// when deletedOnly; only uids when not nil), records their keys in the
// journal for removal, records their tombstones with one step of the
// folder's highestmodseq and credits the mailbox. The caller holds the
// mailbox and folder locks (lockRows).
func (s *Store) deleteMessages(ctx context.Context, tx pgx.Tx, mailboxID, folderID int64, uids []uint32, deletedOnly bool) ([]Expunged, error) {
	where := `folder_id = $1`
	args := []any{folderID, s.node}
	if deletedOnly {
		where += ` AND '\Deleted' = ANY(flags)`
	}
	if uids != nil {
		where += ` AND uid = ANY($3)`
		args = append(args, uidArgs(uids))
	}
	rows, err := tx.Query(ctx, `WITH d AS (DELETE FROM messages WHERE `+where+`
		RETURNING folder_id, uid, key, filename, size)`+fmt.Sprintf(journalRemovals, 2)+`
		SELECT uid, key, filename, size FROM d ORDER BY uid`, args...)
	if err != nil {
		return nil, err
	}
	var out []Expunged
	var gone []int64
	var b int64
	for rows.Next() {
		var e Expunged
		var uid, size int64
		if err := rows.Scan(&uid, &e.Key, &e.Filename, &size); err != nil {
			rows.Close()
			return nil, err
		}
		e.UID = uint32(uid)
		b += size
		out = append(out, e)
		gone = append(gone, uid)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	if _, err := s.recordExpunge(ctx, tx, folderID, gone); err != nil {
		return nil, err
	}
	if err := credit(ctx, tx, mailboxID, int64(len(out)), b); err != nil {
		return nil, err
	}
	return out, notifyFolder(ctx, tx, folderID, "expunge")
}

// IMAPMove indexes msgs (links of the source messages, already in the
// destination folder and announced with IntendAdds; msgs[i] is the link of
// srcUIDs[i]) in dst and removes the source rows, recording them in the
// journal for removal, in one transaction. Only the messages whose source
// row is still there when the transaction locks it move: a link whose
// source another session expunged or moved meanwhile is not indexed (its
// UID in the result is 0, and the caller removes it), so two MOVEs of one
// message never make two copies. The copies are charged to the quota
// before the sources are credited, as a COPY then EXPUNGE would be:
// ErrOverQuota when the mailbox cannot hold both for a moment, and nothing
// changes.
func (s *Store) IMAPMove(ctx context.Context, mailboxID, srcFolder, dstFolder int64, srcUIDs []uint32,
	msgs []NewIMAPMessage) ([]uint32, uint32, []Expunged, error) {
	if len(srcUIDs) != len(msgs) {
		return nil, 0, nil, fmt.Errorf("store: move: %d source UIDs for %d messages", len(srcUIDs), len(msgs))
	}
	var uids []uint32
	var uv uint32
	var gone []Expunged
	err := s.inIMAPTx(ctx, func(tx pgx.Tx) error {
		uids, gone = make([]uint32, len(msgs)), nil
		if err := lockRows(ctx, tx, mailboxID, srcFolder, dstFolder); err != nil {
			return err
		}
		present, err := lockMessages(ctx, tx, srcFolder, srcUIDs)
		if err != nil {
			return err
		}
		var keep []NewIMAPMessage
		var from []int // index in msgs of each kept message
		var total int64
		for i, m := range msgs {
			if emailID, ok := present[srcUIDs[i]]; ok {
				m.EmailID = emailID // MOVE keeps the EMAILID (RFC 8474 5.1)
				keep = append(keep, m)
				from = append(from, i)
				total += m.Size
			}
		}
		if len(keep) == 0 {
			return nil
		}
		if err := charge(ctx, tx, mailboxID, int64(len(keep)), total, true); err != nil {
			return err
		}
		kept, v, _, _, err := insertMessages(ctx, tx, dstFolder, keep)
		if err != nil {
			return err
		}
		uv = v
		for j, u := range kept {
			uids[from[j]] = u
		}
		if err := notifyFolder(ctx, tx, dstFolder, "new"); err != nil {
			return err
		}
		moved := make([]uint32, len(from))
		for j, i := range from {
			moved[j] = srcUIDs[i]
		}
		gone, err = s.deleteMessages(ctx, tx, mailboxID, srcFolder, moved, false)
		return err
	})
	if errors.Is(err, ErrOverQuota) || errors.Is(err, ErrNotFound) || errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, nil, translate(err, "move")
	}
	return uids, uv, gone, translate(err, "move")
}

// lockMessages locks the rows of a folder's messages with those UIDs (the
// third level of the lock order) and returns the UIDs that exist, with
// their EMAILIDs.
func lockMessages(ctx context.Context, tx pgx.Tx, folderID int64, uids []uint32) (map[uint32]string, error) {
	rows, err := tx.Query(ctx, `SELECT uid, 'M' || replace(emailid::text, '-', '') FROM messages
		WHERE folder_id = $1 AND uid = ANY($2) ORDER BY uid FOR UPDATE`, folderID, uidArgs(uids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[uint32]string, len(uids))
	for rows.Next() {
		var u int64
		var emailID string
		if err := rows.Scan(&u, &emailID); err != nil {
			return nil, err
		}
		out[uint32(u)] = emailID
	}
	return out, rows.Err()
}
