package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// FolderChannel is the one NOTIFY channel for changes to folders. The
// payload is "<folder id>:<what>"; delivery sends "<id>:new". A notice is
// sent only when the transaction commits, and it is a hint: listeners must
// still poll for the truth.
const FolderChannel = "mailhost_folder"

// IndexEntry is one message file, already durable in a Maildir, to index
// and charge to its mailbox's quota.
type IndexEntry struct {
	MailboxID    int64
	Folder       string // IMAP name: "INBOX", "news", ...
	FolderID     int64  // 0 when the folder row may not exist yet: it is created
	Key          string // Maildir key; in new/ the file name too
	Size         int64
	InternalDate time.Time
	// Filename, when set, is the file's name in cur/ (a copy delivered
	// with flags, as a Sieve script's imap4flags asks); else the file is
	// new/Key.
	Filename string
	Flags    []string // system flags (\Seen ...), with Filename
	Keywords []string
}

// IndexResult says what happened to one IndexEntry.
type IndexResult struct {
	// OverQuota is set when the message would take the mailbox over its
	// quota: nothing was indexed or charged.
	OverQuota bool
	// UID is the message's UID; 0 with !OverQuota means the key was
	// already indexed (adopted by a concurrent poll), which is fine.
	UID      int64
	FolderID int64
	// UsedBytes and QuotaBytes are the mailbox's usage right after this
	// entry's charge, and its quota (0 when nothing was charged): under
	// the mailbox row's lock, so of concurrent deliveries exactly one sees
	// its charge cross a given level (quota warnings).
	UsedBytes, QuotaBytes int64
}

// Delivery is the one transaction that ends a delivery: every index row
// and quota charge, every queued message.
type Delivery struct {
	Entries []IndexEntry
	Queue   []QueuedMessage
	// OnOverQuota, when set, is called inside the transaction with the
	// indexes of the entries refused for quota, when others succeeded or
	// something was queued; the messages it returns (bounces) are queued
	// in the same transaction.
	OnOverQuota func(refused []int) []QueuedMessage
}

// DeliveryResult is the outcome of CommitDelivery.
type DeliveryResult struct {
	Entries  []IndexResult
	QueueIDs []int64 // of Delivery.Queue then of what OnOverQuota returned
}

// indexSQL indexes one message and charges its size, in one statement:
// the mailbox row is locked and checked against its quota, the folder's
// uidnext and highestmodseq are taken, the message row inserted (ON CONFLICT
// DO NOTHING: a poll may have adopted the file already), the quota charged
// only when the row went in, and the folder notice queued for commit.
// $1 mailbox, $2 size, $3 folder name, $4 key, $5 internal date, $6 subdir,
// $7 file name, $8 flags, $9 keywords.
const indexSQL = `
WITH mb AS (
	SELECT id FROM mailboxes
	WHERE id = $1 AND (quota_bytes = 0 OR used_bytes + $2 <= quota_bytes)
	FOR NO KEY UPDATE
), f AS (
	UPDATE folders SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1
	WHERE mailbox_id = $1 AND name = $3 AND EXISTS (SELECT 1 FROM mb)
	RETURNING id, uidnext - 1 AS uid, highestmodseq
), ins AS (
	INSERT INTO messages (folder_id, uid, modseq, key, subdir, filename, size, internal_date, flags, keywords)
	SELECT id, uid, highestmodseq, $4, $6, $7, $2, $5, $8, $9 FROM f
	ON CONFLICT (folder_id, key) DO NOTHING
	RETURNING folder_id, uid
), charge AS (
	UPDATE mailboxes SET used_bytes = used_bytes + $2, used_messages = used_messages + 1
	WHERE id = $1 AND EXISTS (SELECT 1 FROM ins)
	RETURNING id, used_bytes, quota_bytes
)
SELECT EXISTS (SELECT 1 FROM mb),
       coalesce((SELECT uid FROM ins), 0),
       coalesce((SELECT id FROM f), 0),
       (SELECT count(*) FROM charge),
       coalesce((SELECT used_bytes FROM charge), 0), coalesce((SELECT quota_bytes FROM charge), 0),
       (SELECT count(pg_notify('` + FolderChannel + `', folder_id::text || ':new')) FROM ins)`

const ensureFolderSQL = `
INSERT INTO folders (mailbox_id, name) VALUES ($1, $2)
ON CONFLICT (mailbox_id, name) DO NOTHING`

