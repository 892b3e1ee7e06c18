package store

import (
	"context"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// FlagOp is how STORE changes flags.
type FlagOp int

const (
	FlagsSet FlagOp = iota
	FlagsAdd
	FlagsDel
)

// FlagChange is one message whose flags a STORE changed.
type FlagChange struct {
	UID            uint32
	ModSeq         int64
	Flags          []string
	Keywords       []string
	OldName        string // file name before
	NewName        string // file name the index now holds (cur/)
	SystemsChanged bool   // the file must be renamed
}

// RenameFunc gives a message file its new system flags on disk (moving it
// to cur/) and returns its new name.
type RenameFunc func(oldName, key string, flags []string) string

// IMAPStoreFlags changes the flags and keywords of the messages with those
// UIDs, bumps the folder's highestmodseq and gives the changed messages that
// modseq. Only messages whose flags really change are returned.
//
// rename gives the message file its new system flags on disk (moving it to
// cur/) and returns its new name. It runs inside the transaction, while the
// message rows are locked, so the renames of concurrent STOREs and an
// EXPUNGE's unlink of the same message happen one after the other in the
// order of their commits, and the name in the index is the name on disk.
// (Should the commit fail after a rename, the file name carries flags the
// index does not: files are found by key, and the index stays the
// authority.)
func (s *Store) IMAPStoreFlags(ctx context.Context, folderID int64, uids []uint32, op FlagOp,
	flags, keywords []string, rename func(oldName, key string, flags []string) string) ([]FlagChange, error) {
	out, _, err := s.storeFlags(ctx, folderID, uids, -1, op, flags, keywords, rename)
	return out, err
}

// IMAPStoreFlagsUnchangedSince is IMAPStoreFlags for STORE (UNCHANGEDSINCE
// unchangedSince) (CONDSTORE, RFC 7162 3.1.3): only the messages whose
// modseq is at most unchangedSince change; the UIDs of those above it are
// returned as modified (the MODIFIED response code), ascending. The test
// and the change happen under the rows' locks, so no other change can slip
// in between. UNCHANGEDSINCE 0 fails for every message (modseqs start at 1).
// A UID that does not exist is in neither result.
func (s *Store) IMAPStoreFlagsUnchangedSince(ctx context.Context, folderID int64, uids []uint32, unchangedSince int64,
	op FlagOp, flags, keywords []string, rename func(oldName, key string, flags []string) string) (changes []FlagChange, modified []uint32, err error) {
	return s.storeFlags(ctx, folderID, uids, max(unchangedSince, 0), op, flags, keywords, rename)
}

// storeFlags is STORE; unchangedSince < 0 means no condition. An attempt
// that PostgreSQL aborted for a deadlock is run again, as inTx does.
func (s *Store) storeFlags(ctx context.Context, folderID int64, uids []uint32, unchangedSince int64, op FlagOp,
	flags, keywords []string, rename RenameFunc) ([]FlagChange, []uint32, error) {
	var out []FlagChange
	var modified []uint32
	var err error
	for range maxTxAttempts {
		out, modified, err = s.storeFlagsOnce(ctx, folderID, uids, unchangedSince, op, flags, keywords, rename)
		if !retryable(err) {
			break
		}
	}
	return out, modified, translate(err, "store flags")
}

// storeLockSQL reads the messages of a STORE under their locks: the folder
// row's lock, then the messages' (the lock order), in one statement: the
// sub-select is an init plan, run before the scan hands out its first
// message row.
const storeLockSQL = `SELECT ` + imapMessageCols + ` FROM messages
	WHERE folder_id = (SELECT id FROM folders WHERE id = $1 FOR NO KEY UPDATE) AND uid = ANY($2)
	ORDER BY uid FOR UPDATE`

// storeFlagsOnce is one transaction of storeFlags in two round trips, the
// locks held between them only: BEGIN with the locking read, then, once
// the files are renamed, the write with COMMIT (as inIMAPTx, with generic
// plans).
func (s *Store) storeFlagsOnce(ctx context.Context, folderID int64, uids []uint32, unchangedSince int64, op FlagOp,
	flags, keywords []string, rename RenameFunc) (out []FlagChange, modified []uint32, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Release()
	committed := false
	defer func() {
		if !committed { // (a connection left in a transaction is closed by the pool)
			_, _ = conn.Exec(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	var msgs []IMAPMessage
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	queueGenericPlans(b)
	b.Queue(storeLockSQL, folderID, uidArgs(uids)).Query(func(rows pgx.Rows) error {
		var err error
		msgs, err = collectIMAPMessages(rows, nil, len(uids), "store flags")
		return err
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, err
	}
	if len(msgs) == 0 {
		return nil, nil, folderExists(ctx, conn, folderID)
	}
	var apply []IMAPMessage
	for _, m := range msgs {
		if unchangedSince >= 0 && m.ModSeq > unchangedSince {
			modified = append(modified, m.UID)
		} else {
			apply = append(apply, m)
		}
	}
	out = flagChanges(apply, op, flags, keywords, rename)
	if len(out) == 0 {
		return nil, modified, nil
	}
	b = &pgx.Batch{}
	var modseq int64
	queueFlagChanges(b, folderID, out, &modseq)
	b.Queue(`COMMIT`)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return nil, nil, err
	}
	committed = true
	for i := range out {
		out[i].ModSeq = modseq
	}
	return out, modified, nil
}

// folderExists is nil when the folder exists, else ErrNotFound.
func folderExists(ctx context.Context, q querier, folderID int64) error {
	var ok bool
	if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM folders WHERE id = $1)`, folderID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// flagChanges works out the new flags of msgs and renames the files whose
// system flags change (or that are still in new/).
func flagChanges(msgs []IMAPMessage, op FlagOp, flags, keywords []string, rename RenameFunc) []FlagChange {
	var out []FlagChange
	for _, m := range msgs {
		nf, nk := applyFlags(m.Flags, op, flags), applyFlags(m.Keywords, op, keywords)
		if slices.Equal(nf, m.Flags) && slices.Equal(nk, m.Keywords) && m.Subdir != "new" {
			continue // (a message still in new/ moves to cur/ even so)
		}
		c := FlagChange{UID: m.UID, Flags: nf, Keywords: nk, OldName: m.Filename, NewName: m.Filename}
		if !slices.Equal(nf, m.Flags) || m.Subdir == "new" {
			c.NewName = rename(m.Filename, m.Key, nf)
			c.SystemsChanged = true
		}
		out = append(out, c)
	}
	return out
}

// queueFlagChanges queues the one statement that bumps the folder's
// highestmodseq once, writes the changes with that modseq (into modseq)
// and queues the folder's notice. The caller holds the folder's and the
// messages' locks.
func queueFlagChanges(b *pgx.Batch, folderID int64, out []FlagChange, modseq *int64) {
	ids := make([]int64, len(out))
	fl, kw, names := make([]string, len(out)), make([]string, len(out)), make([]string, len(out))
	for i, c := range out {
		ids[i] = int64(c.UID)
		fl[i], kw[i], names[i] = strings.Join(c.Flags, " "), strings.Join(c.Keywords, " "), c.NewName
	}
	b.Queue(`WITH f AS (
			UPDATE folders SET highestmodseq = highestmodseq + 1 WHERE id = $1 RETURNING highestmodseq
		), m AS (
			UPDATE messages m SET flags = string_to_array(t.fl, ' '), keywords = string_to_array(t.kw, ' '),
				filename = t.name, subdir = 'cur', modseq = f.highestmodseq
			FROM f, unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS t(uid, fl, kw, name)
			WHERE m.folder_id = $1 AND m.uid = t.uid
		)
		SELECT highestmodseq FROM f, pg_notify('`+FolderChannel+`', $6)`,
		folderID, ids, fl, kw, names, folderNotice(folderID, "flags")).QueryRow(func(row pgx.Row) error {
		return row.Scan(modseq)
	})
}

// applyFlags returns the sorted, de-duplicated result of op on have.
// Flags compare case-insensitively (RFC 3501 2.3.2); the stored spelling of
// an existing flag wins.
func applyFlags(have []string, op FlagOp, change []string) []string {
	var out []string
	switch op {
	case FlagsSet:
		out = append(out, change...)
	case FlagsAdd:
		out = append(append(out, have...), change...)
	case FlagsDel:
		for _, h := range have {
			if !slices.ContainsFunc(change, func(c string) bool { return strings.EqualFold(c, h) }) {
				out = append(out, h)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	out = slices.CompactFunc(out, strings.EqualFold)
	if out == nil {
		out = []string{}
	}
	return out
}

// IMAPFlagsWouldChange reports whether IMAPStoreFlags with these arguments
// would change any message, from one read of the rows without locks or a
// transaction. A STORE that would change nothing can skip the locked
// transaction: the read is a consistent snapshot, so answering from it
// orders the STORE at that moment, as a STORE finding the flags already
// set does. No rows (all expunged, or the folder gone) count as a change,
// so that IMAPStoreFlags reports what it reports for those.
func (s *Store) IMAPFlagsWouldChange(ctx context.Context, folderID int64, uids []uint32, op FlagOp,
	flags, keywords []string) (bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+imapMessageCols+` FROM messages
		WHERE folder_id = $1 AND uid = ANY($2) ORDER BY uid`, folderID, uidArgs(uids))
	msgs, err := collectIMAPMessages(rows, err, len(uids), "store flags: check")
	if err != nil || len(msgs) == 0 {
		return true, err
	}
	keep := func(name, _ string, _ []string) string { return name }
	return len(flagChanges(msgs, op, flags, keywords, keep)) > 0, nil
}