func queueIndex(b *pgx.Batch, e IndexEntry, r *IndexResult) {
	if e.FolderID == 0 {
		b.Queue(ensureFolderSQL, e.MailboxID, e.Folder)
	}
	subdir, filename, flags, keywords := "new", e.Key, e.Flags, e.Keywords
	if e.Filename != "" {
		subdir, filename = "cur", e.Filename
	}
	if flags == nil {
		flags = []string{}
	}
	if keywords == nil {
		keywords = []string{}
	}
	b.Queue(indexSQL, e.MailboxID, e.Size, e.Folder, e.Key, e.InternalDate, subdir, filename, flags, keywords).QueryRow(func(row pgx.Row) error {
		var ok bool
		var charged, notified int64
		if err := row.Scan(&ok, &r.UID, &r.FolderID, &charged, &r.UsedBytes, &r.QuotaBytes, &notified); err != nil {
			return err
		}
		r.OverQuota = !ok
		return nil
	})
}

// CommitDelivery indexes the delivered files, charges their quotas and
// queues the remote copies in one transaction, then (on commit) notifies
// the folders' listeners. When it returns nil the outcome is durable; an
// entry refused for quota is reported, not an error. A single entry with
// nothing to queue takes one round trip.
func (s *Store) CommitDelivery(ctx context.Context, d Delivery) (DeliveryResult, error) {
	res, err := s.CommitDeliveries(ctx, []Delivery{d})
	if err != nil {
		return DeliveryResult{}, err
	}
	return res[0], nil
}

// CommitDeliveries commits several deliveries in one transaction (group
// commit: one WAL flush for all), with CommitDelivery's guarantees for each.
// A failure fails them all; the caller may retry them one by one. Index
// statements run in mailbox id order, so that concurrent groups lock
// mailbox rows in the same order.
func (s *Store) CommitDeliveries(ctx context.Context, ds []Delivery) ([]DeliveryResult, error) {
	res := make([]DeliveryResult, len(ds))
	type stmt struct {
		e IndexEntry
		r *IndexResult
	}
	var stmts []stmt
	needTx := false
	for i, d := range ds {
		res[i] = DeliveryResult{Entries: make([]IndexResult, len(d.Entries)), QueueIDs: make([]int64, len(d.Queue))}
		for j, e := range d.Entries {
			stmts = append(stmts, stmt{e, &res[i].Entries[j]})
		}
		if d.OnOverQuota != nil && len(d.Entries)+len(d.Queue) > 1 {
			needTx = true
		}
	}
	sort.SliceStable(stmts, func(i, j int) bool { return stmts[i].e.MailboxID < stmts[j].e.MailboxID })
	b := &pgx.Batch{}
	queueGenericPlans(b)
	for _, st := range stmts {
		queueIndex(b, st.e, st.r)
	}
	for i, d := range ds {
		for j, m := range d.Queue {
			queueEnqueue(b, m, &res[i].QueueIDs[j])
		}
	}
	if !needTx {
		// A batch outside a transaction block runs as one implicit
		// transaction, committed at its end: one round trip.
		var err error
		for range maxTxAttempts { // the retry of inTx, for the implicit transaction
			if err = s.pool.SendBatch(ctx, b).Close(); !retryable(err) {
				break
			}
		}
		if err != nil {
			return nil, fmt.Errorf("store: commit delivery: %w", err)
		}
		return res, nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		bb := &pgx.Batch{}
		bounceIDs := make([][]int64, len(ds))
		for i, d := range ds {
			if d.OnOverQuota == nil {
				continue
			}
			var refused []int
			for j, r := range res[i].Entries {
				if r.OverQuota {
					refused = append(refused, j)
				}
			}
			if len(refused) == 0 || len(refused) == len(d.Entries) && len(d.Queue) == 0 {
				continue
			}
			bounces := d.OnOverQuota(refused)
			bounceIDs[i] = make([]int64, len(bounces))
			for k, m := range bounces {
				queueEnqueue(bb, m, &bounceIDs[i][k])
			}
		}
		if bb.Len() == 0 {
			return nil
		}
		if err := tx.SendBatch(ctx, bb).Close(); err != nil {
			return err
		}
		for i := range ds {
			res[i].QueueIDs = append(res[i].QueueIDs, bounceIDs[i]...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: commit delivery: %w", err)
	}
	return res, nil
}

// RolledBack reports whether a failed write (CommitDelivery, Enqueue,
// IMAPAppend, IMAPMove, ...) is certain to have changed nothing: the server
// refused a statement, the store refused the change (ErrOverQuota,
// ErrNotFound, ErrConflict), or the request never left. Other failures (a
// connection lost while committing) leave the outcome unknown.
func RolledBack(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) || pgconn.SafeToRetry(err) ||
		errors.Is(err, ErrOverQuota) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrConflict)
}
